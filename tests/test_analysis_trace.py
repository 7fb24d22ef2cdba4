from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.analysis.trace import (
    critical_path,
    summarize_trace,
    trace_steps,
    trace_tree,
    trace_view,
)
from loop_jupyter.analysis.trace import tree_self_times as self_times
from loop_jupyter.artifacts import Chart, Code, Table, TraceView
from loop_jupyter.frame import frame_from_events
from loop_jupyter.report import LoadReport
from loop_jupyter.tools import ToolContext
from tests.analysis_logs import frame, span, trace

TOOLS = [
    {"type": "function", "function": {"name": "search", "description": "web search"}},
    {"type": "function", "function": {"name": "calc", "description": "arithmetic"}},
    {"type": "function", "function": {"name": "email", "description": "send mail"}},
]


def _agent() -> pl.DataFrame:
    return frame(
        trace(
            "r",
            [
                span("r", "agent", "task", 0, 10, input="what is 2+2 and the news?", output="4; no news"),
                span(
                    "l1",
                    "plan",
                    "llm",
                    0.5,
                    2.5,
                    parent="r",
                    input={"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS},
                    metadata={"model": "gpt-4o"},
                    prompt_tokens=100,
                    completion_tokens=10,
                ),
                span("t1", "search", "tool", 2.6, 5.0, parent="r", input={"q": "news"}, error="HTTP 503 upstream"),
                span("h", "http", "function", 3.0, 4.0, parent="t1"),
                span(
                    "l2",
                    "answer",
                    "llm",
                    5.0,
                    9.0,
                    parent="r",
                    metadata={"model": "gpt-4o-mini"},
                    prompt_tokens=300,
                    completion_tokens=40,
                ),
                span("t2", "calc", "tool", 5.5, 6.0, parent="r", input={"expr": "2+2"}, output={"value": 4}),
            ],
        )
    )


def test_self_time_and_critical_path():
    tree = trace_tree(_agent(), "r")
    selfs = self_times(tree)
    # root: 10 s minus the union of [0.5,2.5] [2.6,5] [5,9] [5.5,6] = 10 - 8.4
    assert selfs["r"] == pytest.approx(1.6)
    assert selfs["t1"] == pytest.approx(1.4)  # 2.4 s minus its 1 s child
    assert selfs["l2"] == pytest.approx(4.0) and selfs["t2"] == pytest.approx(0.5)
    assert critical_path(tree) == ["r", "l1", "t1", "h", "l2"]  # calc ran in parallel with answer
    steps = trace_steps(_agent(), "r")
    assert steps.get_column("name").to_list() == ["agent", "plan", "search", "http", "answer", "calc"]
    assert steps.filter(pl.col("critical_path")).get_column("span_id").to_list() == ["r", "l1", "t1", "h", "l2"]
    assert steps.get_column("self_s").sum() == pytest.approx(10.5)  # 10 s plus the 0.5 s calc ran in parallel


def test_summary_text_and_artifacts():
    result = summarize_trace(_agent(), "r")
    assert "6 spans, 10.00 s, 2 LLM calls (450 tokens), 2 tool calls, 1 errors" in result.text
    assert "Critical path: agent → plan → search → http → answer" in result.text
    assert "Tool search" in result.text and "HTTP <n> upstream" in result.text
    llm = next(a.frame for a in result.artifacts if isinstance(a, Table) and a.title == "LLM calls")
    assert llm.select("model", "prompt_tokens", "completion_tokens", "tokens").rows() == [
        ("gpt-4o", 100, 10, 110),
        ("gpt-4o-mini", 300, 40, 340),
    ]
    tools = next(a.frame for a in result.artifacts if isinstance(a, Table) and a.title == "Tool calls")
    assert tools.select("tool", "arguments", "result", "error").rows() == [
        ("search", "news", "", "HTTP 503 upstream"),
        ("calc", "2+2", "4", ""),
    ]
    assert "<li>" in result.first(TraceView).html and result.first(Code) is not None
    assert summarize_trace(_agent(), "nope").is_error
    assert summarize_trace(ToolContext(logs=_agent(), selection=["r"])).text.startswith("Trace r:")


def test_views():
    llm = trace_view(_agent(), "r", view="llm_timeline")
    figure = llm.first(Chart).figure
    bar = figure.data[0]
    assert list(bar.x) == [2.0, 4.0] and list(bar.base) == [0.5, 5.0]
    assert list(bar.text) == ["100→10 tok", "300→40 tok"]
    assert figure.layout.title.text == "Trace r: 2 LLM calls"
    assert len(trace_view(_agent(), "r", view="waterfall").first(Chart).figure.data[0].x) == 6
    tools = trace_view(_agent(), "r", view="tools")
    table = tools.first(Table).frame
    assert table.select("tool", "available", "calls", "errors").rows() == [
        ("calc", True, 1, 0),
        ("search", True, 1, 1),
        ("email", True, 0, 0),
    ]
    assert "Never called: email" in tools.text and "<table" in tools.first(TraceView).html
    errors = trace_view(_agent(), "r", view="errors").first(Table).frame
    assert errors.select("span", "path").rows() == [("search", "agent › search")]


def test_tree_is_cycle_safe_and_keeps_orphans():
    events = [
        span("root", "root", "task", 0, 5),
        span("a", "a", "function", 1, 2, parent="b"),
        span("b", "b", "function", 1, 3, parent="a"),
        span("o", "orphan", "tool", 2, 3, parent="gone"),
        span("c", "child", "llm", 0.5, 1, parent="root"),
    ]
    for event in events:
        event["root_span_id"] = "root"
    report = LoadReport()
    logs = frame_from_events(list(enumerate(events, 1)), report)
    tree = trace_tree(logs, "root")

    def ids(node):
        yield node["span_id"]
        for child in node["children"]:
            yield from ids(child)

    all_ids = list(ids(tree))
    assert sorted(all_ids) == ["a", "b", "c", "o", "root"] and len(all_ids) == 5
    assert {c["span_id"] for c in tree["children"] if c.get("orphan")} == {"a", "o"}
    assert summarize_trace(logs, "root").text.startswith("Trace root: 5 spans")


def test_view_from_description_and_span_filter():
    from loop_jupyter.analysis.trace import infer_view

    assert infer_view("list the tools available in this trace and their outputs") == "tools"
    assert infer_view("show the errors") == "errors"
    assert infer_view("a waterfall of all spans") == "waterfall"
    assert infer_view("timeline of the LLM calls with token counts") == "llm_timeline"
    result = trace_view(_agent(), "r", description="list the tools it had")
    assert result.first(Table).title == "Tools"
    filtered = trace_view(_agent(), "r", view="waterfall", where="duration > 2")
    assert list(filtered.first(Chart).figure.data[0].x) == [10.0, 2.4, 4.0]  # agent, search, answer (plan is 2 s)


def test_asked_comes_from_the_first_llm_call_when_the_root_logged_no_input(fixtures_dir):
    # OpenTelemetry agents (agent-prism) log no input on the root span; the question is in the
    # first LLM call, whose messages carry "contents" parts.
    from loop_jupyter import load_logs

    logs = load_logs(fixtures_dir / "agent-prism")
    slowest = logs.filter(pl.col("depth") == 0).sort("duration", descending=True).get_column("root_span_id")[0]
    asked = next(
        line for line in summarize_trace(logs, root_span_id=slowest).text.splitlines() if line.startswith("Asked:")
    )
    assert len(asked) > len("Asked: ") + 20


def test_user_messages_in_every_sdk_shape():
    from loop_jupyter.analysis._across import user_messages

    assert user_messages('[{"role": "user", "content": "a"}]') == ["a"]
    assert user_messages('[{"role": "user", "contents": [{"type": "text", "text": "b"}]}]') == ["b"]
    assert user_messages('{"messages": [{"role": "user", "parts": [{"text": "c"}]}]}') == ["c"]
