from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.analysis.errors import common_errors, context_overflows, model_errors
from loop_jupyter.artifacts import Chart, Code, SqlFilter, Table
from loop_jupyter.engine import engine_for
from loop_jupyter.tools import REGISTRY

from ._analysis_logs import DAY, demo, frame, run_code, span  # noqa: F401

SDK_429 = (
    "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': "
    "'This request would exceed the rate limit for your organization'}, 'request_id': 'req_{n}'}"
)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    events = []
    for t in range(10):
        root = f"r{t}"
        events.append(span(root, root, name="agent", start=t * DAY, end=t * DAY + 5, input="hi"))
        if t in (0, 2, 4):  # same failure, varying request ids: one group of 3 spans in 3 traces
            events.append(
                span(
                    f"l{t}",
                    root,
                    root,
                    name="chat",
                    type_="llm",
                    model="gpt-4o",
                    start=t * DAY + 1,
                    error=SDK_429.replace("{n}", f"{t}a7f3c9d2e1"),
                )
            )
        if t in (0, 3):  # a string error with a quoted name and a number: 2 spans in 1 trace + 1
            events.append(
                span(
                    f"k{t}",
                    root,
                    root,
                    name="search",
                    type_="tool",
                    start=t * DAY + 2,
                    error=f"Tool 'search_{t}' failed after {t + 1} retries",
                )
            )
        if t == 0:
            events.append(
                span("k0b", root, root, name="search", type_="tool", start=3, error="Tool 'web' failed after 9 retries")
            )
        if t == 5:  # an object error
            events.append(
                span(
                    "c5",
                    root,
                    root,
                    name="chat",
                    type_="llm",
                    model="gpt-4o-mini",
                    start=t * DAY + 1,
                    tokens=(130_000, 0),
                    error={
                        "type": "invalid_request_error",
                        "message": "This model's maximum context length is 128000 tokens",
                    },
                )
            )
        if t == 6:
            events.append(
                span(
                    "o6",
                    root,
                    root,
                    name="chat",
                    type_="llm",
                    model="gpt-4o",
                    start=t * DAY + 1,
                    error="Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', "
                    "'message': 'Overloaded'}}",
                )
            )
    return frame(events)


def test_groups_mask_ids_numbers_and_quoted_names(logs: pl.DataFrame) -> None:
    result = common_errors(logs)
    groups = result.first(Table).frame
    assert groups.height == 4
    rate = groups.row(0, named=True)
    assert rate["error_type"] == "rate_limit_error"
    assert (rate["spans"], rate["traces"]) == (3, 3)
    assert rate["share_of_traces"] == pytest.approx(3 / 10)
    assert rate["example_trace_ids"] == ["r0", "r2", "r4"]
    assert rate["models"] == ["gpt-4o"] and rate["span_types"] == ["llm"]
    tool = groups.filter(pl.col("message").str.starts_with("Tool")).row(0, named=True)
    assert tool["message"] == "Tool '<name>' failed after <n> retries"
    assert (tool["spans"], tool["traces"]) == (3, 2)
    assert tool["first_seen"] == logs.filter(pl.col("id") == "k0")["start"][0]
    assert tool["last_seen"] == logs.filter(pl.col("id") == "k3")["start"][0]
    # Totals agree with a plain count of error spans.
    assert groups["spans"].sum() == logs.filter(pl.col("error").is_not_null()).height
    by_type = result.frames[1]
    assert dict(by_type.select("error_type", "spans").iter_rows()) == {
        "rate_limit_error": 3,
        None: 3,
        "invalid_request_error": 1,
        "overloaded_error": 1,
    }
    assert result.first(Chart) is not None
    assert "3 spans, 3 traces" in result.text and len(result.text) < 2500


def test_where_restricts_and_filter_reproduces(logs: pl.DataFrame) -> None:
    result = common_errors(logs, where="root_span_id IN ('r0', 'r1')")
    groups = result.first(Table).frame
    assert groups["spans"].sum() == 3  # l0, k0, k0b
    assert groups.filter(pl.col("error_type") == "rate_limit_error")["share_of_traces"][0] == pytest.approx(0.5)
    sql = result.first(SqlFilter)
    assert engine_for(logs).count(sql.sql) == sql.count == 3


def test_code_artifact_reproduces(logs: pl.DataFrame) -> None:
    result = common_errors(logs, limit=3)
    value = run_code(result.first(Code).source, logs)
    assert value.equals(result.first(Table).frame)


def test_model_errors_and_overflows(logs: pl.DataFrame) -> None:
    cats = model_errors(logs).first(Table).frame
    assert dict(cats.select("category", "spans").iter_rows()) == {
        "rate_limit": 3,
        "context_overflow": 1,
        "overloaded": 1,
    }
    by_model = model_errors(logs).frames[1]
    row = by_model.filter((pl.col("model") == "gpt-4o") & (pl.col("category") == "rate_limit")).row(0, named=True)
    assert row["llm_calls"] == 4 and row["error_rate"] == pytest.approx(3 / 4)
    over = context_overflows(logs)
    assert over.first(Table).frame.row(0, named=True)["max_prompt_tokens"] == 130_000
    assert over.frames[1]["root_span_id"].to_list() == ["r5"]


def test_no_errors() -> None:
    from ._analysis_logs import frame as make

    clean = make([span("a", "a")])
    assert common_errors(clean).text.startswith("No errors")
    assert model_errors(clean).text.startswith("No model-level errors")


def test_demo_counts_match_plain_polars(demo: pl.DataFrame) -> None:  # noqa: F811
    errs = demo.filter(pl.col("error").is_not_null())
    groups = common_errors(demo, limit=10_000).first(Table).frame
    assert groups["spans"].sum() == errs.height
    assert groups["traces"].max() <= errs["root_span_id"].n_unique()
    llm = errs.filter(pl.col("type") == "llm")
    cats = dict(model_errors(demo).first(Table).frame.select("category", "spans").iter_rows())
    assert cats["rate_limit"] == llm.filter(pl.col("error").str.contains("Error code: 429")).height
    assert cats["overloaded"] == llm.filter(pl.col("error").str.contains("Error code: 529")).height
    overflow = llm.filter(pl.col("error").str.contains("prompt is too long"))
    assert context_overflows(demo).frames[1].height == overflow.height > 0


ROUTES = [
    ("what are the most common errors?", "common_errors"),
    ("show me the failure modes", "common_errors"),
    ("are we hitting rate limits?", "model_errors"),
    ("how many 529 overloaded errors from the model?", "model_errors"),
    ("any context window overflows?", "context_overflows"),
    ("find frustrated users", "frustrated_users"),
    ("show slow requests over 60s", "slow_requests"),
    ("what makes traces slow?", "latency_patterns"),
    ("usage trends by week", "usage_trends"),
    ("how many returning users do we have?", "usage_trends"),
    ("tool health", "tool_health"),
    ("which tools are failing the most? blast radius", "tool_health"),
    ("what languages do users write in?", "detect_languages"),
    ("find non-English traces", "non_english_traces"),
    ("root cause of agent claims success but didn't deploy", "root_causes"),
    ("chart the latency histogram", "chart"),
    ("tokens over time by model", "chart"),
]


@pytest.mark.parametrize(("question", "name"), ROUTES)
def test_registered_with_schema_and_phrases(question: str, name: str) -> None:
    import re

    from loop_jupyter.analysis import charts, frustration, languages, latency, root_cause, tool_health, trends  # noqa: F401

    spec = REGISTRY[name]
    assert spec.description and spec.parameters["type"] == "object"
    for prop in spec.parameters["properties"].values():
        assert prop.get("description"), (name, prop)
    assert any(re.search(p, question, re.I) for p in spec.phrases), question


def test_real_fixture_claude_stream(fixtures_dir) -> None:
    from loop_jupyter.loaders import load_logs

    logs = load_logs(fixtures_dir / "tielec-ai-workflow")
    errs = logs.filter(pl.col("error").is_not_null())
    groups = common_errors(logs, limit=10_000).first(Table).frame
    assert groups["spans"].sum() == errs.height > 0
    # Every group's trace count is the number of distinct traces among its spans.
    assert groups["traces"].sum() >= errs["root_span_id"].n_unique()
