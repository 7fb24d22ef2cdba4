"""tau-bench loader, checked against numbers computed from the raw JSON here."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.loaders import tau_bench
from loop_jupyter.report import LoadReport


@pytest.fixture(scope="module")
def raw(fixtures_dir: Path) -> list[dict]:
    return json.loads((fixtures_dir / "tau-bench" / "gpt-4o-airline.json").read_text())


@pytest.fixture(scope="module")
def loaded(fixtures_dir: Path) -> tuple[pl.DataFrame, LoadReport]:
    report = LoadReport()
    frame = tau_bench.load(fixtures_dir / "tau-bench" / "gpt-4o-airline.json", report)
    return frame, report


def test_detect(raw: list[dict]) -> None:
    assert tau_bench.detect(raw)
    assert tau_bench.detect(raw[0])
    assert tau_bench.detect([{"role": "user", "content": "hi"}])
    assert not tau_bench.detect({"type": "assistant", "session_id": "x"})
    assert not tau_bench.detect([{"id": 1, "source": "agent", "action": "run"}])


def test_counts_match_raw(raw: list[dict], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, report = loaded
    messages = sum(len(run["traj"]) for run in raw)
    tool_messages = sum(1 for run in raw for m in run["traj"] if m["role"] == "tool")
    calls = sum(len(m.get("tool_calls") or []) for run in raw for m in run["traj"])
    assistants = sum(1 for run in raw for m in run["traj"] if m["role"] == "assistant")
    assert (len(raw), messages, calls) == (200, 5308, 1164)
    assert report.ok and report.format == "tau-bench"
    # root + every non-tool message + one span per tool call (tool results merge into it)
    assert frame.height == len(raw) + messages - tool_messages + calls
    assert frame.filter(pl.col("is_root")).height == 200
    assert frame.filter(pl.col("type") == "llm").height == assistants
    assert frame.filter(pl.col("type") == "tool").height == calls
    assert frame.get_column("id").n_unique() == frame.height


def test_parents_and_depth(loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, report = loaded
    ids = set(frame.get_column("span_id"))
    assert set(frame.get_column("parent_id").drop_nulls()) <= ids
    assert not report.warnings
    assert frame.get_column("depth").max() == 2
    tools = frame.filter(pl.col("type") == "tool")
    parents = frame.filter(pl.col("span_id").is_in(tools.get_column("parent_id").implode()))
    assert set(parents.get_column("type")) == {"llm"}


def test_tool_results_matched_by_id(raw: list[dict], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, _ = loaded
    results = {m["tool_call_id"]: m["content"] for run in raw for m in run["traj"] if m["role"] == "tool"}
    tools = frame.filter(pl.col("type") == "tool")
    outputs = {
        json.loads(meta)["tool_call_id"]: json.loads(out)
        for meta, out in zip(tools["metadata"], tools["output"], strict=True)
    }
    assert outputs == results


def test_reward_failed_and_user_cost(raw: list[dict], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, _ = loaded
    roots = frame.filter(pl.col("is_root"))
    failed = sum(1 for run in raw if run["reward"] == 0)
    assert failed == 116
    assert roots.filter(pl.col("tags").list.contains("failed")).height == failed
    rewards = sorted(json.loads(s)["reward"] for s in roots["scores"])
    assert rewards == sorted(float(run["reward"]) for run in raw)
    assert roots.get_column("error").null_count() == roots.height  # no invented error text
    costs = [run["info"]["user_cost"] for run in raw if run["info"]["user_cost"] is not None]
    assert roots.get_column("metrics").drop_nulls().len() == len(costs)
    user_cost = sum(json.loads(m)["user_cost"] for m in roots["metrics"].drop_nulls())
    assert user_cost == pytest.approx(sum(costs))
    inputs = {json.loads(i) for i in roots["input"]}
    assert inputs == {run["info"]["task"]["instruction"] for run in raw}
    # no timestamps in the source: order only, no durations
    assert frame.get_column("end").null_count() == frame.height


def test_openai_messages_file(tmp_path: Path) -> None:
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "wx", "arguments": '{"q": 1}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "wx", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."},
    ]
    path = tmp_path / "sub" / "chat.json"
    path.parent.mkdir()
    path.write_text(json.dumps(messages))
    report = LoadReport()
    frame = tau_bench.load(path, report)
    assert report.format == "openai-messages"
    assert frame.height == 1 + 4 + 1
    tool = frame.filter(pl.col("type") == "tool").row(0, named=True)
    assert json.loads(tool["output"]) == "sunny" and json.loads(tool["input"]) == {"q": 1}
    again = tau_bench.load_dir(tmp_path, LoadReport())
    assert again.get_column("id").to_list() == frame.get_column("id").to_list()
