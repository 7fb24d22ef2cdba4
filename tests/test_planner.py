"""The offline planner: phrasings → the exact rows, checked against an independent Polars computation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from loop_jupyter.agent.planner import plan
from loop_jupyter.agent.session import load_tools
from loop_jupyter.tools import REGISTRY, ToolContext, tool
from loop_jupyter.tools.core import generate_filter, run_sql
from tests.agent_fixtures import build_logs

load_tools()
LOGS = build_logs()


def _midnight(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _last_nov_1(now: datetime) -> datetime:
    """ "since Nov 1" with no year: the latest Nov 1 not after today."""
    year = now.year if (now.month, now.day) >= (11, 1) else now.year - 1
    return datetime(year, 11, 1, tzinfo=UTC)


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


totals = LOGS.group_by("root_span_id").agg(pl.col("tokens").sum())

SPAN_CASES = [
    (
        "LLM spans longer than 60 seconds in the last 5 days",
        lambda now: (
            (pl.col("type") == "llm") & (pl.col("duration") > 60) & (pl.col("created") > now - timedelta(days=5))
        ),
    ),
    ("show me tool calls over 1 minute", (pl.col("type") == "tool") & (pl.col("duration") > 60)),
    ("tool spans taking more than 1.5 minutes", (pl.col("type") == "tool") & (pl.col("duration") > 90)),
    ("spans with helpfulness below 0.3", score("Helpfulness") < 0.3),
    ("spans where the Factuality score is at least 0.9", score("Factuality") >= 0.9),
    ("gpt-5.1 spans with more than 10000 tokens", (pl.col("model") == "gpt-5.1") & (pl.col("tokens") > 10000)),
    ("LLM calls with over 10k tokens", (pl.col("type") == "llm") & (pl.col("tokens") > 10000)),
    (
        "sonnet LLM calls in the past week",
        lambda now: (
            (pl.col("type") == "llm")
            & pl.col("model").str.contains("sonnet")
            & (pl.col("created") > now - timedelta(days=7))
        ),
    ),
    ("claude-4.5-haiku spans", pl.col("model") == "claude-haiku-4-5"),
    (
        "rate limit errors since Nov 1",
        lambda now: err("rate limit", "429") & (pl.col("created") >= _last_nov_1(now)),
    ),
    (
        "timeouts in the last 3 days",
        lambda now: err("timeout", "timed out") & (pl.col("created") > now - timedelta(days=3)),
    ),
    ("context window errors", err("context window", "too long")),
    ("root spans slower than 1.5s", pl.col("is_root") & (pl.col("duration") > 1.5)),
    ("spans for Ada Lovelace with errors", (meta("user") == "Ada Lovelace") & pl.col("error").is_not_null()),
    (
        "LLM spans from yesterday",
        lambda now: (
            (pl.col("type") == "llm")
            & (pl.col("created") >= _midnight(now) - timedelta(days=1))
            & (pl.col("created") < _midnight(now))
        ),
    ),
    ("llm spans shorter than 2000ms", (pl.col("type") == "llm") & (pl.col("duration") < 2)),
    (
        "successful tool calls in the last 24 hours",
        lambda now: (
            (pl.col("type") == "tool") & pl.col("error").is_null() & (pl.col("created") > now - timedelta(hours=24))
        ),
    ),
]

TRACE_CASES = [
    ("traces where factuality score is less than 0.5", lambda _now: traces_where(score("Factuality") < 0.5)),
    ("traces for John Smith", lambda _now: traces_where(meta("user") == "John Smith")),
    (
        "show traces from user grace_h in the past 10 days",
        lambda now: traces_where((meta("user") == "grace_h") & (pl.col("created") > now - timedelta(days=10))),
    ),
    (
        "traces tagged production with errors",
        lambda _now: (
            traces_where(pl.col("tags").list.contains("production")) & traces_containing(pl.col("error").is_not_null())
        ),
    ),
    ("traces in staging", lambda _now: traces_where(pl.col("tags").list.contains("staging"))),
    ("traces with more than 20000 tokens", lambda _now: set(totals.filter(pl.col("tokens") > 20000)["root_span_id"])),
    (
        "traces with LLM spans longer than 60 seconds",
        lambda _now: traces_containing((pl.col("type") == "llm") & (pl.col("duration") > 60)),
    ),
    ("conversations with rate limit errors", lambda _now: traces_containing(err("rate limit", "429"))),
    ("requests using gpt-5.1", lambda _now: traces_containing(pl.col("model") == "gpt-5.1")),
]


def only_filter_call(question: str) -> dict:
    planned = plan(question, ToolContext(logs=LOGS))
    assert not planned.message, planned.message
    assert [c["name"] for c in planned.tool_calls] == ["generate_filter"], planned.tool_calls
    return planned.tool_calls[0]["input"]


@pytest.mark.parametrize(("question", "expected"), SPAN_CASES, ids=[c[0] for c in SPAN_CASES])
def test_span_phrasings_return_exact_rows(question: str, expected) -> None:
    # A relative window ("yesterday", "last 3 days") is read at the time of the query: the answer
    # must equal the expected rows for the clock just before or just after it ran (a run across
    # midnight, or a slow one, moves the window between import time and the query).
    before = datetime.now(UTC)
    call = only_filter_call(question)
    assert call["shape"] == "spans"
    result = generate_filter(ToolContext(logs=LOGS), **call)
    after = datetime.now(UTC)
    assert not result.is_error, result.text
    wants = [spans(expected(now) if callable(expected) else expected) for now in (before, after)]
    if not all(wants):
        # On Nov 1 itself "since Nov 1" holds nothing of the fixture yet (its first rate limit error is
        # 0.9 days old): the answer must be empty then too. Any other empty case tests nothing.
        early = question == "rate limit errors since Nov 1" and after - _last_nov_1(after) < timedelta(days=2)
        assert early, f"fixture gives no rows for {question!r}: the case tests nothing"
    found = result.artifacts[0]
    assert set(found.ids) in wants
    assert found.count == len(set(found.ids))


@pytest.mark.parametrize(("question", "expected"), TRACE_CASES, ids=[c[0] for c in TRACE_CASES])
def test_trace_phrasings_return_exact_rows(question: str, expected) -> None:
    before = datetime.now(UTC)
    call = only_filter_call(question)
    assert call["shape"] == "traces"
    result = generate_filter(ToolContext(logs=LOGS), **call)
    after = datetime.now(UTC)
    assert not result.is_error, result.text
    wants = [expected(now) for now in (before, after)]
    assert all(wants)
    assert set(result.artifacts[0].ids) in wants


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
        frame["id"].to_list()
        == LOGS.filter(pl.col("type") == "llm")
        .sort(["cost", "id"], descending=[True, False], nulls_last=True)["id"][:3]
        .to_list()
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
    # The brief's own wording.
    ("What patterns do you see in high-latency requests?", "latency_patterns", {}),
    ("classify what users are trying to do", "classify_intents", {}),
    ("Show me traces where users were frustrated.", "frustrated_users", {}),
    ("rank tools by blast radius", "tool_health", {}),
    ("Create a dataset from logs with errors", "create_dataset", {}),
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


# -- ordinary questions as users type them (terse, lowercase) ---------------------------------------------
TERSE_ROUTES = [
    ("p95 latency by model", "latency_patterns", {}),
    ("non english traces", "non_english_traces", {}),
    ("mandarin requests", "non_english_traces", {"language": "Mandarin"}),
    ("spanish traces", "non_english_traces", {"language": "Spanish"}),
    ("languages", "detect_languages", {}),
    ("show tool blast radius", "tool_health", {}),
    ("which tool fails most", "tool_health", {}),
    ("error rate by tool", "tool_health", {}),
    ("how many users came back this week", "usage_trends", {"period": "week"}),
    ("returning users", "usage_trends", {}),
    ("daily active users", "usage_trends", {"period": "day"}),
    ("error rate by day", "usage_trends", {"period": "day"}),
    ("most common errors this week", "common_errors", {"where": "created >= date_trunc('week', now())"}),
    ("what are people asking about", "classify_intents", {}),
    ("frustrated users", "frustrated_users", {}),
    ("latency histogram", "chart", {}),
    ("tokens over time by model", "chart", {}),
    ("why is the agent claiming success without doing it", "root_causes", {}),
]


@pytest.mark.parametrize(("question", "tool_name", "inputs"), TERSE_ROUTES, ids=[r[0] for r in TERSE_ROUTES])
def test_terse_questions_route_to_their_tool(demo, question: str, tool_name: str, inputs: dict) -> None:
    test_demo_questions_route_to_their_tool(demo, question, tool_name, inputs)


def _counts(frame: pl.DataFrame, key: str) -> dict:
    return dict(frame.group_by(key).len().iter_rows())


def _by(frame: pl.DataFrame, key: str, expr: pl.Expr) -> dict:
    return dict(frame.group_by(key).agg(expr).iter_rows())


def _week_start() -> datetime:
    now = datetime.now(UTC)
    return (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def _rate_limited(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(err("rate limit", "rate_limit", "ratelimit", "429", "too many requests"))


def _users(logs: pl.DataFrame) -> pl.Series:
    roots = logs.filter(pl.col("is_root"))
    return pl.coalesce(meta("user"), meta("user_id")).alias("u").pipe(roots.select)["u"]


# Each: question, the result column(s) compared, the expected value from Polars (dict group -> value,
# a list for an ordering, or a scalar).
TERSE_AGGREGATES = [
    (
        "errors by tool",
        ("tool", "n"),
        lambda logs: _counts(logs.filter((pl.col("type") == "tool") & pl.col("error").is_not_null()), "name"),
    ),
    (
        "timeouts by tool",
        ("tool", "n"),
        lambda logs: _counts(
            logs.filter((pl.col("type") == "tool") & err("timeout", "timed out", "time out", "deadline exceeded")),
            "name",
        ),
    ),
    (
        "rate limit errors by model",
        ("model", "n"),
        lambda logs: _counts(_rate_limited(logs).filter(pl.col("model").is_not_null()), "model"),
    ),
    (
        "which model has the most rate limits",
        ("model", "n"),
        lambda logs: _counts(_rate_limited(logs).filter(pl.col("model").is_not_null()), "model"),
    ),
    (
        "overloaded errors by model",
        ("model", "n"),
        lambda logs: _counts(
            logs.filter(err("overloaded", "529", "503", "unavailable") & pl.col("model").is_not_null()), "model"
        ),
    ),
    (
        "error rate by model",
        ("model", "error_rate"),
        lambda logs: _by(logs.filter(pl.col("model").is_not_null()), "model", pl.col("error").is_not_null().mean()),
    ),
    (
        "errors by model this week",
        ("model", "n"),
        lambda logs: _counts(
            logs.filter(
                pl.col("error").is_not_null() & pl.col("model").is_not_null() & (pl.col("created") >= _week_start())
            ),
            "model",
        ),
    ),
    (
        "which user has the most errors",
        ("user", "n"),
        lambda logs: _counts(  # each user's traces with an error (the user is on the root span)
            logs.filter(
                pl.col("is_root")
                & meta("user").is_not_null()
                & pl.col("root_span_id").is_in(logs.filter(pl.col("error").is_not_null())["root_span_id"].implode())
            ).with_columns(user=meta("user")),
            "user",
        ),
    ),
    (
        "top users",
        ("user", "n"),
        lambda logs: _counts(
            logs.filter(pl.col("is_root") & meta("user").is_not_null()).with_columns(user=meta("user")), "user"
        ),
    ),
    (
        "cost per day",
        ("day", "sum_cost"),
        lambda logs: _by(logs.with_columns(day=pl.col("created").dt.truncate("1d")), "day", pl.col("cost").sum()),
    ),
    (
        "which model is slowest",
        ("model", "avg_duration"),
        lambda logs: (
            logs.filter(pl.col("model").is_not_null())
            .group_by("model")
            .agg(pl.col("duration").mean())
            .sort(["duration", "model"], descending=[True, False], nulls_last=True)["model"]
            .to_list()
        ),
    ),
    (
        "slowest tools",
        ("tool", "avg_duration"),
        lambda logs: (
            logs.filter(pl.col("type") == "tool")
            .group_by("name")
            .agg(pl.col("duration").mean())
            .sort(["duration", "name"], descending=[True, False], nulls_last=True)["name"]
            .to_list()
        ),
    ),
    (
        "which model costs the most",
        ("model", "sum_cost"),
        lambda logs: (
            logs.filter(pl.col("model").is_not_null())
            .group_by("model")
            .agg(pl.col("cost").sum())
            .sort(["cost", "model"], descending=[True, False], nulls_last=True)["model"]
            .to_list()
        ),
    ),
    (
        "what's the cheapest model",
        ("model", "sum_cost"),
        lambda logs: (
            logs.filter(pl.col("model").is_not_null())
            .group_by("model")
            .agg(pl.col("cost").sum())
            .sort(["cost", "model"], nulls_last=True)["model"]
            .to_list()
        ),
    ),
    ("how many users", ("users",), lambda logs: _users(logs).drop_nulls().n_unique()),
    (
        "how many unique users this week",
        ("users",),
        lambda logs: (
            logs.filter(pl.col("is_root") & (pl.col("created") >= _week_start()))
            .select(pl.coalesce(meta("user"), meta("user_id")))
            .to_series()
            .drop_nulls()
            .n_unique()
        ),
    ),
    (
        "how many llm calls per trace",
        ("avg_llm_calls",),
        lambda logs: logs.group_by("root_span_id").agg((pl.col("type") == "llm").sum())["type"].mean(),
    ),
    (
        "average number of tool calls per trace",
        ("avg_tool_calls",),
        lambda logs: logs.group_by("root_span_id").agg((pl.col("type") == "tool").sum())["type"].mean(),
    ),
    ("how many spans per trace", ("avg_span_count",), lambda logs: logs.group_by("root_span_id").len()["len"].mean()),
    (
        "how long do deploys take",
        ("avg_duration",),
        lambda logs: logs.filter(pl.col("name") == "deploy_app")["duration"].mean(),
    ),
    ("p99 latency", ("p99_duration",), lambda logs: logs["duration"].quantile(0.99, interpolation="linear")),
]


@pytest.mark.parametrize(("question", "columns", "expected"), TERSE_AGGREGATES, ids=[c[0] for c in TERSE_AGGREGATES])
def test_terse_aggregates_match_polars(demo, question: str, columns: tuple, expected) -> None:
    logs, ctx = demo
    planned = plan(question, ctx)
    assert not planned.message, planned.message
    (call,) = planned.tool_calls
    assert call["name"] == "run_sql", call
    frame = run_sql(ctx, **call["input"]).frames[0]
    want = expected(logs)
    if not want and "this week" in question and datetime.now(UTC) - _week_start() < timedelta(hours=12):
        # Early on a Monday (UTC) this week holds no demo traffic yet: the answer must be nothing too.
        assert frame.height == 0 or frame[columns[0]][0] in (0, None), frame
        return
    assert want, f"{question!r} gives nothing on the demo logs: the case tests nothing"
    if len(columns) == 1:
        assert frame[columns[0]][0] == pytest.approx(want)
    elif isinstance(want, list):  # a ranking: the order of the groups
        assert frame[columns[0]].to_list() == want
    else:
        got = dict(zip(frame[columns[0]], frame[columns[1]], strict=True))
        if frame.height == 50 < len(want):  # the default LIMIT 50 keeps the 50 largest groups
            assert got == pytest.approx({k: want[k] for k in got})
            assert max(v for k, v in want.items() if k not in got) <= min(got.values())
        else:
            assert got == pytest.approx(want)


TERSE_FILTERS = [
    (
        "context window overflows last week",
        "spans",
        lambda logs: set(
            logs.filter(
                err(
                    "context window",
                    "context length",
                    "context_length",
                    "too long",
                    "maximum context",
                    "too many tokens",
                )
                & (pl.col("created") > datetime.now(UTC) - timedelta(days=7))
            )["id"]
        ),
    ),
    (
        "traces with more than 3 errors",
        "traces",
        lambda logs: set(
            logs.group_by("root_span_id")
            .agg(pl.col("error").is_not_null().sum())
            .filter(pl.col("error") > 3)["root_span_id"]
        ),
    ),
    (
        "conversations with over 12 llm calls",
        "traces",
        lambda logs: set(
            logs.group_by("root_span_id")
            .agg((pl.col("type") == "llm").sum())
            .filter(pl.col("type") > 12)["root_span_id"]
        ),
    ),
]


@pytest.mark.parametrize(("question", "shape", "expected"), TERSE_FILTERS, ids=[c[0] for c in TERSE_FILTERS])
def test_terse_filters_match_polars(demo, question: str, shape: str, expected) -> None:
    logs, ctx = demo
    (call,) = plan(question, ctx).tool_calls
    assert call["name"] == "generate_filter" and call["input"]["shape"] == shape
    got = set(generate_filter(ctx, **call["input"]).artifacts[0].ids)
    want = expected(logs)
    assert want and got == want


def test_why_do_deploys_fail_is_root_causes_of_failing_deploys(demo) -> None:
    logs, ctx = demo
    planned = plan("why do deploys fail", ctx)
    (call,) = planned.tool_calls
    assert call["name"] == "root_causes"
    got = set(ctx.engine.filter(call["input"]["where"], shape="traces")["root_span_id"])
    want = set(logs.filter((pl.col("name") == "deploy_app") & pl.col("error").is_not_null())["root_span_id"])
    assert want and got == want
    assert any("deploy_app" in note for note in planned.notes)


def test_a_per_period_report_says_which_row_answers(demo) -> None:
    _, ctx = demo
    planned = plan("how many users came back this week", ctx)
    assert planned.tool_calls == [{"name": "usage_trends", "input": {"period": "week"}}]
    assert planned.notes == [
        "usage_trends cannot filter by time, so it reports every week: read the row for the current week"
    ]


def test_failed_runs_include_runs_tagged_failed(fixtures_dir) -> None:
    """tau-bench marks a failed run with a tag and reward 0, not an error message."""
    import json as _json

    from loop_jupyter import load_logs
    from loop_jupyter.agent.session import Loop
    from loop_jupyter.artifacts import SqlFilter

    path = fixtures_dir / "tau-bench" / "gpt-4o-airline.json"
    failed_in_file = sum(run["reward"] == 0 for run in _json.loads(path.read_text()))
    with Loop(load_logs(path), model="offline") as loop:
        answer = loop.ask("show me failed traces")
    sql = next(a for a in answer.artifacts if isinstance(a, SqlFilter))
    assert sql.shape == "traces" and sql.count == failed_in_file == 116
