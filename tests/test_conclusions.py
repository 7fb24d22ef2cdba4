"""Issue 16: every offline analysis answer opens with its conclusion in a sentence, then the
evidence. The figures of each sentence are checked against an independent Polars computation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter import demo
from loop_jupyter.agent.session import Answer, Loop
from loop_jupyter.artifacts import SqlFilter, Table

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(2000, seed=0, now=NOW)


@pytest.fixture(scope="module")
def loop(logs: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    session = Loop(logs, model="offline", workdir=tmp_path_factory.mktemp("conclusions"))
    yield session
    session.close()


def ask(loop: Loop, question: str) -> Answer:
    """A question as the start of a conversation (earlier ones would make it a follow-up)."""
    return loop.wait(loop.edit(0, question)) if loop.history else loop.ask(question)


def opening(answer: Answer) -> str:
    return answer.text.split("\n\n", 1)[0]


def share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}"


def test_common_errors_open_with_the_top_failure(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "what are the most common errors?")
    errors = logs.filter(pl.col("error").is_not_null())
    rate = errors.filter(pl.col("error").str.contains("Error code: 429"))
    groups = next(a.frame for a in answer.artifacts if isinstance(a, Table) and a.title == "Most common errors")
    # Rate limiting is the largest group of the demo (the other groups are counted by the tool).
    assert rate.height == groups["spans"].max()
    total = logs["root_span_id"].n_unique()
    first = rate["created"].min()
    traces = rate["root_span_id"].n_unique()
    want = (
        f"Rate limiting is the top failure: {rate.height:,} spans in {traces:,} traces "
        f"({share(traces, total)} of traces), mostly in "
    )
    assert opening(answer).startswith(want), opening(answer)
    top_span = rate.group_by("name").len().sort(["len", "name"], descending=[True, False])["name"][0]
    assert f"mostly in {top_span}, since {first:%b} {first.day}, {first.year}." in opening(answer)
    overall = f"Errors overall: {errors.height:,} spans in {errors['root_span_id'].n_unique():,} of {total:,} traces"
    assert overall in opening(answer)


def test_slow_requests_open_with_how_many_and_the_slowest(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "slow requests")
    roots = logs.filter(pl.col("is_root"))
    slow = roots.filter(pl.col("duration") > 60).sort(["duration", "root_span_id"], descending=[True, False])
    want = (
        f"{slow.height:,} of {roots.height:,} traces ({share(slow.height, roots.height)}) take over 60 s; "
        f"the slowest took {slow['duration'][0]:,.1f} s"
    )
    assert opening(answer).startswith(want), opening(answer)
    # "most of it in X": the slowest trace's slowest non-root span, and its share of the trace.
    spans = logs.filter((pl.col("root_span_id") == slow["root_span_id"][0]) & ~pl.col("is_root"))
    step = spans.sort(["duration", "name"], descending=[True, False]).row(0, named=True)
    assert f", {step['duration'] / slow['duration'][0]:.0%} of it in {step['name']}." in opening(answer)


def test_an_average_by_group_names_the_highest_and_lowest(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "average latency by model")
    means = (
        logs.filter(pl.col("model").is_not_null())
        .group_by("model")
        .agg(pl.col("duration").mean(), n=pl.len())
        .sort(["duration", "model"], descending=[True, False], nulls_last=True)
    )
    top, low = means.row(0, named=True), means.row(-1, named=True)
    want = (
        f"{top['model']} has the highest average duration: {top['duration']:,.2f} s over {top['n']:,} spans, "
        f"{top['duration'] / low['duration']:.1f}× {low['model']}'s {low['duration']:,.2f} s (the lowest)."
    )
    assert opening(answer) == want


def test_a_count_by_group_names_the_largest(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "errors by model")
    counts = (
        logs.filter(pl.col("error").is_not_null() & pl.col("model").is_not_null())
        .group_by("model")
        .len()
        .sort(["len", "model"], descending=[True, False])
    )
    (first, n1), (second, n2) = counts.row(0), counts.row(1)
    total = counts["len"].sum()
    want = f"{first} has the most spans: {n1:,} of {total:,} ({share(n1, total)}), then {second} ({n2:,})"
    assert opening(answer).startswith(want), opening(answer)
    assert opening(answer).endswith(f"— {counts.height} model groups.")


def test_a_single_figure(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "how many tool calls per trace")
    traces = lj.traces(logs)
    assert (
        opening(answer)
        == f"Over {traces.height:,} traces, the average tool calls is {traces['tool_calls'].mean():,.2f}."
    )


def test_a_span_filter_says_how_many_in_how_many_traces(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "LLM spans with errors")
    rows = logs.filter(pl.col("error").is_not_null() & (pl.col("type") == "llm"))
    name, k = rows.group_by("name").len().sort(["len", "name"], descending=[True, False]).row(0)
    want = f"{rows.height:,} spans match, in {rows['root_span_id'].n_unique():,} traces; most often {name} ({k:,})."
    assert opening(answer) == want


def test_a_trace_filter_gives_its_share(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "traces with errors")
    roots = logs["root_span_id"].n_unique()
    bad = logs.filter(pl.col("error").is_not_null())["root_span_id"].n_unique()
    assert opening(answer) == f"{bad:,} of {roots:,} traces match ({share(bad, roots)})."


def test_frustrated_users_open_with_who_and_how_many(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "which users are frustrated?")
    users = next(a.frame for a in answer.artifacts if isinstance(a, Table) and a.title == "Frustrated users")
    signals = next(a.frame for a in answer.artifacts if isinstance(a, Table) and a.title == "Frustration signals")
    total = logs["root_span_id"].n_unique()
    count = int(users["frustrated_traces"].sum())
    # The tool's own line agrees with the table (the scores are the tool's; the sentence must not drift).
    assert f"{count:,} of {total:,} traces score ≥ 2 for frustration, from {users.height:,} users" in answer.text
    top = users.row(0, named=True)
    signal, n = signals.sort(["traces", "signal"], descending=[True, False]).row(0)
    want = (
        f"{users.height:,} users are frustrated in {count:,} of {total:,} traces ({share(count, total)}); "
        f"{top['user']} the most, in {top['frustrated_traces']:,} traces. The commonest signal is {signal} ({n:,} traces)."
    )
    assert opening(answer) == want


def test_root_causes_open_with_the_strongest_difference(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "what do slow traces have in common")
    symptom = next(a for a in answer.artifacts if isinstance(a, SqlFilter))
    features = next(
        a.frame for a in answer.artifacts if isinstance(a, Table) and a.title.startswith("Over-represented")
    )
    total = logs["root_span_id"].n_unique()
    slow = logs.filter(pl.col("is_root") & (pl.col("duration") > 60)).height
    assert symptom.count == slow
    top = features.row(0, named=True)
    # The top feature's shares, recomputed: the feature is in/out of the symptom traces as the table says.
    assert top["in_symptom"] / slow == pytest.approx(top["share_in_symptom"])
    assert top["in_rest"] / (total - slow) == pytest.approx(top["share_in_rest"])
    want = (
        f"The strongest difference in the {slow:,} symptom traces ({share(slow, total)} of {total:,}) is "
        f"{top['kind']}: {top['feature']} — in {top['share_in_symptom']:.1%} of them vs {top['share_in_rest']:.1%}"
    )
    assert opening(answer).startswith(want), opening(answer)


def test_one_trace_opens_with_what_stands_out(loop: Loop, logs: pl.DataFrame) -> None:
    answer = ask(loop, "show me the slowest trace")
    roots = logs.filter(pl.col("is_root"))
    slowest = roots.sort("duration", descending=True).row(0, named=True)
    p50 = roots["duration"].median()
    want = (
        f"What stands out in this trace: the trace took {slowest['duration']:,.1f} s, "
        f"{slowest['duration'] / p50:.1f}× the p50 trace ({p50:,.1f} s); the slowest of {roots.height:,} traces."
    )
    assert opening(answer).startswith(want), opening(answer)


def test_the_evidence_follows(loop: Loop, tmp_path: Path) -> None:
    """The conclusion is a first paragraph: the tool's own text is still there, after it."""
    answer = ask(loop, "slow requests")
    head, rest = answer.text.split("\n\n", 1)
    assert "take over 60 s (all traces: p50" in rest and "take over 60 s (all traces" not in head
