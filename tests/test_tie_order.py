"""Answers list rows in a total order: ties in the ranked measure break on the group value or the
row's id, whatever order the rows came in (CI failed when the demo's ties came out in another order
on another day). Each case feeds the same logs in several row orders."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from loop_jupyter.agent.planner import plan
from loop_jupyter.agent.session import load_tools
from loop_jupyter.analysis.tool_health import tool_health
from loop_jupyter.frame import frame_from_events
from loop_jupyter.report import LoadReport
from loop_jupyter.tools import ToolContext
from loop_jupyter.tools.core import run_sql
from loop_jupyter.tools.text import normalize_message

load_tools()
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _trace(root: str, children: list[dict], minute: int) -> list[dict]:
    created = T0 + timedelta(minutes=minute)
    start = created.timestamp()
    events = [
        {
            "id": root,
            "span_id": root,
            "root_span_id": root,
            "created": created.isoformat(),
            "metrics": {"start": start, "end": start + 30},
            "span_attributes": {"name": "chat", "type": "task"},
        }
    ]
    for i, child in enumerate(children):
        span = f"{root}-{child.get('id', i)}"
        events.append(
            {
                "id": span,
                "span_id": span,
                "root_span_id": root,
                "span_parents": [root],
                "created": (created + timedelta(seconds=i + 1)).isoformat(),
                "error": child.get("error"),
                "metadata": {"model": child["model"]} if "model" in child else {},
                "metrics": {
                    "start": start + i,
                    "end": start + i + child.get("seconds", 1.0),
                    **child.get("metrics", {}),
                },
                "span_attributes": {"name": child.get("name", "completion"), "type": child.get("type", "llm")},
            }
        )
    return events


def _frame(traces: list[list[dict]]) -> pl.DataFrame:
    events = [e for trace in traces for e in trace]
    return frame_from_events(list(enumerate(events, start=1)), LoadReport())


def _answer(question: str, logs: pl.DataFrame) -> pl.DataFrame:
    ctx = ToolContext(logs=logs)
    (call,) = plan(question, ctx).tool_calls
    return run_sql(ctx, **call["input"]).frames[0]


# Three models with two LLM calls each (a tie), and a fourth with one.
_MODEL_TRACES = [
    _trace(f"t-{model}", [{"model": model}, {"model": model}], minute)
    for minute, model in enumerate(["model-c", "model-a", "model-d", "model-b"])
]
_MODEL_TRACES[2] = _trace("t-model-d", [{"model": "model-d"}], 2)


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_a_count_by_group_breaks_ties_on_the_group(order: tuple[int, ...]) -> None:
    logs = _frame([_MODEL_TRACES[i] for i in order])
    got = _answer("count llm spans by model", logs)
    assert got.columns[:2] == ["model", "n"]
    assert got.rows() == [("model-a", 2), ("model-b", 2), ("model-c", 2), ("model-d", 1)]


@pytest.mark.parametrize("order", [(0, 1, 2, 3, 4), (4, 3, 2, 1, 0), (2, 4, 0, 3, 1)])
def test_a_top_n_keeps_the_same_rows_when_the_measure_ties(order: tuple[int, ...]) -> None:
    # Five LLM calls of the same cost: the top 3 are the first three by id, whatever the row order.
    cost = {"prompt_tokens": 1000, "completion_tokens": 10, "estimated_cost": 0.5}
    traces = [_trace(f"t{i}", [{"model": "m", "id": f"s{i}", "metrics": cost}], i) for i in range(5)]
    got = _answer("top 3 most expensive llm spans", _frame([traces[i] for i in order]))
    assert got["id"].to_list() == ["t0-s0", "t1-s1", "t2-s2"]


def test_tool_health_ranks_equal_failed_calls_by_error_rate() -> None:
    # 1 of 49 calls failed vs 1 of 50: the same blast radius (one failed call), so the higher error
    # rate ranks first. Computed as error_rate × calls, 1/49 × 49 is 0.9999999999999999 < 1/50 × 50,
    # and the order followed the float rounding instead.
    def tool(name: str, calls: int) -> list[dict]:
        spans = [{"type": "tool", "name": name, "error": "boom" if i == 0 else None} for i in range(calls)]
        return _trace(f"t-{name}", spans, calls)

    health = tool_health(_frame([tool("wide", 50), tool("narrow", 49)])).frames[0]
    assert health["name"].to_list() == ["narrow", "wide"]


def test_model_masks_of_equal_length_apply_in_one_order() -> None:
    # Equal-length model names were masked in set order (PYTHONHASHSEED); overlapping ones then
    # masked differently from run to run. Now: longest first, then alphabetical.
    message = pl.DataFrame({"m": ["failed on abcd-xy"]})
    for models in (["abcd-x", "bcd-xy"], ["bcd-xy", "abcd-x"]):
        got = message.select(normalize_message(pl.col("m"), models))["m"][0]
        assert got == "failed on <model>y"
