"""The offline planner on questions about one trace named by a property ("the slowest trace", "John
Smith's latest trace", "trace 5f1c0c1e"): the exact root_span_id chosen, computed here with Polars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from loop_jupyter.agent.planner import OfflineClient, plan
from loop_jupyter.agent.session import load_tools
from loop_jupyter.analysis.errors import common_errors
from loop_jupyter.analysis.trace import summarize_trace, trace_view
from loop_jupyter.artifacts import Table
from loop_jupyter.tools import ToolContext
from loop_jupyter.tools.core import generate_filter, run_sql
from tests.agent_fixtures import build_logs

load_tools()


@pytest.fixture(scope="module")
def demo() -> pl.DataFrame:
    from loop_jupyter.demo import demo_logs

    return demo_logs(n_traces=2000, seed=0)


def per_trace(logs: pl.DataFrame) -> pl.DataFrame:
    """One row per trace, computed from the spans (not from the engine's traces view)."""
    roots = logs.filter(pl.col("is_root")).select(
        "root_span_id",
        "created",
        "duration",
        user=pl.col("metadata").str.json_path_match("$.user"),
    )
    agg = logs.group_by("root_span_id").agg(
        errors=pl.col("error").is_not_null().sum(),
        tokens=pl.col("tokens").sum(),
        cost=pl.col("cost").sum(),
        spans=pl.len(),
        rate_limited=pl.col("error")
        .str.to_lowercase()
        .str.contains("rate limit|rate_limit|ratelimit|429|too many requests")
        .any(),
        gpt51=(pl.col("model") == "gpt-5.1").any(),
    )
    return roots.join(agg, on="root_span_id")


def pick(table: pl.DataFrame, column: str, *, descending: bool = True) -> str:
    """The trace with the largest (smallest) ``column``; among ties, the most recent."""
    top = table.filter(pl.col(column).is_not_null())
    best = top[column].max() if descending else top[column].min()
    tied = top.filter(pl.col(column) == best).sort(["created", "root_span_id"], descending=[True, False])
    return tied["root_span_id"][0]


def recent(table: pl.DataFrame, days: int) -> pl.DataFrame:
    return table.filter(pl.col("created") > datetime.now(UTC) - timedelta(days=days))


CASES = [
    ("summarize the slowest trace", "summarize_trace", lambda t: pick(t, "duration")),
    ("where was the time spent in the slowest trace?", "summarize_trace", lambda t: pick(t, "duration")),
    ("summarize the fastest trace", "summarize_trace", lambda t: pick(t, "duration", descending=False)),
    ("summarize the slowest trace of the last 5 days", "summarize_trace", lambda t: pick(recent(t, 5), "duration")),
    (
        "explain the tool calls in the latest trace with errors",
        "summarize_trace",
        lambda t: pick(t.filter(pl.col("errors") > 0), "created"),
    ),
    (
        "show a timeline of LLM calls with token counts for the most expensive trace",
        "trace_view",
        lambda t: pick(t, "cost"),
    ),
    (
        "list the tools available in John Smith's latest trace",
        "trace_view",
        lambda t: pick(t.filter(pl.col("user") == "John Smith"), "created"),
    ),
    ("summarize the trace with the most errors", "summarize_trace", lambda t: pick(t, "errors")),
    ("explain the trace with the most tokens", "summarize_trace", lambda t: pick(t, "tokens")),
    ("describe the trace with the most spans", "summarize_trace", lambda t: pick(t, "spans")),
    ("summarize the cheapest trace", "summarize_trace", lambda t: pick(t, "cost", descending=False)),
    ("summarize the most recent trace", "summarize_trace", lambda t: pick(t, "created")),
    ("what happened in the oldest trace", "summarize_trace", lambda t: pick(t, "created", descending=False)),
    (
        "summarize a trace with a rate limit error",
        "summarize_trace",
        lambda t: pick(t.filter(pl.col("rate_limited")), "created"),
    ),
    (
        "explain the slowest trace using gpt-5.1 in the past week",
        "summarize_trace",
        lambda t: pick(recent(t.filter(pl.col("gpt51")), 7), "duration"),
    ),
    ("show me the slowest trace", "summarize_trace", lambda t: pick(t, "duration")),
    (
        "summarize the most recent failed trace",
        "summarize_trace",
        lambda t: pick(t.filter(pl.col("errors") > 0), "created"),
    ),
    (
        "what happened in the latest successful request",
        "summarize_trace",
        lambda t: pick(t.filter(pl.col("errors") == 0), "created"),
    ),
    ("find similar traces to the slowest trace", "similar_traces", lambda t: pick(t, "duration")),
]


@pytest.mark.parametrize(("question", "tool_name", "expected"), CASES, ids=[c[0] for c in CASES])
def test_trace_references_choose_the_exact_trace(demo, question: str, tool_name: str, expected) -> None:
    ctx = ToolContext(logs=demo)
    planned = plan(question, ctx)
    assert not planned.message, planned.message
    (call,) = planned.tool_calls
    assert call["name"] == tool_name
    want = expected(per_trace(demo))
    got = call["input"].get("root_span_id") or call["input"]["trace_ids"][0]
    assert got == want
    # The answer says which trace and why.
    assert planned.notes and want in planned.notes[0]


def test_the_answer_names_the_trace_and_why(demo) -> None:
    ctx = ToolContext(logs=demo)
    question = "summarize the slowest trace of the last 5 days"
    planned = plan(question, ctx)
    want = pick(recent(per_trace(demo), 5), "duration")
    seconds = per_trace(demo).filter(pl.col("root_span_id") == want)["duration"][0]
    result = summarize_trace(ctx, **planned.tool_calls[0]["input"])
    assert result.text.startswith(f"Trace {want}:")
    client = OfflineClient(lambda: (ctx, None))
    first = client.complete("", [{"role": "user", "content": question}], [])
    (tool_call,) = first.tool_calls
    messages = [
        {"role": "user", "content": question},
        {"role": "assistant", "tool_calls": [{"name": tool_call.name, "input": tool_call.input}]},
        {"role": "tool", "results": [{"content": result.text}]},
    ]
    text = client.complete("", messages, []).text
    assert text.startswith(f"Chose the slowest trace (created in the last 5 days): {want}, {seconds:,.1f} s.")
    assert f"Trace {want}:" in text


def test_trace_views_follow_the_words(demo) -> None:
    ctx = ToolContext(logs=demo)
    (call,) = plan("list the tools available in John Smith's latest trace", ctx).tool_calls
    result = trace_view(ctx, **call["input"])
    assert not result.is_error, result.text
    assert "tool" in result.text.lower()
    (call,) = plan("show a timeline of LLM calls with token counts for the most expensive trace", ctx).tool_calls
    result = trace_view(ctx, **call["input"])
    assert not result.is_error, result.text


def test_id_prefixes(demo) -> None:
    ctx = ToolContext(logs=demo)
    ids = per_trace(demo)["root_span_id"].sort()
    target = ids[len(ids) // 2]
    prefix = target[:8]
    assert sum(i.startswith(prefix) for i in ids) == 1
    (call,) = plan(f"what happened in trace {prefix}", ctx).tool_calls
    assert call == {"name": "summarize_trace", "input": {"root_span_id": target}}
    (call,) = plan(f"traces similar to {prefix}", ctx).tool_calls
    assert call["name"] == "similar_traces" and call["input"]["trace_ids"] == [target]
    (call,) = plan(f"find similar traces to {target}", ctx).tool_calls
    assert call["input"]["trace_ids"] == [target]
    # Too short, unknown, ambiguous: said plainly, nothing runs.
    planned = plan(f"what happened in trace {target[:4]}", ctx)
    assert planned.tool_calls == [] and "at least 6 characters" in planned.message
    planned = plan("what happened in trace 0000zzzz", ctx)
    assert planned.tool_calls == [] and "no trace '0000zzzz'" in planned.message
    fixture = ToolContext(logs=build_logs())
    planned = plan("what happened in trace trace-00", fixture)
    assert planned.tool_calls == [] and "ambiguous" in planned.message


def test_this_trace_is_the_scope_or_the_selection(demo) -> None:
    ids = per_trace(demo)["root_span_id"].sort()
    ctx = ToolContext(logs=demo)
    (call,) = plan("where was the time spent in this trace", ctx, scope=ids[3]).tool_calls
    assert call == {"name": "summarize_trace", "input": {"root_span_id": ids[3]}}
    selected = ToolContext(logs=demo, selection=[ids[5], ids[6]])
    (call,) = plan("summarize the selected trace", selected).tool_calls
    assert call == {"name": "summarize_trace", "input": {"root_span_id": ids[5]}}
    planned = plan("summarize this trace", ctx)
    assert planned.tool_calls == [] and "which trace" in planned.message.lower()


def test_a_tool_across_traces_is_restricted_to_the_named_trace(demo) -> None:
    ctx = ToolContext(logs=demo)
    (call,) = plan("what are the most common errors in the trace with the most errors", ctx).tool_calls
    assert call["name"] == "common_errors"
    want = pick(per_trace(demo), "errors")
    assert call["input"]["where"] == f"root_span_id = '{want}'"
    errors = demo.filter((pl.col("root_span_id") == want) & pl.col("error").is_not_null()).height
    assert common_errors(ctx, **call["input"]).text.startswith(f"{errors:,} error spans in 1 of 1 traces")


def test_no_matching_trace_is_said(demo) -> None:
    planned = plan(
        "summarize the latest trace for user John Smith with more than 9000000 tokens", ToolContext(logs=demo)
    )
    assert planned.tool_calls == []
    assert "no trace matches" in planned.message


def test_conditions_before_the_reference_are_about_its_content(demo) -> None:
    ctx = ToolContext(logs=demo)
    latest = pick(per_trace(demo), "created")
    (call,) = plan("how many errors in the latest trace", ctx).tool_calls
    assert call["name"] == "run_sql"
    frame = run_sql(ctx, **call["input"]).frames[0]
    assert frame["n"][0] == demo.filter((pl.col("root_span_id") == latest) & pl.col("error").is_not_null()).height
    slowest = pick(per_trace(demo), "duration")
    (call,) = plan("llm calls in the slowest trace", ctx).tool_calls
    assert call["name"] == "generate_filter"
    want = set(demo.filter((pl.col("root_span_id") == slowest) & (pl.col("type") == "llm"))["id"])
    assert want and set(generate_filter(ctx, **call["input"]).artifacts[0].ids) == want


def test_a_trace_in_an_aggregate_is_any_trace(demo) -> None:
    ctx = ToolContext(logs=demo)
    (call,) = plan("what's the average cost of a request", ctx).tool_calls
    assert call["name"] == "run_sql"
    frame = run_sql(ctx, **call["input"]).frames[0]
    costs = demo.group_by("root_span_id").agg(
        pl.when(pl.col("cost").is_not_null().any()).then(pl.col("cost").sum()).alias("cost")
    )
    assert frame["avg_total_cost"][0] == pytest.approx(costs["cost"].mean())
    (call,) = plan("how many spans does a trace have on average", ctx).tool_calls
    frame = run_sql(ctx, **call["input"]).frames[0]
    assert frame["avg_span_count"][0] == pytest.approx(demo.group_by("root_span_id").len()["len"].mean())


def test_id_prefixes_that_look_like_numbers_or_status_codes(demo) -> None:
    """'4036308b' is the start of a trace id, not a 403 error; '12345678' not a number."""
    ctx = ToolContext(logs=demo)
    ids = per_trace(demo)["root_span_id"].sort().to_list()
    tricky = [i for i in ids if i[:3] in ("401", "403", "429", "503", "529") or i[:8].isdigit()]
    for target in tricky[:20]:
        prefix = target[:8]
        if sum(i.startswith(prefix) for i in ids) != 1:
            continue
        (call,) = plan(f"traces similar to {prefix}", ctx).tool_calls
        assert call["input"]["trace_ids"] == [target], prefix
        (call,) = plan(f"what happened in trace {prefix}", ctx).tool_calls
        assert call["input"]["root_span_id"] == target, prefix


def test_the_briefs_per_trace_questions_on_a_selected_trace(demo) -> None:
    ids = per_trace(demo)["root_span_id"].sort()
    selected = ToolContext(logs=demo, selection=[ids[2]])
    # The tools default to the selected trace when the question names none.
    (call,) = plan("where was the time spent?", selected).tool_calls
    assert call["name"] == "summarize_trace" and call["input"].get("root_span_id", ids[2]) == ids[2]
    assert f"Trace {ids[2]}" in summarize_trace(selected, **call["input"]).text
    (call,) = plan("explain the tool calls", selected).tool_calls
    assert call["name"] == "trace_view" and call["input"].get("root_span_id", ids[2]) == ids[2]
    view = trace_view(selected, **call["input"])
    assert not view.is_error and view.first(Table) is not None and ids[2] in view.text
    # Nothing selected and no trace named: the answer says how to name one.
    planned = plan("where was the time spent?", ToolContext(logs=demo))
    message = planned.message if not planned.tool_calls else ""
    result = "" if message else summarize_trace(ToolContext(logs=demo), **planned.tool_calls[0]["input"]).text
    assert "the slowest trace" in (message or result)
