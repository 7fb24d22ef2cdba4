"""Claude stream-json loader, checked against numbers computed from the raw JSONL here."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.loaders import claude_stream
from loop_jupyter.report import LoadReport


def _raw_sessions(root: Path) -> dict[Path, list[dict]]:
    return {
        p: [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
        for p in sorted(root.rglob("agent_log_raw.txt"))
    }


@pytest.fixture(scope="module")
def base(fixtures_dir: Path) -> Path:
    return fixtures_dir / "tielec-ai-workflow"


@pytest.fixture(scope="module")
def raw(base: Path) -> dict[Path, list[dict]]:
    return _raw_sessions(base)


@pytest.fixture(scope="module")
def loaded(base: Path) -> tuple[pl.DataFrame, LoadReport]:
    report = LoadReport()
    return claude_stream.load(base, report), report


def test_detect(raw: dict[Path, list[dict]], base: Path) -> None:
    first = next(iter(raw.values()))
    assert claude_stream.detect(first[0])
    assert claude_stream.detect(json.loads((base / "issue-396" / "metadata.json").read_text()))
    assert not claude_stream.detect({"role": "user", "content": "x"})


def test_whole_dir_counts(raw: dict[Path, list[dict]], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, report = loaded
    lines = [obj for objs in raw.values() for obj in objs]
    tool_uses = [
        b for o in lines if o["type"] == "assistant" for b in o["message"]["content"] if b.get("type") == "tool_use"
    ]
    results = [
        b for o in lines if o["type"] == "user" for b in o["message"]["content"] if b.get("type") == "tool_result"
    ]
    message_ids = {o["message"]["id"] for o in lines if o["type"] == "assistant"}
    assert (len(raw), len(tool_uses)) == (68, 590)
    assert sum(1 for b in results if b.get("is_error")) == 49
    assert report.ok and report.format == "claude-stream-json"
    roots = frame.filter(pl.col("is_root"))
    assert roots.height == 4  # one trace per workflow
    assert frame.filter(pl.col("depth") == 2).height == len(raw)  # sessions
    assert frame.filter(pl.col("type") == "llm").height == len(message_ids)
    assert frame.filter(pl.col("type") == "tool").height == len(tool_uses)
    assert frame.filter((pl.col("type") == "tool") & pl.col("error").is_not_null()).height == 49
    assert frame.filter(pl.col("error").is_not_null()).height == 49
    assert frame.filter(pl.col("name") == "compact_boundary").height == sum(
        1 for o in lines if o.get("subtype") == "compact_boundary"
    )
    assert frame.get_column("id").n_unique() == frame.height


def test_parents_depth(loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, report = loaded
    assert set(frame.get_column("parent_id").drop_nulls()) <= set(frame.get_column("span_id"))
    assert not report.warnings
    # workflow → phase → session → llm → tool
    assert frame.get_column("depth").max() == 4
    assert set(frame.filter(pl.col("depth") == 4).get_column("type")) == {"tool"}


def test_cost_tokens_duration(raw: dict[Path, list[dict]], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, _ = loaded
    results = [o for objs in raw.values() for o in objs if o["type"] == "result"]
    total = sum(r["total_cost_usd"] for r in results)
    assert frame.get_column("cost").sum() == pytest.approx(total)
    assert total == pytest.approx(40.87, abs=0.05)  # SOURCES.md's rounded figure
    sessions = frame.filter(pl.col("depth") == 2)
    assert sessions.get_column("duration").sum() == pytest.approx(
        sum(r["duration_ms"] for r in results) / 1000, abs=0.01
    )
    # per message: the last streamed usage of each message.id
    last: dict[str, dict] = {}
    for objs in raw.values():
        for o in objs:
            if o["type"] == "assistant":
                last[o["message"]["id"]] = o["message"]["usage"]
    llm = frame.filter(pl.col("type") == "llm")
    assert llm.get_column("completion_tokens").sum() == sum(u["output_tokens"] for u in last.values())
    prompt = sum(
        u["input_tokens"] + u.get("cache_read_input_tokens", 0) + u.get("cache_creation_input_tokens", 0)
        for u in last.values()
    )
    assert llm.get_column("prompt_tokens").sum() == prompt
    assert set(llm.get_column("model")) == {
        o["message"]["model"] for objs in raw.values() for o in objs if o["type"] == "assistant"
    }


def test_phases_from_metadata(base: Path, loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, _ = loaded
    phases = frame.filter(pl.col("depth") == 1)
    for issue in sorted(base.glob("issue-*")):
        state = json.loads((issue / "metadata.json").read_text())
        dirs = {d.name.split("_", 1)[1] for d in issue.iterdir() if d.is_dir()}
        root = frame.filter(pl.col("is_root") & (pl.col("name") == f"ai-workflow {issue.name}"))
        assert root.height == 1
        mine = phases.filter(pl.col("root_span_id") == root["span_id"][0])
        assert set(mine.get_column("name")) >= dirs
        for row in mine.iter_rows(named=True):
            started = state["phases"][row["name"]].get("started_at")
            if started:
                assert row["start"].isoformat().startswith(started[:19])


def test_single_issue_and_single_session(base: Path, raw: dict[Path, list[dict]]) -> None:
    report = LoadReport()
    frame = claude_stream.load(base / "issue-396", report)
    assert frame.filter(pl.col("is_root")).height == 1
    assert frame.filter(pl.col("depth") == 2).height == sum(1 for p in raw if "issue-396" in p.parts)
    log = base / "issue-396" / "06_testing" / "execute" / "agent_log_raw.txt"
    report = LoadReport()
    session = claude_stream.load(log, report)
    objs = raw[log]
    result = next(o for o in objs if o["type"] == "result")
    init = objs[0]
    root = session.filter(pl.col("is_root")).row(0, named=True)
    assert session.filter(pl.col("is_root")).height == 1
    assert root["cost"] == pytest.approx(result["total_cost_usd"])
    assert root["duration"] == pytest.approx(result["duration_ms"] / 1000)
    assert root["model"] == init["model"]
    meta = json.loads(root["metadata"])
    assert meta["claude_code_version"] == init["claude_code_version"] and meta["tools"] == init["tools"]
    assert meta["modelUsage"] == result["modelUsage"]
    assert json.loads(root["input"]) == (log.parent / "prompt.txt").read_text()
    assert json.loads(root["output"]) == result["result"]
    uses = {
        b["id"]: b for o in objs if o["type"] == "assistant" for b in o["message"]["content"] if b["type"] == "tool_use"
    }
    outs = {
        b["tool_use_id"]: b["content"]
        for o in objs
        if o["type"] == "user"
        for b in o["message"]["content"]
        if b["type"] == "tool_result"
    }
    tools = session.filter(pl.col("type") == "tool")
    assert tools.height == len(uses)
    for row in tools.iter_rows(named=True):
        assert json.loads(row["input"]) == uses[row["span_id"]]["input"]
        assert json.loads(row["output"]) == outs[row["span_id"]]
