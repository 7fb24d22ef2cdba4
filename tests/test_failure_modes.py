"""Failure modes: the failure kinds the demo generator plants come out as separate modes with the
right counts (computed here from the spans directly); Who&When modes read against the raw files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter import demo
from loop_jupyter.analysis.failure_modes import codebook, failure_modes, modes_table
from loop_jupyter.tools import ToolContext


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return lj.demo_logs(n_traces=1500, seed=3)


@pytest.fixture(scope="module")
def table(logs: pl.DataFrame) -> pl.DataFrame:
    return modes_table(logs)


def _traces(frame: pl.DataFrame) -> int:
    return frame.get_column("root_span_id").n_unique()


def test_planted_failure_kinds_are_separate_modes_with_the_right_counts(logs: pl.DataFrame, table) -> None:
    counts = dict(table.select("mode", "traces").iter_rows())
    expected = {}
    for name, marker in demo.TOOL_ERROR_MARKERS.items():
        spans = logs.filter((pl.col("name") == name) & pl.col("error").str.contains(marker, literal=True))
        (mode,) = [m for m in counts if m.startswith(f"{name}: ")]
        expected[mode] = _traces(spans)
    for kind, marker in demo.LLM_ERROR_MARKERS.items():
        spans = logs.filter((pl.col("type") == "llm") & pl.col("error").str.contains(marker, literal=True))
        expected[f"model error: {kind}"] = _traces(spans)
    roots = logs.filter(pl.col("is_root"))
    claimed = roots.filter(pl.any_horizontal(pl.col("output").str.contains(m, literal=True)
                                             for m in demo.DEPLOY_CLAIM_MARKERS))  # fmt: skip
    deployed = set(logs.filter((pl.col("name") == "deploy_app") & pl.col("error").is_null())["root_span_id"])
    expected["claims an action no tool performed: deploy"] = len(set(claimed["root_span_id"]) - deployed)
    assert all(v > 0 for v in expected.values())
    assert {m: counts.get(m) for m in expected} == expected
    assert len(expected) == 9 and table.height == 9  # nothing else, nothing merged
    failing = len(
        set(logs.filter(pl.col("error").is_not_null())["root_span_id"]) | (set(claimed["root_span_id"]) - deployed)
    )
    assert table.filter(pl.col("mode") == "model error: rate_limit")["share"].item() == pytest.approx(
        expected["model error: rate_limit"] / failing
    )


def test_first_last_seen_and_examples(logs: pl.DataFrame, table) -> None:
    row = table.filter(pl.col("mode").str.starts_with("deploy_app: ")).row(0, named=True)
    spans = logs.filter((pl.col("name") == "deploy_app") & pl.col("error").is_not_null())
    when = spans.select(pl.coalesce("start", "created")).to_series()  # when the failing span ran
    assert (row["first_seen"], row["last_seen"]) == (when.min(), when.max())
    assert len(row["examples"]) == 3 and set(row["examples"]) <= set(spans["root_span_id"])
    book = codebook(table)
    assert book.count("\n## ") == table.height and row["mode"] in book


def test_who_and_when_modes_against_the_raw_files(fixtures_dir: Path) -> None:
    base = fixtures_dir / "who-and-when" / "Who&When" / "Algorithm-Generated"
    failed_runs = 0
    for path in base.glob("*.json"):
        history = json.loads(path.read_text())["history"]
        failed_runs += any("terminal" in (m.get("name") or "").lower()
                           and re.match(r"\s*exitcode:\s*[1-9]", m["content"]) for m in history)  # fmt: skip
    table = modes_table(lj.load_logs(str(base)))
    counts = dict(table.select("mode", "traces").iter_rows())
    assert counts["Computer_terminal: exit code <n>"] == failed_runs > 0


def test_tool_and_routing(logs: pl.DataFrame) -> None:
    result = failure_modes(ToolContext(logs=logs))
    assert "failure modes over" in result.text
    loop = lj.Loop(logs, model="offline")
    try:
        for question in ("How do my agents fail?", "Build a failure taxonomy", "cluster the failures"):
            assert [c["name"] for c in loop.ask(question).tool_calls] == ["failure_modes"], question
        # "failure modes" alone keeps going to common_errors (tests/test_planner.py)
        assert [c["name"] for c in loop.ask("top failure modes").tool_calls] == ["common_errors"]
        assert [c["name"] for c in loop.ask("What are the most common errors?").tool_calls] == ["common_errors"]
    finally:
        loop.close()
