"""OpenHands loader, checked against numbers computed from the raw JSON(L) here."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.loaders import openhands
from loop_jupyter.report import LoadReport


@pytest.fixture(scope="module")
def base(fixtures_dir: Path) -> Path:
    return fixtures_dir / "openhands"


@pytest.fixture(scope="module")
def runs(base: Path) -> list[dict]:
    return [
        json.loads(line) for line in (base / "multi_swe_bench_output.jsonl").read_text().splitlines() if line.strip()
    ]


@pytest.fixture(scope="module")
def trajs(base: Path) -> dict[str, list[dict]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((base / "runtime-trajs").glob("*.json"))}


@pytest.fixture(scope="module")
def eval_frame(base: Path) -> tuple[pl.DataFrame, LoadReport]:
    report = LoadReport()
    return openhands.load(base / "multi_swe_bench_output.jsonl", report), report


def _response_ids(events: list[dict], actions_only: bool = True) -> set[str]:
    return {
        e["tool_call_metadata"]["model_response"]["id"]
        for e in events
        if "tool_call_metadata" in e and (not actions_only or "action" in e)
    }


def test_detect(runs: list[dict], trajs: dict[str, list[dict]]) -> None:
    assert openhands.detect(runs[0])
    assert all(openhands.detect(t) for t in trajs.values())
    assert not openhands.detect([{"role": "user", "content": "x"}])
    assert not openhands.detect({"history": [{"role": "user", "content": "x"}], "mistake_agent": "a"})


def test_eval_output(runs: list[dict], eval_frame: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, report = eval_frame
    assert report.ok and report.format == "openhands"
    events = sum(len(r["history"]) for r in runs)
    calls = sum(len(_response_ids(r["history"])) for r in runs)
    assert calls == sum(len(r["metrics"]["token_usages"]) for r in runs) == 105
    assert frame.height == len(runs) + events + calls
    assert frame.filter(pl.col("is_root")).height == len(runs) == 3
    assert frame.filter(pl.col("type") == "llm").height == 105
    errors = [e for r in runs for e in r["history"] if e.get("observation") == "error"]
    assert len(errors) == 2
    assert frame.filter(pl.col("name") == "observation:error").get_column("error").null_count() == 0
    failed = [r for r in runs if r["error"]]
    assert len(failed) == 1 and failed[0]["error"].startswith("RuntimeError: Agent reached maximum iteration")
    roots = frame.filter(pl.col("is_root") & pl.col("error").is_not_null())
    assert roots.get_column("name").to_list() == [failed[0]["instance_id"]]
    assert frame.filter(pl.col("error").is_not_null()).height == 3
    assert frame.get_column("id").n_unique() == frame.height


def test_tokens_and_latency(runs: list[dict], eval_frame: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, _ = eval_frame
    llm = frame.filter(pl.col("type") == "llm")
    usages = [u for r in runs for u in r["metrics"]["token_usages"]]
    assert llm.get_column("prompt_tokens").sum() == sum(u["prompt_tokens"] for u in usages)
    assert llm.get_column("completion_tokens").sum() == sum(u["completion_tokens"] for u in usages)
    # every run's accumulated usage equals the sum of its calls
    for run in runs:
        total = run["metrics"]["accumulated_token_usage"]
        assert sum(u["prompt_tokens"] for u in run["metrics"]["token_usages"]) == total["prompt_tokens"]
    latencies = {x["response_id"]: x["latency"] for r in runs for x in r["metrics"]["response_latencies"]}
    for row in llm.iter_rows(named=True):
        response_id = json.loads(row["metadata"])["response_id"]
        assert row["duration"] == pytest.approx(latencies[response_id], abs=1e-5)
    assert llm.get_column("duration").min() == pytest.approx(1.49, abs=0.01)
    assert llm.get_column("duration").max() == pytest.approx(17.63, abs=0.01)


def test_cause_links(runs: list[dict], eval_frame: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, report = eval_frame
    assert set(frame.get_column("parent_id").drop_nulls()) <= set(frame.get_column("span_id"))
    assert not report.warnings
    by_event = {}
    for row in frame.filter(~pl.col("is_root") & (pl.col("type") != "llm")).iter_rows(named=True):
        meta = json.loads(row["metadata"])
        by_event[(row["root_span_id"], meta["event_id"])] = row
    span_to_event = {row["span_id"]: key[1] for key, row in by_event.items()}
    checked = 0
    for row in by_event.values():
        meta = json.loads(row["metadata"])
        if meta.get("cause") is not None:
            assert span_to_event[row["parent_id"]] == meta["cause"]
            checked += 1
    assert checked == sum(1 for r in runs for e in r["history"] if e.get("cause") is not None)
    assert frame.get_column("depth").max() == 3  # root → llm → action → observation
    # timestamps are real: root spans cover first to last event
    for run, root in zip(runs, frame.filter(pl.col("is_root")).iter_rows(named=True), strict=True):
        assert root["start"].isoformat()[:26] == run["history"][0]["timestamp"][:26]


def test_runtime_trajs(base: Path, trajs: dict[str, list[dict]]) -> None:
    report = LoadReport()
    frame = openhands.load(base / "runtime-trajs", report)
    events = sum(len(t) for t in trajs.values())
    calls = sum(len(_response_ids(t)) for t in trajs.values())
    assert events == 36
    assert frame.height == len(trajs) + events + calls
    assert sorted(frame.filter(pl.col("is_root")).get_column("name")) == sorted(trajs)
    usage = [
        e["tool_call_metadata"]["model_response"]["usage"]
        for t in trajs.values()
        for e in t
        if "action" in e and "tool_call_metadata" in e
    ]
    seen, prompt = set(), 0
    for t in trajs.values():
        for e in t:
            if "action" in e and "tool_call_metadata" in e:
                response = e["tool_call_metadata"]["model_response"]
                if response["id"] not in seen:
                    seen.add(response["id"])
                    prompt += response["usage"]["prompt_tokens"]
    assert usage and frame.filter(pl.col("type") == "llm").get_column("prompt_tokens").sum() == prompt
    assert set(frame.get_column("parent_id").drop_nulls()) <= set(frame.get_column("span_id"))


def test_whole_dir(base: Path) -> None:
    report = LoadReport()
    frame = openhands.load_dir(base, report)
    assert frame.filter(pl.col("is_root")).height == 7
    assert frame.get_column("id").n_unique() == frame.height
