"""'slow traces' and 'tool errors' in a filter: read, not dropped (rows checked with Polars)."""

from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.agent.planner import plan
from loop_jupyter.agent.session import load_tools
from loop_jupyter.artifacts import SqlFilter
from loop_jupyter.core_tools import generate_filter
from loop_jupyter.tools import REGISTRY, ToolContext
from tests.agent_fixtures import build_logs

load_tools()
LOGS = build_logs()
ROOTS = LOGS.filter(pl.col("is_root"))


def traces_with(expr: pl.Expr) -> set[str]:
    return set(LOGS.filter(expr)["root_span_id"])


SLOW = set(ROOTS.filter(pl.col("duration") > 60)["root_span_id"])
TOOL_ERRORS = traces_with((pl.col("type") == "tool") & pl.col("error").is_not_null())
ANY_ERRORS = traces_with(pl.col("error").is_not_null())


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("slow traces with tool errors", SLOW & TOOL_ERRORS),
        ("slow traces with errors", SLOW & ANY_ERRORS),
        ("slow requests in staging", SLOW & set(ROOTS.filter(pl.col("tags").list.contains("staging"))["root_span_id"])),
    ],
)
def test_slow_and_typed_errors_filter_the_right_traces(question: str, expected: set[str]) -> None:
    assert expected and expected != set(ROOTS["root_span_id"]), "the case must select some traces, not all"
    ctx = ToolContext(logs=LOGS)
    planned = plan(question, ctx)
    assert not planned.message, planned.message
    (call,) = planned.tool_calls
    # A trace filter, or slow_requests narrowed by the rest of the question (it takes a `where`):
    # either way the filter it hands over selects exactly these traces.
    assert call["name"] in ("generate_filter", "slow_requests"), call
    if call["name"] == "generate_filter":
        assert call["input"]["shape"] == "traces"
        result = generate_filter(ctx, **call["input"])
    else:
        result = REGISTRY["slow_requests"].function(ctx, **call["input"])
    (found,) = [a for a in result.artifacts if isinstance(a, SqlFilter)]
    assert set(found.ids) == expected


@pytest.mark.parametrize(
    ("question", "tool"),
    [("show slow traces", "slow_requests"), ("slow requests", "slow_requests"), ("model errors", "model_errors")],
)
def test_the_words_still_route_to_their_tool(question: str, tool: str) -> None:
    planned = plan(question, ToolContext(logs=LOGS))
    assert [c["name"] for c in planned.tool_calls] == [tool], planned.message


def test_a_duration_given_wins_over_slow() -> None:
    ctx = ToolContext(logs=LOGS)
    planned = plan("slow traces longer than 2 minutes with errors", ctx)
    (call,) = planned.tool_calls
    result = REGISTRY[call["name"]].function(ctx, **call["input"])
    (found,) = [a for a in result.artifacts if isinstance(a, SqlFilter)]
    assert "duration > 120" in found.sql and "duration > 60" not in found.sql
