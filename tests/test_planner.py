"""The offline planner: phrasings → the exact rows, checked against an independent Polars computation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from loop_jupyter.agent.planner import plan
from loop_jupyter.agent.session import load_tools
from loop_jupyter.core_tools import generate_filter, run_sql
from loop_jupyter.tools import REGISTRY, ToolContext, tool
from tests.agent_fixtures import build_logs

load_tools()
LOGS = build_logs()
NOW = datetime.now(UTC)
TODAY = NOW.replace(hour=0, minute=0, second=0, microsecond=0)


def score(key: str) -> pl.Expr:
    return pl.col("scores").str.json_path_match(f"$.{key}").cast(pl.Float64)


def meta(key: str) -> pl.Expr:
    return pl.col("metadata").str.json_path_match(f"$.{key}")


def err(*words: str) -> pl.Expr:
    return pl.col("error").str.to_lowercase().str.contains("|".join(words))


def traces_where(expr: pl.Expr) -> set[str]:
    """Root ids of traces whose root span satisfies ``expr``."""
    return set(LOGS.filter(pl.col("is_root") & expr)["root_span_id"])


def traces_containing(expr: pl.Expr) -> set[str]:
    return set(LOGS.filter(expr)["root_span_id"])


def spans(expr: pl.Expr) -> set[str]:
    return set(LOGS.filter(expr)["id"])


recent = pl.col("created") > NOW - timedelta(days=5)
totals = LOGS.group_by("root_span_id").agg(pl.col("tokens").sum())

SPAN_CASES = [
    (
        "LLM spans longer than 60 seconds in the last 5 days",
        (pl.col("type") == "llm") & (pl.col("duration") > 60) & recent,
    ),
    ("show me tool calls over 1 minute", (pl.col("type") == "tool") & (pl.col("duration") > 60)),
    ("tool spans taking more than 1.5 minutes", (pl.col("type") == "tool") & (pl.col("duration") > 90)),
    ("spans with helpfulness below 0.3", score("Helpfulness") < 0.3),
    ("spans where the Factuality score is at least 0.9", score("Factuality") >= 0.9),
    ("gpt-5.1 spans with more than 10000 tokens", (pl.col("model") == "gpt-5.1") & (pl.col("tokens") > 10000)),
    ("LLM calls with over 10k tokens", (pl.col("type") == "llm") & (pl.col("tokens") > 10000)),
    (
        "sonnet LLM calls in the past week",
        (pl.col("type") == "llm")
        & pl.col("model").str.contains("sonnet")
        & (pl.col("created") > NOW - timedelta(days=7)),
    ),
    ("claude-4.5-haiku spans", pl.col("model") == "claude-haiku-4-5"),
    (
        "rate limit errors since Nov 1",
        err("rate limit", "429") & (pl.col("created") >= datetime(2026, 11, 1, tzinfo=UTC)),
    ),
    ("timeouts in the last 3 days", err("timeout", "timed out") & (pl.col("created") > NOW - timedelta(days=3))),
    ("context window errors", err("context window", "too long")),
    ("root spans slower than 1.5s", pl.col("is_root") & (pl.col("duration") > 1.5)),
    ("spans for Ada Lovelace with errors", (meta("user") == "Ada Lovelace") & pl.col("error").is_not_null()),
    (
        "LLM spans from yesterday",
        (pl.col("type") == "llm") & (pl.col("created") >= TODAY - timedelta(days=1)) & (pl.col("created") < TODAY),
    ),
    ("llm spans shorter than 2000ms", (pl.col("type") == "llm") & (pl.col("duration") < 2)),
    (
        "successful tool calls in the last 24 hours",
        (pl.col("type") == "tool") & pl.col("error").is_null() & (pl.col("created") > NOW - timedelta(hours=24)),
    ),
]

TRACE_CASES = [
    ("traces where factuality score is less than 0.5", lambda: traces_where(score("Factuality") < 0.5)),
    ("traces for John Smith", lambda: traces_where(meta("user") == "John Smith")),
    (
        "show traces from user grace_h in the past 10 days",
        lambda: traces_where((meta("user") == "grace_h") & (pl.col("created") > NOW - timedelta(days=10))),
    ),
    (
        "traces tagged production with errors",
        lambda: (
            traces_where(pl.col("tags").list.contains("production")) & traces_containing(pl.col("error").is_not_null())
        ),
    ),
    ("traces in staging", lambda: traces_where(pl.col("tags").list.contains("staging"))),
    ("traces with more than 20000 tokens", lambda: set(totals.filter(pl.col("tokens") > 20000)["root_span_id"])),
    (
        "traces with LLM spans longer than 60 seconds",
        lambda: traces_containing((pl.col("type") == "llm") & (pl.col("duration") > 60)),
    ),
    ("conversations with rate limit errors", lambda: traces_containing(err("rate limit", "429"))),
    ("requests using gpt-5.1", lambda: traces_containing(pl.col("model") == "gpt-5.1")),
]


def only_filter_call(question: str) -> dict:
    planned = plan(question, ToolContext(logs=LOGS))
    assert not planned.message, planned.message
    assert [c["name"] for c in planned.tool_calls] == ["generate_filter"], planned.tool_calls
    return planned.tool_calls[0]["input"]


@pytest.mark.parametrize(("question", "expected"), SPAN_CASES, ids=[c[0] for c in SPAN_CASES])
def test_span_phrasings_return_exact_rows(question: str, expected: pl.Expr) -> None:
    call = only_filter_call(question)
    assert call["shape"] == "spans"
    result = generate_filter(ToolContext(logs=LOGS), **call)
    assert not result.is_error, result.text
    want = spans(expected)
    assert want, f"fixture gives no rows for {question!r}: the case tests nothing"
    found = result.artifacts[0]
    assert set(found.ids) == want
    assert found.count == len(want)


@pytest.mark.parametrize(("question", "expected"), TRACE_CASES, ids=[c[0] for c in TRACE_CASES])
def test_trace_phrasings_return_exact_rows(question: str, expected) -> None:
    call = only_filter_call(question)
    assert call["shape"] == "traces"
    result = generate_filter(ToolContext(logs=LOGS), **call)
    assert not result.is_error, result.text
    want = expected()
    assert want
    assert set(result.artifacts[0].ids) == want


@pytest.mark.parametrize(
    ("question", "must_mention"),
    [
        ("traces with low factuality", "Factuality"),
        ("what is the weather in paris", "weather"),
        ("spans where sentiment is negative", "sentiment"),
        ("traces with score above 0.8", "which score"),
        ("llm spans for user bob", "bob"),
        ("spans where correctness is below 0.5", "correctness"),
        ("opus spans", "opus"),
    ],
)
def test_unparseable_is_said_plainly_and_nothing_runs(question: str, must_mention: str) -> None:
    planned = plan(question, ToolContext(logs=LOGS))
    assert planned.tool_calls == []
    assert must_mention.lower() in planned.message.lower()
    assert "did not run" in planned.message or "connect a model" in planned.message


def test_average_by_model_matches_polars() -> None:
    planned = plan("average latency by model for LLM spans", ToolContext(logs=LOGS))
    (call,) = planned.tool_calls
    assert call["name"] == "run_sql"
    frame = run_sql(ToolContext(logs=LOGS), **call["input"]).frames[0]
    want = LOGS.filter(pl.col("type") == "llm").group_by("model").agg(pl.col("duration").mean(), pl.len())
    got = dict(zip(frame["model"], frame["avg_duration"], strict=True))
    assert got == pytest.approx(dict(zip(want["model"], want["duration"], strict=True)))


def test_p95_and_top_n() -> None:
    ctx = ToolContext(logs=LOGS)
    (call,) = plan("p95 duration of tool spans", ctx).tool_calls
    frame = run_sql(ctx, **call["input"]).frames[0]
    durations = LOGS.filter(pl.col("type") == "tool")["duration"]
    assert frame["p95_duration"][0] == pytest.approx(durations.quantile(0.95, interpolation="linear"))
    (call,) = plan("top 3 most expensive llm spans", ctx).tool_calls
    frame = run_sql(ctx, **call["input"]).frames[0]
    assert (
        frame["id"].to_list() == LOGS.filter(pl.col("type") == "llm").sort("cost", descending=True)["id"][:3].to_list()
    )


def test_routes_to_registered_tools_and_fills_parameters_by_name() -> None:
    calls: list[dict] = []

    @tool(name="zz_test_latency_tool", phrases=(r"\bzebra latency\b",))
    def zz_tool(ctx: ToolContext, where: str | None = None, threshold_s: float = 10.0, limit: int = 5):
        """Test tool."""
        calls.append({"where": where, "threshold_s": threshold_s, "limit": limit})
        return run_sql(ctx, "SELECT 1 AS one")

    try:
        planned = plan(
            "zebra latency for the top 7 LLM spans longer than 30 seconds in the last 5 days", ToolContext(logs=LOGS)
        )
        (call,) = planned.tool_calls
        assert call["name"] == "zz_test_latency_tool"
        # The duration went to threshold_s (the tool's own parameter), the rest into where.
        assert call["input"] == {
            "where": "created > now() - interval 5 day AND type = 'llm'",
            "threshold_s": 30.0,
            "limit": 7,
        }
    finally:
        REGISTRY.pop("zz_test_latency_tool")


def test_routed_tool_without_where_falls_back_to_the_filter() -> None:
    @tool(name="zz_test_unfiltered", phrases=(r"\bgiraffe report\b",))
    def zz_tool(ctx: ToolContext, limit: int = 5):
        """Test tool."""
        return run_sql(ctx, "SELECT 1 AS one")

    try:
        # Conditions the tool cannot take must not be silently dropped.
        planned = plan("giraffe report for LLM spans with errors", ToolContext(logs=LOGS))
        assert [c["name"] for c in planned.tool_calls] != ["zz_test_unfiltered"]
        planned = plan("giraffe report", ToolContext(logs=LOGS))
        assert planned.tool_calls == [{"name": "zz_test_unfiltered", "input": {}}]
        # Only the tool could answer, and it cannot take the time window: say so, run nothing.
        planned = plan("giraffe report this week", ToolContext(logs=LOGS))
        assert planned.tool_calls == [] and "cannot be restricted to: created this week" in planned.message
    finally:
        REGISTRY.pop("zz_test_unfiltered")


def test_trace_scope_is_filled() -> None:
    planned = plan("summarize this trace", ToolContext(logs=LOGS), scope="trace-003")
    assert planned.tool_calls
    assert "trace-003" in json.dumps(planned.tool_calls)


def test_read_and_grep_intents() -> None:
    ctx = ToolContext(logs=LOGS)
    assert plan("read the output of span trace-001-s0", ctx).tool_calls == [
        {"name": "read_field", "input": {"span_id": "trace-001-s0", "field": "output"}}
    ]
    (call,) = plan("grep 'about refunds' in the input", ctx).tool_calls
    assert call == {"name": "grep_field", "input": {"pattern": "about\\ refunds", "field": "input"}}


def test_bare_trace_ids_fill_list_parameters() -> None:
    @tool(name="zz_test_like", phrases=(r"\bokapi (traces?|to)\b",))
    def zz_tool(ctx: ToolContext, trace_ids: list[str] | None = None, limit: int = 5):
        """Test tool."""
        return run_sql(ctx, "SELECT 1 AS one")

    try:
        planned = plan("okapi to trace-007", ToolContext(logs=LOGS))
        assert planned.tool_calls == [{"name": "zz_test_like", "input": {"trace_ids": ["trace-007"]}}]
        # An id that is not in the logs is not taken for one.
        assert plan("okapi to trace-999", ToolContext(logs=LOGS)).tool_calls == []
    finally:
        REGISTRY.pop("zz_test_like")


# -- the analysis tools' questions on the demo logs (exact counts from Polars) -----------------------------
@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, ToolContext]:
    from loop_jupyter.demo import demo_logs

    logs = demo_logs(n_traces=2000, seed=0)
    return logs, ToolContext(logs=logs)


ROUTES = [
    ("What are the most common errors?", "common_errors", {}),
    ("top errors", "common_errors", {}),
    ("most frequent failures", "common_errors", {}),
    ("top failure modes", "common_errors", {}),
    ("week over week trends", "usage_trends", {"period": "week"}),
    ("how did usage change week over week", "usage_trends", {"period": "week"}),
    ("weekly active users", "usage_trends", {"period": "week"}),
    ("error rate trend by week", "usage_trends", {"period": "week"}),
    ("how many traces per week", "usage_trends", {"period": "week"}),
    ("show usage trends", "usage_trends", {}),
    ("success rate of tools week over week", "tool_health", {}),
    ("which tools have the highest error rate", "tool_health", {}),
    ("blast radius of tools", "tool_health", {}),
    ("which tools fail the most", "tool_health", {}),
    ("classify user intents", "classify_intents", {}),
    ("what are users trying to do", "classify_intents", {}),
    ("intent distribution", "classify_intents", {}),
    ("find slow requests", "slow_requests", {}),
    ("where does the time go", "latency_patterns", {}),
    ("model errors", "model_errors", {}),
    ("what languages are users writing in", "detect_languages", {}),
    ("find non-English traces", "non_english_traces", {}),
    ("which users are frustrated", "frustrated_users", {}),
    ("list my datasets", "list_datasets", {}),
    ("run the scorer", "run_scorer", {}),
    ("error rate over time", "chart", {}),
]


@pytest.mark.parametrize(("question", "tool_name", "inputs"), ROUTES, ids=[r[0] for r in ROUTES])
def test_demo_questions_route_to_their_tool(demo, question: str, tool_name: str, inputs: dict) -> None:
    _, ctx = demo
    planned = plan(question, ctx)
    assert not planned.message, planned.message
    (call,) = planned.tool_calls
    assert call["name"] == tool_name
    assert {k: v for k, v in call["input"].items() if k in inputs} == inputs


def _error_groups(spans: pl.DataFrame) -> int:
    return spans.filter(pl.col("error").is_not_null())["root_span_id"].n_unique()


@pytest.mark.parametrize(
    ("question", "traces_expr"),
    [
        ("What are the most common errors?", None),
        ("what errors happen most in the last 7 days", "recent"),
        ("common errors for gpt-5.1", "gpt"),
    ],
)
def test_common_errors_questions_give_the_real_groups(demo, question: str, traces_expr: str | None) -> None:
    from loop_jupyter.analysis.errors import common_errors

    logs, ctx = demo
    (call,) = plan(question, ctx).tool_calls
    assert call["name"] == "common_errors"
    roots = logs.filter(pl.col("is_root"))
    if traces_expr == "recent":
        roots = roots.filter(pl.col("created") > datetime.now(UTC) - timedelta(days=7))
    elif traces_expr == "gpt":
        roots = roots.filter(
            pl.col("root_span_id").is_in(logs.filter(pl.col("model") == "gpt-5.1")["root_span_id"].implode())
        )
    spans_in = logs.filter(pl.col("root_span_id").is_in(roots["root_span_id"].implode()))
    result = common_errors(ctx, **call["input"])
    assert not result.is_error, result.text
    want_spans = spans_in.filter(pl.col("error").is_not_null()).height
    if want_spans == 0:
        assert result.text.startswith("No errors in")
        return
    assert result.text.startswith(
        f"{want_spans:,} error spans in {_error_groups(spans_in):,} of {roots.height:,} traces"
    ), result.text[:200]


def test_root_causes_where_is_on_the_traces_view(demo) -> None:
    logs, ctx = demo
    (call,) = plan("what causes errors in app_version 2.8.0", ctx).tool_calls
    assert call["name"] == "root_causes"
    got = set(ctx.engine.filter(call["input"]["where"], shape="traces")["root_span_id"])
    version = pl.col("metadata").str.json_path_match("$.app_version") == "2.8.0"
    want = set(logs.filter(version)["root_span_id"]) & set(logs.filter(pl.col("error").is_not_null())["root_span_id"])
    assert want and got == want


@pytest.mark.parametrize(
    ("question", "check"),
    [
        ("how many traces are there", lambda logs, f: f["n"][0] == logs["root_span_id"].n_unique()),
        (
            "what is the error rate",
            lambda logs, f: f["error_rate"][0] == pytest.approx(logs["error"].is_not_null().mean()),
        ),
        (
            "errors by app version",
            lambda logs, f: (
                dict(zip(f["app_version"], f["n"], strict=True))
                == dict(
                    logs.filter(pl.col("is_root"))
                    .filter(
                        pl.col("root_span_id").is_in(
                            logs.filter(pl.col("error").is_not_null())["root_span_id"].implode()
                        )
                    )
                    .group_by(pl.col("metadata").str.json_path_match("$.app_version"))
                    .len()
                    .iter_rows()
                )
            ),
        ),
        (
            "tokens by model",
            lambda logs, f: (
                dict(zip(f["model"], f["sum_tokens"], strict=True)) | {None: None}
                == dict(
                    logs.filter(pl.col("model").is_not_null()).group_by("model").agg(pl.col("tokens").sum()).iter_rows()
                )
                | {None: None}
            ),
        ),
        (
            "show me errors from deploy_app",
            None,
        ),
    ],
)
def test_aggregates_and_names_on_demo_logs(demo, question: str, check) -> None:
    logs, ctx = demo
    (call,) = plan(question, ctx).tool_calls
    if check is None:  # a filter on a span name the logs know
        assert call["name"] == "generate_filter"
        got = generate_filter(ctx, **call["input"]).artifacts[0]
        want = logs.filter((pl.col("name") == "deploy_app") & pl.col("error").is_not_null()).height
        assert want and got.count == want
        return
    assert call["name"] == "run_sql"
    frame = run_sql(ctx, **call["input"]).frames[0]
    assert check(logs, frame), frame
