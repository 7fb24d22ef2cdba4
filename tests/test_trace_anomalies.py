"""Issue 16: the single-trace summary names what is anomalous in the trace against the rest of the
logs — a span many times its name's p50, a retry storm, an error swallowed — each checked against
an independent computation (Polars medians, a run-length count in plain Python)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.analysis.trace import summarize_trace
from loop_jupyter.artifacts import Table
from loop_jupyter.tools import ToolContext
from tests.helpers import frame_of, span

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(1500, seed=3, now=NOW)


def anomalies(result) -> pl.DataFrame:
    return next(a.frame for a in result.artifacts if isinstance(a, Table) and a.title.startswith("Anomalies"))


def test_a_span_far_over_its_names_p50_is_named(logs: pl.DataFrame) -> None:
    p50 = (
        logs.filter(pl.col("duration").is_not_null())
        .group_by("name", "type")
        .agg(p50=pl.col("duration").median(), peers=pl.len())
    )
    slow = (
        logs.filter(~pl.col("is_root") & (pl.col("duration") >= 1))
        .join(p50, on=["name", "type"])
        .filter(pl.col("peers") >= 5)
        .with_columns(ratio=pl.col("duration") / pl.col("p50"))
        .filter(pl.col("ratio") >= 10)
        .sort(["ratio", "span_id"], descending=[True, False])
    )
    assert slow.height, "no span 10× its p50 in the demo: the case tests nothing"
    top = slow.row(0, named=True)
    result = summarize_trace(logs, top["root_span_id"])
    line = f"slow span: {top['name']} took {top['duration']:,.1f} s, {top['ratio']:,.0f}× its p50 across the logs"
    assert line in result.text
    assert f"({top['p50']:,.2f} s over {top['peers']:,} {top['name']} spans)" in result.text
    # Every slow span of that trace is in the table, none other.
    want = set(slow.filter(pl.col("root_span_id") == top["root_span_id"])["span_id"])
    got = anomalies(result).filter(pl.col("kind") == "slow span")
    assert set(got["span_id"]) == want


def test_a_trace_in_scope_is_compared_with_all_the_logs(logs: pl.DataFrame) -> None:
    """Scoped to one trace, the p50 still comes from every trace (not from the trace itself)."""
    root = logs.filter(pl.col("is_root")).sort("duration", descending=True)["root_span_id"][0]
    unscoped = ToolContext(logs=logs)
    scoped = ToolContext(logs=logs.filter(pl.col("root_span_id") == root), unscoped=unscoped)
    assert anomalies(summarize_trace(scoped, root)).equals(anomalies(summarize_trace(unscoped, root)))
    assert "slow trace: the trace took" in summarize_trace(scoped, root).text
    assert f"the slowest of {logs.filter(pl.col('is_root')).height:,} traces" in summarize_trace(scoped, root).text


def _runs(frame: pl.DataFrame) -> list[tuple[str, str, int, int, str]]:
    """(root, name, length, failed, type) of runs of the same tool/LLM call in a row under one parent."""
    calls = frame.filter(pl.col("type").is_in(["tool", "llm"]) & ~pl.col("is_root")).sort(
        "root_span_id", "parent_id", "start", "span_id"
    )
    out = []
    for (root, _parent), group in itertools.groupby(
        calls.iter_rows(named=True), lambda r: (r["root_span_id"], r["parent_id"])
    ):
        for name, run in itertools.groupby(group, lambda r: r["name"]):
            run = list(run)
            out.append((root, name, len(run), sum(r["error"] is not None for r in run), run[0]["type"]))
    return out


def test_a_retry_storm_is_named(logs: pl.DataFrame) -> None:
    storms = sorted((r for r in _runs(logs) if r[2] >= 3 and (r[4] == "tool" or r[3] >= 2)), key=lambda r: -r[2])
    assert storms, "no retry storm in the demo: the case tests nothing"
    root, name, length, failed, _ = storms[0]
    text = summarize_trace(logs, root).text
    assert f"retry storm: {name} called {length} times in a row" + (f" ({failed} failed)" if failed else "") in text


def test_a_swallowed_error_is_named(logs: pl.DataFrame) -> None:
    roots = logs.filter(pl.col("is_root") & pl.col("error").is_null())["root_span_id"]
    failed = logs.filter(
        ~pl.col("is_root") & pl.col("error").is_not_null() & pl.col("root_span_id").is_in(roots.implode())
    )
    counts = failed.group_by("root_span_id").len().sort("len", descending=True)
    root, n = counts.row(0)
    text = summarize_trace(logs, root).text
    assert f"swallowed error: {n} span{'s' if n > 1 else ''} failed (" in text
    # A trace whose root carries the error does not say so.
    loud = logs.filter(pl.col("is_root") & pl.col("error").is_not_null())["root_span_id"]
    if loud.len():
        assert "swallowed" not in summarize_trace(logs, loud[0]).text


def test_synthetic_retry_storm_and_quiet_trace() -> None:
    """Hand-made logs: one trace calls search 4 times in a row (3 failing) under its agent span;
    twenty quiet traces call it once each."""
    events = []
    for i in range(20):
        r = f"q{i}"
        events += [span(r, r, name="agent", type="task", start=100.0 * i, end=100.0 * i + 2),
                   span(f"{r}-s", r, r, name="search", type="tool", start=100.0 * i + 0.5, end=100.0 * i + 1)]  # fmt: skip
    events.append(span("s", "s", name="agent", type="task", start=5000.0, end=5004.5))
    for k in range(4):
        error = {"error": "TimeoutError: search timed out"} if k < 3 else {}
        events.append(span(f"s-{k}", "s", "s", name="search", type="tool", start=5000.0 + k, end=5000.5 + k, **error))
    logs = frame_of(events)
    storm = summarize_trace(logs, "s")
    assert "retry storm: search called 4 times in a row (3 failed)" in storm.text
    assert "swallowed error: 3 spans failed (search; first: TimeoutError: search timed out)" in storm.text
    quiet = summarize_trace(logs, "q3")
    assert "Nothing anomalous against the rest of the logs" in quiet.text and anomalies(quiet).height == 0


def test_an_agents_loop_of_model_calls_is_no_storm(fixtures_dir) -> None:
    """OpenHands: the model is called 30+ times in a row under the agent (its tools hang below each
    call). That is the agent's loop, not a retry storm."""
    import loop_jupyter as lj

    logs = lj.load_logs(fixtures_dir / "openhands" / "multi_swe_bench_output.jsonl")
    runs = [r for r in _runs(logs) if r[4] == "llm" and r[2] >= 10 and r[3] < 2]
    assert runs, "no long run of model calls in the fixture: the case tests nothing"
    text = summarize_trace(logs, runs[0][0]).text
    assert f"{runs[0][1]} called {runs[0][2]} times in a row" not in text
