"""Synthetic production logs of a multi-agent app-building assistant, with known patterns to find.

Users ask the assistant to build internal tools (dashboards, SQL, forms, workflows). Each trace is
one conversation turn, up to five levels deep::

    turn (task, depth 0)
    ├── intent_classifier (classifier, 1) ── LLM call (llm, 2)
    ├── planner / worker agent / reviewer (function | task, 1)
    │   ├── LLM calls (llm, 2), retried as sibling spans after model errors
    │   └── tool calls (tool, 2)
    │       ├── nested LLM (llm, 3) ── parse function (function, 4)
    │       └── functions (function, 3)

The patterns below occur at the documented rates (module constants), so tests and demos can check
that an analysis finds them. Generation is columnar (numpy for structure and timing, Polars string
ops for JSON text), so a million spans take seconds; the result equals what loading the JSONL
written by :func:`write_demo_jsonl` gives.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from . import demo_text as tx
from .schema import SCHEMA

# ---------------------------------------------------------------- documented rates and settings

#: Days of history before ``now``.
DAYS = 30
#: Average spans per trace (measured 18.59-18.64 over 50k traces, seeds 0-2); 1M spans ≈ 54k traces.
AVG_SPANS_PER_TRACE = 18.6
#: Deepest span depth (root is 0).
MAX_DEPTH = 4

INTENTS = tx.INTENTS
#: Share of traces per ``metadata.intent``.
INTENT_WEIGHTS: dict[str, float] = {
    "build_dashboard": 0.25,
    "write_sql": 0.22,
    "create_form": 0.14,
    "debug_error": 0.15,
    "connect_datasource": 0.10,
    "automate_workflow": 0.14,
}

#: model -> (provider, median time to first token s, output tokens/s, $ per M input, $ per M output)
MODELS: dict[str, tuple[str, float, float, float, float]] = {
    "claude-4.5-sonnet": ("anthropic", 1.1, 75.0, 3.0, 15.0),
    "claude-4.5-haiku": ("anthropic", 0.45, 160.0, 1.0, 5.0),
    "claude-4.5-opus": ("anthropic", 1.9, 48.0, 5.0, 25.0),
    "claude-4-sonnet": ("anthropic", 1.3, 65.0, 3.0, 15.0),
    "claude-4.1-opus": ("anthropic", 2.4, 36.0, 15.0, 75.0),
    "gpt-5.1": ("openai", 1.7, 85.0, 1.25, 10.0),
    "gpt-5.2": ("openai", 2.0, 80.0, 1.75, 14.0),
}
MODEL_NAMES = tuple(MODELS)
#: Share of traces whose agents run on each model (the classifier and tool-internal calls differ).
AGENT_MODEL_WEIGHTS: dict[str, float] = {
    "claude-4.5-sonnet": 0.38,
    "claude-4.5-haiku": 0.05,
    "claude-4.5-opus": 0.12,
    "claude-4-sonnet": 0.15,
    "claude-4.1-opus": 0.05,
    "gpt-5.1": 0.15,
    "gpt-5.2": 0.10,
}
CLASSIFIER_MODELS = ("claude-4.5-haiku", "gpt-5.1")
NESTED_MODEL = "claude-4.5-haiku"

#: Probability that one call of a tool fails, with its error message (ids/numbers vary per span):
#: query_database "SQL syntax error ...", fetch_url "Timeout: GET ... did not respond within 10000 ms",
#: create_component "ValidationError: ...", deploy_app "PermissionDenied: ... (HTTP 403)".
TOOL_ERROR_RATES: dict[str, float] = {
    "query_database": 0.12,
    "fetch_url": 0.10,
    "create_component": 0.07,
    "deploy_app": 0.15,
}
#: Substring that identifies each tool error kind in the ``error`` field.
TOOL_ERROR_MARKERS: dict[str, str] = {
    "query_database": "SQL syntax error",
    "fetch_url": "did not respond within",
    "create_component": "ValidationError",
    "deploy_app": "PermissionDenied",
}
#: Probability that one LLM request (any LLM span) fails with each model error; a failed request is
#: followed by a retry as a sibling LLM span (at most :data:`MAX_RETRIES` failures in a row), so
#: these are also the shares of LLM spans carrying each error.
LLM_ERROR_RATES: dict[str, float] = {
    "rate_limit": 0.025,  # "Error code: 429 ... 'rate_limit_error'"
    "overloaded": 0.012,  # "Error code: 529 ... 'overloaded_error'"
    "context_overflow": 0.004,  # "prompt is too long: 215000 tokens > 200000 maximum"
    "timeout": 0.005,  # "APITimeoutError: Request timed out"
}
LLM_ERROR_MARKERS: dict[str, str] = {
    "rate_limit": "rate_limit_error",
    "overloaded": "overloaded_error",
    "context_overflow": "prompt is too long",
    "timeout": "Request timed out",
}
MAX_RETRIES = 3

#: Share of traces whose root lasts longer than :data:`SLOW_TRACE_SECONDS` (all others stay below
#: 58 s); the extra time sits in the tool calls.
SLOW_TRACE_RATE = 0.03
SLOW_TRACE_SECONDS = 60.0
#: Share of traces from frustrated users (multi-turn root input whose last user message contains one
#: of ``demo_text.FRUSTRATIONS_EN``; 30% of them in ALL CAPS, 25% with mild profanity).
FRUSTRATED_RATE = 0.06
FRUSTRATED_CAPS_RATE = 0.3
FRUSTRATED_PROFANITY_RATE = 0.25
#: Share of the other traces that are multi-turn with a neutral follow-up.
MULTI_TURN_RATE = 0.15
#: Share of traces whose user writes Mandarin.
MANDARIN_RATE = 0.04
#: Share of traces from "John Smith"; the other 50 users follow a Zipf-like law.
JOHN_SMITH_RATE = 0.03
N_USERS = 51
#: Share of traces tagged "staging" (the rest "production"), and additionally "beta".
STAGING_RATE = 0.15
BETA_RATE = 0.08
#: Share of traces with a reviewer agent after the worker.
REVIEWER_RATE = 0.25

#: Intents that build something deployable, and the share of those where the user asks to deploy.
DEPLOYABLE_INTENTS = ("build_dashboard", "create_form", "automate_workflow")
DEPLOY_REQUEST_RATE = 0.5
#: App versions over time: older than 20 days "2.7.3"; 8-20 days the bad "2.8.0" (85%, the rest
#: still "2.7.3"); the last 8 days "2.8.1"; traces tagged "beta" run "2.9.0b1".
BAD_APP_VERSION = "2.8.0"
#: Share of traces whose deploy-capable agents (app_builder, workflow_agent) lack ``deploy_app`` in
#: ``metadata.tools``: in the bad version, and elsewhere.
MISSING_DEPLOY_TOOL_RATE_BAD = 0.7
MISSING_DEPLOY_TOOL_RATE_OTHER = 0.01
#: When deploy was asked for and the tool is missing, share of traces where the agent nevertheless
#: answers "I've deployed your app ..." (no deploy_app span exists); the rest say it cannot deploy.
FALSE_DEPLOY_CLAIM_RATE = 0.9
#: Every claim of a deploy in a root output (true or false) contains one of these.
DEPLOY_CLAIM_MARKERS = ("I've deployed", "我已经部署了")

#: agent -> (span type, min steps, max steps, tools it may call besides deploy_app)
AGENTS: dict[str, tuple[str, int, int, tuple[str, ...]]] = {
    "planner": ("function", 1, 2, ("search_docs",)),
    "app_builder": ("task", 3, 6, ("list_tables", "query_database", "create_component", "fetch_url")),
    "sql_agent": ("task", 2, 6, ("list_tables", "query_database", "generate_sql")),
    "debugger": ("task", 2, 5, ("search_docs", "fetch_url", "query_database")),
    "integration_agent": ("task", 2, 5, ("test_connection", "fetch_url", "list_tables")),
    "workflow_agent": ("task", 2, 6, ("create_workflow", "fetch_url", "query_database")),
    "reviewer": ("function", 1, 2, ("search_docs",)),
}
DEPLOY_AGENTS = ("app_builder", "workflow_agent")
INTENT_AGENTS: dict[str, tuple[str, ...]] = {
    "build_dashboard": ("planner", "app_builder"),
    "write_sql": ("sql_agent",),
    "create_form": ("planner", "app_builder"),
    "debug_error": ("debugger",),
    "connect_datasource": ("integration_agent",),
    "automate_workflow": ("planner", "workflow_agent"),
}
TOOLS = (
    "list_tables",
    "query_database",
    "create_component",
    "deploy_app",
    "fetch_url",
    "search_docs",
    "generate_sql",
    "create_workflow",
    "test_connection",
)
#: tool -> (median own seconds, log-sigma)
TOOL_LATENCY: dict[str, tuple[float, float]] = {
    "list_tables": (0.25, 0.5),
    "query_database": (1.0, 0.8),
    "create_component": (0.2, 0.4),
    "deploy_app": (2.0, 0.4),
    "fetch_url": (0.7, 0.7),
    "search_docs": (0.1, 0.4),
    "generate_sql": (0.05, 0.3),
    "create_workflow": (0.3, 0.4),
    "test_connection": (0.5, 0.5),
}
#: tool -> children as (name, span type, probability); an "llm" child has one function child.
TOOL_CHILDREN: dict[str, tuple[tuple[str, str, float], ...]] = {
    "query_database": (("validate_sql", "function", 1.0), ("execute_query", "function", 1.0)),
    "create_component": (("generate_component_code", "llm", 1.0), ("render_preview", "function", 0.8)),
    "deploy_app": (("build_bundle", "function", 1.0), ("push_release", "function", 1.0)),
    "search_docs": (("embed_query", "function", 1.0), ("vector_search", "function", 1.0)),
    "generate_sql": (("draft_sql", "llm", 1.0),),
    "create_workflow": (("plan_workflow_steps", "llm", 1.0), ("validate_workflow", "function", 1.0)),
    "test_connection": (("resolve_credentials", "function", 1.0),),
}
#: nested LLM -> the function that parses its output (depth 4)
NESTED_PARSERS: dict[str, str] = {
    "generate_component_code": "lint_code",
    "draft_sql": "parse_sql",
    "plan_workflow_steps": "validate_json",
}
#: function -> (median seconds, log-sigma, input JSON template, output JSON template); {0} a number
FUNCTIONS: dict[str, tuple[float, float, str, str]] = {
    "validate_sql": (0.01, 0.5, '{"dialect":"postgres","length":{0}}', '{"valid":true}'),
    "execute_query": (0.6, 0.9, '{"timeout_ms":30000,"limit":{0}}', '{"rows":{0},"truncated":false}'),
    "render_preview": (0.15, 0.5, '{"width":1280,"height":{0}}', '{"ok":true}'),
    "build_bundle": (4.0, 0.4, '{"target":"es2022","files":{0}}', '{"bytes":{0}00,"ok":true}'),
    "push_release": (1.5, 0.5, '{"release":"r{0}"}', '{"ok":true}'),
    "embed_query": (0.05, 0.4, '{"dims":1024,"tokens":{0}}', '{"ok":true}'),
    "vector_search": (0.08, 0.5, '{"k":8,"index":"docs-v{0}"}', '{"hits":8,"best_doc":"doc_{0}"}'),
    "validate_workflow": (0.03, 0.5, '{"steps":{0}}', '{"valid":true}'),
    "resolve_credentials": (0.1, 0.5, '{"secret":"ds_{0}"}', '{"found":true}'),
    "lint_code": (0.05, 0.5, '{"rules":{0}}', '{"warnings":0}'),
    "parse_sql": (0.005, 0.4, '{"length":{0}}', '{"statements":1}'),
    "validate_json": (0.005, 0.4, '{"length":{0}}', '{"valid":true}'),
}

# ---------------------------------------------------------------- tool and error text templates
# Placeholders: {0} {1} {2} numbers, {3} SQL token, {4} host, {5} component, {6} table, {7} metric.
_NUM_SLOTS = 3
_SQL_TOKENS = ("FROM", "WHERE", "GROUP", "JOIN", ")", "ORDER", "SELEC", ",")
_HOSTS = ("api.acme-corp.com", "hooks.slack.com", "api.hubspot.com", "api.stripe.com", "erp.internal", "jira.acme.io")
_COMPONENTS = ("RevenueChart", "KpiTile", "OrdersTable", "FilterBar", "SignupForm", "DatePicker", "StatusBadge")
_TABLES = ("orders", "customers", "invoices", "tickets", "subscriptions", "shipments", "users", "events")
_METRICS = ("revenue", "signups", "churn", "tickets", "orders", "refunds", "margin")
TOOL_ARGS: dict[str, str] = {
    "list_tables": '{"datasource":"ds_{0}","schema":"public"}',
    "query_database": '{"sql":"SELECT {7}, count(*) FROM {6} GROUP BY 1 LIMIT {1}","datasource":"ds_{0}"}',
    "create_component": '{"component":"{5}","props":{"dataKey":"{7}","height":{1}0}}',
    "deploy_app": '{"app_id":"app_{2}","environment":"production"}',
    "fetch_url": '{"method":"GET","url":"https://{4}/v2/{6}?page={0}"}',
    "search_docs": '{"query":"{7} {6} {3}","top_k":8}',
    "generate_sql": '{"question":"{7} by {6}","dialect":"postgres"}',
    "create_workflow": '{"name":"{7}-alert-{1}","trigger":"{6}.created","steps":{0}}',
    "test_connection": '{"datasource":"ds_{0}","read_only":true}',
}
TOOL_RESULTS: dict[str, str] = {
    "list_tables": '{"tables":["{6}","customers","line_items"],"count":{1}}',
    "query_database": '{"columns":["{7}","count"],"row_count":{1},"elapsed_ms":{2}}',
    "create_component": '{"component_id":"cmp_{2}","status":"created"}',
    "deploy_app": '{"url":"https://apps.acme.internal/app-{2}","release":"r{1}","status":"live"}',
    "fetch_url": '{"status":200,"items":{1},"next_page":{0}}',
    "search_docs": '{"results":[{"title":"Connecting {6}","doc_id":"doc_{2}"}],"count":{0}}',
    "generate_sql": '{"sql":"SELECT {7} FROM {6}","valid":true}',
    "create_workflow": '{"workflow_id":"wf_{2}","enabled":false}',
    "test_connection": '{"ok":true,"latency_ms":{1}}',
}
TOOL_ERRORS: dict[str, str] = {
    "query_database": "SQL syntax error at or near '{3}' at line {0}, position {1} (query_id=q_{2})",
    "fetch_url": "Timeout: GET https://{4}/v2/{6}?page={0} did not respond within 10000 ms (request_id=req_{2})",
    "create_component": "ValidationError: component '{5}' prop 'dataKey' expected string, got null "
    "(component_id=cmp_{2})",
    "deploy_app": "PermissionDenied: user u_{1} lacks role 'app:deploy' on workspace ws_{2} (HTTP 403)",
}
# Model errors; {0} a number, {1} a request id, {2} the model.
LLM_ERRORS: dict[str, str] = {
    "rate_limit": "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': "
    "'This request would exceed the rate limit for your organization of {0}000 input tokens per minute "
    "for {2}.'}, 'request_id': 'req_{1}'}",
    "overloaded": "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': "
    "'Overloaded'}, 'request_id': 'req_{1}'}",
    "context_overflow": "Error code: 400 - {'type': 'error', 'error': {'type': 'invalid_request_error', "
    "'message': 'prompt is too long: {0} tokens > 200000 maximum'}, 'request_id': 'req_{1}'}",
    "timeout": "APITimeoutError: Request timed out. (request_id=req_{1})",
}
_LLM_ERROR_KINDS = tuple(LLM_ERROR_RATES)

# span kinds (internal)
_ROOT, _CLS, _CLS_LLM, _AGENT, _STEP_LLM, _TOOL, _NESTED_LLM, _FN = range(8)
_LLM_CALL_NAMES = {"anthropic": "anthropic.messages.create", "openai": "openai.chat.completions.create"}


def _esc(text: str) -> str:
    """``text`` as the inside of a JSON string (canonical orjson escaping)."""
    return orjson.dumps(text).decode()[1:-1]


def _jstr(text: str) -> str:
    return orjson.dumps(text).decode()


def _fill(templates: list[str], choice: np.ndarray, values: list[pl.Series]) -> pl.Series:
    """Row i gets ``templates[choice[i]]`` with ``{k}`` replaced by ``values[k][i]`` (vectorized).

    Templates are literal text (already JSON where they must be) with numbered placeholders."""
    split = [re.split(r"\{(\d)\}", t) for t in templates]
    width = max(len(s) // 2 for s in split)
    lits = [[s[2 * j] if 2 * j < len(s) else "" for s in split] for j in range(width + 1)]
    slots = [[int(s[2 * j + 1]) if 2 * j + 1 < len(s) else -1 for s in split] for j in range(width)]
    frame = pl.DataFrame({f"v{k}": v for k, v in enumerate(values)})
    choice = np.asarray(choice, dtype=np.int64)
    parts: list[pl.Expr] = []
    for j in range(width + 1):
        parts.append(pl.lit(pl.Series(lits[j]).gather(choice)))
        if j == width:
            break
        slot = np.asarray(slots[j])[choice]
        used = sorted(set(slot.tolist()))
        if used == [-1]:
            continue
        if len(used) == 1:
            parts.append(pl.col(f"v{used[0]}"))
            continue
        slot_s = pl.lit(pl.Series(slot))
        expr: pl.Expr | None = None
        for k in used:
            if k < 0:
                continue
            expr = (pl.when(slot_s == k) if expr is None else expr.when(slot_s == k)).then(pl.col(f"v{k}"))
        assert expr is not None
        parts.append(expr.otherwise(pl.lit("")))
    return frame.select(pl.concat_str(parts).alias("s")).to_series()


def _strs(table: tuple[str, ...] | list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(list(table), dtype=pl.String).gather(np.asarray(index, dtype=np.int64))


def _nums(values: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float, n: int) -> np.ndarray:
    return np.asarray(median) * np.exp(rng.standard_normal(n) * np.asarray(sigma))


class _Spans:
    """Blocks of spans built level by level; each block is a contiguous range of global indices."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []
        self.count = 0

    def add(self, **cols: np.ndarray) -> np.ndarray:
        n = len(cols["trace"])
        idx = np.arange(self.count, self.count + n)
        cols["idx"] = idx
        self.blocks.append(cols)
        self.count += n
        return idx

    def column(self, name: str, default: float = -1, dtype: type = np.int64) -> np.ndarray:
        return np.concatenate(
            [
                np.asarray(b[name], dtype=dtype) if name in b else np.full(len(b["trace"]), default, dtype)
                for b in self.blocks
            ]
        )


def demo_logs(
    n_traces: int = 2000, seed: int = 0, *, now: datetime | None = None, progress: bool = False
) -> pl.DataFrame:
    """Realistic logs of a multi-agent app-building assistant as a canonical span frame.

    ``n_traces`` conversation turns spread over the :data:`DAYS` days before ``now`` (default: the
    current time, UTC); about :data:`AVG_SPANS_PER_TRACE` spans per trace. The same ``seed`` and
    ``now`` give an identical frame. ``progress`` shows a tqdm bar over the generation phases.
    """
    return _generate(n_traces, seed, now, progress)[0]


def write_demo_jsonl(
    path: str | Path, n_traces: int = 2000, seed: int = 0, *, now: datetime | None = None
) -> pl.DataFrame:
    """Write the demo logs as Braintrust JSONL log events (one per line) and return the frame.

    Loading the file with ``frame_from_events(iter_json_lines(...))`` gives the same frame."""
    frame = demo_logs(n_traces, seed, now=now)
    # One string column written without quoting is exactly the JSONL (the JSON has no raw newlines).
    frame.select(_jsonl_line().alias("line")).write_csv(path, include_header=False, quote_style="never")
    return frame


def jsonl_text(frame: pl.DataFrame) -> str:
    """Braintrust JSONL log events (one per line) for the base columns of a canonical frame."""
    lines = frame.select(_jsonl_line().alias("line")).to_series()
    return "\n".join(lines.to_list()) + "\n" if len(lines) else ""


def _jsonl_line() -> pl.Expr:
    """One Braintrust log event as JSON text, built from the canonical columns (vectorized)."""

    def js(col: str) -> pl.Expr:
        return pl.col(col).fill_null("null")

    def str_list(col: str) -> pl.Expr:
        inner = pl.col(col).list.eval(pl.concat_str(pl.lit('"'), pl.element(), pl.lit('"'))).list.join(",")
        return pl.concat_str(pl.lit("["), inner, pl.lit("]"))

    def quoted(expr: pl.Expr) -> pl.Expr:
        return pl.concat_str(pl.lit('"'), expr, pl.lit('"'))

    line = pl.concat_str(
        pl.lit('{"id":'),
        quoted(pl.col("id")),
        pl.lit(',"span_id":'),
        quoted(pl.col("span_id")),
        pl.lit(',"root_span_id":'),
        quoted(pl.col("root_span_id")),
        pl.lit(',"span_parents":'),
        str_list("span_parents"),
        pl.lit(',"is_root":'),
        pl.when(pl.col("is_root")).then(pl.lit("true")).otherwise(pl.lit("false")),
        pl.lit(',"created":'),
        quoted(pl.col("created").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")),
        *[e for f in ("input", "output", "expected", "error") for e in (pl.lit(f',"{f}":'), js(f))],
        pl.lit(',"tags":'),
        str_list("tags"),
        *[
            e
            for f in ("scores", "metadata", "metrics", "span_attributes", "context")
            for e in (pl.lit(f',"{f}":'), js(f))
        ],
        pl.lit("}"),
    )
    return line


# ---------------------------------------------------------------- generation


def _generate(n_traces: int, seed: int, now: datetime | None, progress: bool) -> tuple[pl.DataFrame, dict]:
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=7, desc="demo logs", unit="step")

    def tick(what: str) -> None:
        if bar is not None:
            bar.set_postfix_str(what)
            bar.update(1)

    rng = np.random.default_rng(seed)
    T = int(n_traces)
    now_ms = int(now.timestamp() * 1000)
    tr = _traces(rng, T, now_ms)
    tick("traces")
    spans, ex = _structure(rng, tr)
    tick("structure")
    timing = _timing(rng, tr, spans)
    tick("timing")
    texts = _texts(rng, tr, spans, ex)
    tick("text")
    frame = _assemble(rng, tr, spans, timing, texts)
    tick("frame")
    if bar is not None:
        bar.update(bar.total - bar.n)
        bar.close()
    return frame, tr


def _traces(rng: np.random.Generator, T: int, now_ms: int) -> dict:
    """Per-trace facts: when, who, what, and which patterns apply."""
    day_ms = 86_400_000
    # Start times: uniform over the window, thinned by a weekday/working-hours profile.
    lo, hi = 10 * 60_000, DAYS * day_ms - 60_000
    starts = np.empty(0, dtype=np.int64)
    while len(starts) < T:
        cand = now_ms - rng.integers(lo, hi, size=max(2 * (T - len(starts)), 16))
        hour = (cand // 3_600_000) % 24
        weekday = (cand // day_ms + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
        weight = np.where((hour >= 13) & (hour <= 22), 1.0, 0.25) * np.where(weekday >= 5, 0.4, 1.0)
        starts = np.concatenate([starts, cand[rng.random(len(cand)) < weight]])
    starts = np.sort(starts[:T])
    age_days = (now_ms - starts) / day_ms

    intent = rng.choice(len(INTENTS), size=T, p=[INTENT_WEIGHTS[i] for i in INTENTS])
    zipf = 1.0 / np.arange(1, N_USERS) ** 0.9
    user_p = np.concatenate([[JOHN_SMITH_RATE], (1 - JOHN_SMITH_RATE) * zipf / zipf.sum()])
    user = rng.choice(N_USERS, size=T, p=user_p)
    staging = rng.random(T) < STAGING_RATE
    beta = rng.random(T) < BETA_RATE
    canary = rng.random(T) < 0.85
    version = np.where(
        beta,
        "2.9.0b1",
        np.where(age_days > 20, "2.7.3", np.where(age_days > 8, np.where(canary, BAD_APP_VERSION, "2.7.3"), "2.8.1")),
    )
    zh = rng.random(T) < MANDARIN_RATE
    frustrated = rng.random(T) < FRUSTRATED_RATE
    multi = frustrated | (rng.random(T) < MULTI_TURN_RATE)
    deployable = np.isin(intent, [INTENTS.index(i) for i in DEPLOYABLE_INTENTS])
    wants_deploy = deployable & (rng.random(T) < DEPLOY_REQUEST_RATE)
    missing = rng.random(T) < np.where(
        version == BAD_APP_VERSION, MISSING_DEPLOY_TOOL_RATE_BAD, MISSING_DEPLOY_TOOL_RATE_OTHER
    )
    deploy_call = wants_deploy & ~missing
    deploy_err = deploy_call & (rng.random(T) < TOOL_ERROR_RATES["deploy_app"])
    false_claim = wants_deploy & missing & (rng.random(T) < FALSE_DEPLOY_CLAIM_RATE)
    slow = rng.random(T) < SLOW_TRACE_RATE
    model = rng.choice(len(MODEL_NAMES), size=T, p=[AGENT_MODEL_WEIGHTS[m] for m in MODEL_NAMES])
    cls_model = np.where(
        rng.random(T) < 0.7, MODEL_NAMES.index(CLASSIFIER_MODELS[0]), MODEL_NAMES.index(CLASSIFIER_MODELS[1])
    )
    reviewer = rng.random(T) < REVIEWER_RATE
    return {
        "T": T,
        "now_ms": now_ms,
        "start_ms": starts,
        "intent": intent,
        "user": user,
        "staging": staging,
        "beta": beta,
        "version": version,
        "zh": zh,
        "frustrated": frustrated,
        "multi": multi,
        "wants_deploy": wants_deploy,
        "missing": missing,
        "deploy_call": deploy_call,
        "deploy_err": deploy_err,
        "false_claim": false_claim,
        "slow": slow,
        "model": model,
        "cls_model": cls_model,
        "reviewer": reviewer,
    }


def _llm_attempts(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand n logical LLM calls into attempts: (call index, attempt number, error kind or -1)."""
    p_err = sum(LLM_ERROR_RATES.values())
    fails = (rng.random((n, MAX_RETRIES)) < p_err).cumprod(axis=1).sum(axis=1)
    reps = fails + 1
    call = np.repeat(np.arange(n), reps)
    attempt = np.arange(len(call)) - np.repeat(np.cumsum(reps) - reps, reps)
    rel = np.array(list(LLM_ERROR_RATES.values())) / p_err
    kind = rng.choice(len(rel), size=len(call), p=rel)
    err = np.where(attempt < fails[call], kind, -1)
    return call, attempt, err


def _structure(rng: np.random.Generator, tr: dict) -> tuple[_Spans, dict]:
    """Build every span's place in its tree (parent, order among siblings) and its kind."""
    T = tr["T"]
    sp = _Spans()
    traces = np.arange(T)
    model = tr["model"]
    roots = sp.add(trace=traces, parent=np.full(T, -1), kind=np.full(T, _ROOT), order=np.zeros(T), depth=np.zeros(T))
    cls = sp.add(trace=traces, parent=roots, kind=np.full(T, _CLS), order=np.zeros(T), depth=np.ones(T))
    call, attempt, err = _llm_attempts(rng, T)
    sp.add(
        trace=call,
        parent=cls[call],
        kind=np.full(len(call), _CLS_LLM),
        order=attempt,
        depth=np.full(len(call), 2),
        attempt=attempt,
        err=err,
        model=tr["cls_model"][call],
        final=np.ones(len(call)),
    )

    # Agents: the intent's agents, then maybe a reviewer.
    agent_names = tuple(AGENTS)
    table = np.array(
        [[agent_names.index(a) for a in INTENT_AGENTS[i]] + [-1] * (2 - len(INTENT_AGENTS[i])) for i in INTENTS]
    )
    base_n = (table[tr["intent"]] >= 0).sum(axis=1)
    n_agents = base_n + tr["reviewer"]
    a_trace = np.repeat(traces, n_agents)
    a_pos = np.arange(len(a_trace)) - np.repeat(np.cumsum(n_agents) - n_agents, n_agents)
    a_kind = np.where(
        a_pos < base_n[a_trace], table[tr["intent"][a_trace], np.minimum(a_pos, 1)], agent_names.index("reviewer")
    )
    A = len(a_trace)
    agents = sp.add(
        trace=a_trace, parent=roots[a_trace], kind=np.full(A, _AGENT), order=1 + a_pos, depth=np.ones(A), agent=a_kind
    )
    is_deploy_agent = np.isin(a_kind, [agent_names.index(a) for a in DEPLOY_AGENTS])
    deploying = is_deploy_agent & tr["deploy_call"][a_trace]

    # Steps: each is an LLM call, and a tool call unless it is the agent's last step.
    lo = np.array([AGENTS[a][1] for a in agent_names])[a_kind]
    hi = np.array([AGENTS[a][2] for a in agent_names])[a_kind]
    n_steps = rng.integers(lo, hi + 1)
    n_steps = np.where(deploying, np.maximum(n_steps, 3), n_steps)
    s_agent = np.repeat(np.arange(A), n_steps)
    s_num = np.arange(len(s_agent)) - np.repeat(np.cumsum(n_steps) - n_steps, n_steps)
    s_last = s_num == n_steps[s_agent] - 1
    S = len(s_agent)
    tool_table = np.full((len(agent_names), 4), -1)
    for k, a in enumerate(agent_names):
        for j, tool in enumerate(AGENTS[a][3]):
            tool_table[k, j] = TOOLS.index(tool)
    n_tools = (tool_table >= 0).sum(axis=1)
    s_kind = a_kind[s_agent]
    s_tool = tool_table[s_kind, rng.integers(0, 1 << 30, S) % n_tools[s_kind]]
    s_tool = np.where((s_num == n_steps[s_agent] - 2) & deploying[s_agent], TOOLS.index("deploy_app"), s_tool)
    s_tool = np.where(s_last, -1, s_tool)
    s_trace = a_trace[s_agent]
    # Previous step's tool (for the tool message in the next LLM input).
    s_prev = np.where(s_num > 0, np.roll(s_tool, 1), -1)

    call, attempt, err = _llm_attempts(rng, S)
    sp.add(
        trace=s_trace[call],
        parent=agents[s_agent[call]],
        kind=np.full(len(call), _STEP_LLM),
        order=s_num[call] * 8 + attempt,
        depth=np.full(len(call), 2),
        attempt=attempt,
        err=err,
        model=model[s_trace[call]],
        step=call,
        agent=a_kind[s_agent[call]],
        final=s_last[call],
    )
    has_tool = np.flatnonzero(~s_last)
    t_tool = s_tool[has_tool]
    t_trace = s_trace[has_tool]
    rates = np.array([TOOL_ERROR_RATES.get(t, 0.0) for t in TOOLS])
    t_err = rng.random(len(has_tool)) < rates[t_tool]
    t_err = np.where(t_tool == TOOLS.index("deploy_app"), tr["deploy_err"][t_trace], t_err)
    Tn = len(has_tool)
    tools = sp.add(
        trace=t_trace,
        parent=agents[s_agent[has_tool]],
        kind=np.full(Tn, _TOOL),
        order=s_num[has_tool] * 8 + 5,
        depth=np.full(Tn, 2),
        tool=t_tool,
        err=np.where(t_err, 0, -1),
        step=has_tool,
    )

    # Tool internals: nested LLM calls (each with a parser function) and functions.
    fn_names = tuple(FUNCTIONS)
    nested_names = tuple(NESTED_PARSERS)
    slots = np.full((len(TOOLS), 2, 2), -1)  # [tool, slot] -> (name code, is_llm)
    probs = np.zeros((len(TOOLS), 2))
    for k, tool in enumerate(TOOLS):
        for j, (name, kind, p) in enumerate(TOOL_CHILDREN.get(tool, ())):
            is_llm = kind == "llm"
            slots[k, j] = (nested_names.index(name) if is_llm else fn_names.index(name), int(is_llm))
            probs[k, j] = p
    fn_blocks: list[tuple[np.ndarray, ...]] = []
    nested_calls: list[tuple[np.ndarray, ...]] = []
    for j in range(2):
        present = (slots[t_tool, j, 0] >= 0) & (rng.random(Tn) < probs[t_tool, j])
        which = np.flatnonzero(present)
        code = slots[t_tool[which], j, 0]
        llm = slots[t_tool[which], j, 1] == 1
        fn_blocks.append((which[~llm], code[~llm], np.full((~llm).sum(), j * 8)))
        nested_calls.append((which[llm], code[llm], np.full(llm.sum(), j * 8)))
    n_which = np.concatenate([w for w, _, _ in nested_calls])
    n_code = np.concatenate([c for _, c, _ in nested_calls])
    n_order = np.concatenate([o for _, _, o in nested_calls])
    call, attempt, err = _llm_attempts(rng, len(n_which))
    nested = sp.add(
        trace=t_trace[n_which[call]],
        parent=tools[n_which[call]],
        kind=np.full(len(call), _NESTED_LLM),
        order=n_order[call] + attempt,
        depth=np.full(len(call), 3),
        attempt=attempt,
        err=err,
        model=np.full(len(call), MODEL_NAMES.index(NESTED_MODEL)),
        nested=n_code[call],
        final=np.ones(len(call)),
    )
    f_which = np.concatenate([w for w, _, _ in fn_blocks])
    f_code = np.concatenate([c for _, c, _ in fn_blocks])
    f_order = np.concatenate([o for _, _, o in fn_blocks])
    sp.add(
        trace=t_trace[f_which],
        parent=tools[f_which],
        kind=np.full(len(f_which), _FN),
        order=f_order,
        depth=np.full(len(f_which), 3),
        fn=f_code,
    )
    ok = np.flatnonzero(err < 0)
    parser = np.array([fn_names.index(NESTED_PARSERS[n]) for n in nested_names])
    sp.add(
        trace=t_trace[n_which[call[ok]]],
        parent=nested[ok],
        kind=np.full(len(ok), _FN),
        order=np.zeros(len(ok)),
        depth=np.full(len(ok), 4),
        fn=parser[n_code[call[ok]]],
    )
    ex = {
        "a_kind": a_kind,
        "a_trace": a_trace,
        "s_tool": s_tool,
        "s_prev": s_prev,
        "s_trace": s_trace,
        "s_agent": s_agent,
        "s_num": s_num,
        "t_err_count": np.bincount(t_trace, weights=t_err, minlength=T),
        "t_count": np.bincount(t_trace, minlength=T),
    }
    return sp, ex


def _timing(rng: np.random.Generator, tr: dict, sp: _Spans) -> dict[str, np.ndarray]:
    """Durations bottom-up, slow/fast adjustment per trace, then start times top-down (ms)."""
    N = sp.count
    kind = sp.column("kind")
    trace = sp.column("trace")
    parent = sp.column("parent")
    depth = sp.column("depth")
    order = sp.column("order")
    err = sp.column("err")
    model = sp.column("model")
    attempt = sp.column("attempt")
    final = sp.column("final", 0)
    agent = sp.column("agent")
    tool = sp.column("tool")
    fn = sp.column("fn")
    own = np.zeros(N)
    gap = rng.uniform(0.001, 0.03, N)

    own[kind == _ROOT] = rng.uniform(0.03, 0.2, (kind == _ROOT).sum())
    own[kind == _CLS] = rng.uniform(0.002, 0.02, (kind == _CLS).sum())
    own[kind == _AGENT] = rng.uniform(0.01, 0.1, (kind == _AGENT).sum())

    # LLM calls: tokens by role, latency by model.
    llm = np.flatnonzero((kind == _CLS_LLM) | (kind == _STEP_LLM) | (kind == _NESTED_LLM))
    n = len(llm)
    k = kind[llm]
    s_num = np.zeros(n)
    is_step = k == _STEP_LLM
    planner, reviewer = tuple(AGENTS).index("planner"), tuple(AGENTS).index("reviewer")
    prompt = np.where(
        k == _CLS_LLM,
        _lognormal(rng, 420, 0.25, n),
        np.where(k == _NESTED_LLM, _lognormal(rng, 1500, 0.4, n), 0),
    )
    # Step LLM prompts grow with the step number (the conversation so far).
    steps_in_agent = sp.blocks[4]["order"] // 8
    s_num[is_step] = steps_in_agent
    prompt = np.where(is_step, (1800 + 900 * s_num) * np.exp(rng.standard_normal(n) * 0.45), prompt)
    is_final = final[llm] == 1
    role_median = np.select(
        [
            k == _CLS_LLM,
            k == _NESTED_LLM,
            is_final & (agent[llm] == planner),
            is_final & (agent[llm] == reviewer),
            is_final,
        ],
        [4, 380, 140, 40, 330],
        default=110,
    )
    completion = np.maximum(1, _lognormal(rng, role_median, np.where(k == _CLS_LLM, 0.3, 0.5), n)).round()
    prompt = np.maximum(50, prompt).round()
    info = np.array([MODELS[m][1:] for m in MODEL_NAMES])  # ttft, tps, in, out
    m = model[llm]
    latency = _lognormal(rng, info[m, 0], 0.35, n) + completion / info[m, 1] * np.exp(rng.standard_normal(n) * 0.15)
    e = err[llm]
    err_dur = np.select(
        [e == 0, e == 1, e == 2, e == 3],
        [rng.uniform(0.05, 0.6, n), rng.uniform(0.4, 3.0, n), rng.uniform(0.2, 1.0, n), rng.uniform(10.0, 30.0, n)],
        default=0.0,
    )
    own[llm] = np.where(e >= 0, err_dur, latency)
    # Backoff before a retry depends on what the previous attempt hit.
    prev_err = np.roll(e, 1)
    backoff = np.select(
        [prev_err == 0, prev_err == 1, prev_err == 2],
        [rng.uniform(1.0, 8.0, n), rng.uniform(0.5, 4.0, n), rng.uniform(0.05, 0.3, n)],
        default=rng.uniform(0.1, 1.0, n),
    )
    gap[llm] = np.where(attempt[llm] > 0, backoff, gap[llm])
    cost_micro = np.maximum(100, np.round(prompt * info[m, 2] + completion * info[m, 3]))
    overflow_tokens = rng.integers(200_001, 260_000, n)
    # Failed requests report no usage.
    ok = e < 0

    ti = np.flatnonzero(kind == _TOOL)
    lat = np.array([TOOL_LATENCY[t] for t in TOOLS])
    own[ti] = _lognormal(rng, lat[tool[ti], 0], lat[tool[ti], 1], len(ti))
    timeout = (tool[ti] == TOOLS.index("fetch_url")) & (err[ti] == 0)
    own[ti] = np.where(timeout, 10.0, own[ti])
    fi = np.flatnonzero(kind == _FN)
    flat = np.array([FUNCTIONS[f][:2] for f in FUNCTIONS])
    own[fi] = _lognormal(rng, flat[fn[fi], 0], flat[fn[fi], 1], len(fi))
    own = np.maximum(own, 0.005)

    def durations(own: np.ndarray, gap: np.ndarray) -> np.ndarray:
        dur = own.copy()
        for d in range(MAX_DEPTH, 0, -1):
            sel = depth == d
            dur += np.bincount(parent[sel], weights=(gap + dur)[sel], minlength=N)
        return dur

    dur = durations(own, gap)
    T = tr["T"]
    root_dur = dur[:T]  # roots are the first block, in trace order
    slow = tr["slow"]
    # Fast traces are squeezed below 58 s; slow traces get their extra time in the tool calls.
    limit = rng.uniform(35.0, 58.0, T)
    factor = np.where(~slow & (root_dur > 58.0), limit / root_dur, 1.0)
    own *= factor[trace]
    gap *= factor[trace]
    target = np.maximum(root_dur, SLOW_TRACE_SECONDS + _lognormal(rng, 25.0, 0.8, T))
    tool_total = np.bincount(trace[ti], weights=own[ti], minlength=T)
    extra = np.where(slow, target - root_dur, 0.0)
    own[ti] += extra[trace[ti]] * own[ti] / np.maximum(tool_total[trace[ti]], 1e-9)
    dur = durations(own, gap)

    rel = np.zeros(N)
    for d in range(1, MAX_DEPTH + 1):
        sel = np.flatnonzero(depth == d)
        o = sel[np.lexsort((order[sel], parent[sel]))]
        p = parent[o]
        stepw = gap[o] + dur[o]
        cs = np.cumsum(stepw)
        first = np.r_[True, p[1:] != p[:-1]]
        base = (cs - stepw)[first]
        gid = np.cumsum(first) - 1
        rel[o] = rel[p] + (cs - stepw - base[gid]) + gap[o]
    t0 = tr["start_ms"][trace]
    start_ms = t0 + np.round(rel * 1000).astype(np.int64)
    end_ms = t0 + np.round((rel + dur) * 1000).astype(np.int64)

    prompt_all = np.full(N, -1, np.int64)
    completion_all = np.full(N, -1, np.int64)
    cost_all = np.full(N, -1, np.int64)
    overflow_all = np.zeros(N, np.int64)
    prompt_all[llm] = np.where(ok, prompt, -1)
    completion_all[llm] = np.where(ok, completion, -1)
    cost_all[llm] = np.where(ok, cost_micro, -1)
    overflow_all[llm] = overflow_tokens
    return {
        "start_ms": start_ms,
        "end_ms": end_ms,
        "prompt": prompt_all,
        "completion": completion_all,
        "cost_micro": cost_all,
        "overflow": overflow_all,
        "kind": kind,
        "trace": trace,
        "parent": parent,
        "depth": depth,
        "model": model,
    }


def _user_texts(rng: np.random.Generator, tr: dict) -> tuple[list[list[dict]], list[str], list[str]]:
    """Per trace: root input messages, the last user message and the final answer (Python, O(traces))."""
    T = tr["T"]
    en_keys = list(tx.SLOTS_EN)
    zh_keys = list(tx.SLOTS_ZH)
    pick_en = {k: rng.integers(0, len(v), T) for k, v in tx.SLOTS_EN.items()}
    pick_en2 = {k: rng.integers(0, len(v), T) for k, v in tx.SLOTS_EN.items()}
    pick_zh = {k: rng.integers(0, len(v), T) for k, v in tx.SLOTS_ZH.items()}
    r = rng.integers(0, 1 << 30, (T, 8))
    caps = rng.random(T) < FRUSTRATED_CAPS_RATE
    swear = rng.random(T) < FRUSTRATED_PROFANITY_RATE
    two_rounds = rng.random(T) < 0.4
    app_no = rng.integers(100, 9999, T)
    messages: list[list[dict]] = []
    lasts: list[str] = []
    finals: list[str] = []
    slugs = {"build_dashboard": "dashboard", "create_form": "form", "automate_workflow": "workflow"}
    for t in range(T):
        intent = INTENTS[tr["intent"][t]]
        rr = r[t]
        url = f"https://apps.acme.internal/{slugs.get(intent, 'app')}-{app_no[t]}"
        if tr["zh"][t]:
            s = {k: tx.SLOTS_ZH[k][pick_zh[k][t]] for k in zh_keys}
            temps = tx.TEMPLATES_ZH[intent]
            request = temps[rr[0] % len(temps)].format(**s)
            if tr["wants_deploy"][t]:
                request += tx.DEPLOY_ASKS_ZH[rr[1] % len(tx.DEPLOY_ASKS_ZH)]
            final = tx.FINALS_ZH[intent][0].format(**s)
            deployed, failed, unavailable = tx.DEPLOYED_ZH[0], tx.DEPLOY_FAILED_ZH[0], tx.DEPLOY_UNAVAILABLE_ZH[0]
            follow = request
            prior = "已经完成了。"
        else:
            s = {k: tx.SLOTS_EN[k][pick_en[k][t]] for k in en_keys}
            s["field2"] = tx.SLOTS_EN["field"][pick_en2["field"][t]]
            s["trigger_lc"] = s["trigger"]
            temps = tx.TEMPLATES_EN[intent]
            request = tx._OPEN[rr[2] % len(tx._OPEN)] + temps[rr[0] % len(temps)].format(**s)
            if tr["wants_deploy"][t]:
                request += tx.DEPLOY_ASKS_EN[rr[1] % len(tx.DEPLOY_ASKS_EN)].format(**s)
            finals_t = tx.FINALS_EN[intent]
            final = finals_t[rr[3] % len(finals_t)].format(**s)
            deployed = tx.DEPLOYED_EN[rr[4] % len(tx.DEPLOYED_EN)]
            failed = tx.DEPLOY_FAILED_EN[rr[4] % len(tx.DEPLOY_FAILED_EN)]
            unavailable = tx.DEPLOY_UNAVAILABLE_EN[0]
            follow = tx.FOLLOWUPS_EN[rr[5] % len(tx.FOLLOWUPS_EN)].format(**s)
            prior = tx.PRIOR_ANSWERS_EN[rr[6] % len(tx.PRIOR_ANSWERS_EN)].format(**s)
        if tr["wants_deploy"][t]:
            if tr["false_claim"][t] or (tr["deploy_call"][t] and not tr["deploy_err"][t]):
                final += deployed.format(url=url)
            elif tr["deploy_err"][t]:
                final += failed
            else:
                final += unavailable
        msgs = [{"role": "user", "content": request}]
        if tr["frustrated"][t]:
            for round_ in range(2 if two_rounds[t] else 1):
                phrase = tx.FRUSTRATIONS_EN[(rr[7] + round_) % len(tx.FRUSTRATIONS_EN)]
                text = (
                    phrase.format(request=request, **s)
                    if not tr["zh"][t]
                    else phrase.format(request=request, metric="数据", db="数据库", dim="筛选")
                )
                if caps[t]:
                    text = text.upper()
                if swear[t]:
                    text += tx.PROFANITY_EN[rr[5] % len(tx.PROFANITY_EN)]
                msgs += [{"role": "assistant", "content": prior}, {"role": "user", "content": text}]
        elif tr["multi"][t]:
            msgs += [{"role": "assistant", "content": prior}, {"role": "user", "content": follow}]
        messages.append(msgs)
        lasts.append(msgs[-1]["content"])
        finals.append(final)
    return messages, lasts, finals


def _texts(rng: np.random.Generator, tr: dict, sp: _Spans, ex: dict) -> dict[str, pl.Series]:
    """JSON text of input, output, error, metadata, scores and tags for every span, block by block."""
    T = tr["T"]
    messages, lasts, finals = _user_texts(rng, tr)
    last_json = pl.Series([_jstr(x) for x in lasts], dtype=pl.String)
    final_json = pl.Series([_jstr(x) for x in finals], dtype=pl.String)
    users = ("John Smith", *tx.OTHER_USERS)
    agent_names = tuple(AGENTS)

    # Root spans: one orjson call per trace keeps them canonical.
    f_score = np.where(tr["false_claim"], rng.uniform(0.0, 0.25, T), rng.beta(8, 2, T))
    h_score = np.where(tr["frustrated"], rng.uniform(0.05, 0.45, T), rng.beta(7, 2.5, T))
    h_score = np.where(tr["false_claim"], np.minimum(h_score, rng.uniform(0.3, 0.6, T)), h_score)
    tcs = 1.0 - ex["t_err_count"] / np.maximum(ex["t_count"], 1)
    session = rng.integers(0, 1 << 40, T)
    root_in, root_out, root_meta, root_scores, root_tags = [], [], [], [], []
    for t in range(T):
        u = int(tr["user"][t])
        root_in.append(orjson.dumps(messages[t]).decode())
        root_out.append(orjson.dumps({"role": "assistant", "content": finals[t]}).decode())
        root_meta.append(
            orjson.dumps(
                {
                    "user": users[u],
                    "user_id": f"u_{1000 + (u * 7919) % 9000}",
                    "intent": INTENTS[tr["intent"][t]],
                    "app_version": str(tr["version"][t]),
                    "environment": "staging" if tr["staging"][t] else "production",
                    "session_id": f"sess_{session[t]:010x}",
                    "conversation_turns": len(messages[t]) // 2 + 1,
                    "channel": "web",
                }
            ).decode()
        )
        root_scores.append(
            orjson.dumps(
                {
                    "Factuality": round(float(f_score[t]), 2),
                    "helpfulness": round(float(h_score[t]), 2),
                    "tool_call_success": round(float(tcs[t]), 2),
                }
            ).decode()
        )
        tags = ["staging" if tr["staging"][t] else "production"]
        if tr["beta"][t]:
            tags.append("beta")
        root_tags.append(tags)

    model_meta = [
        f'{{"model":"{m}","provider":"{MODELS[m][0]}"' for m in MODEL_NAMES
    ]  # closed below with the per-call fields
    out: dict[str, list[pl.Series]] = {
        k: [] for k in ("input", "output", "error", "metadata", "scores", "name", "type")
    }
    null = pl.lit(None, dtype=pl.String)

    def emit(n: int, **cols: pl.Series | None) -> None:
        for key in out:
            value = cols.get(key)
            out[key].append(value if value is not None else pl.repeat(None, n, dtype=pl.String, eager=True))

    def cat(*parts: pl.Series | str) -> pl.Series:
        n = max(len(p) for p in parts if isinstance(p, pl.Series))
        frame = pl.DataFrame({f"p{i}": p for i, p in enumerate(parts) if isinstance(p, pl.Series)})
        exprs = [pl.col(f"p{i}") if isinstance(p, pl.Series) else pl.lit(p) for i, p in enumerate(parts)]
        return frame.select(pl.concat_str(exprs).alias("s")).to_series() if n else pl.Series([], dtype=pl.String)

    def const(value: str, n: int) -> pl.Series:
        return pl.repeat(value, n, dtype=pl.String, eager=True)

    def llm_meta(b: dict, temperature: str) -> pl.Series:
        return cat(
            _strs(model_meta, b["model"]), f',"temperature":{temperature},"attempt":', _nums(b["attempt"] + 1), "}"
        )

    def llm_name(b: dict) -> pl.Series:
        return _strs([_LLM_CALL_NAMES[MODELS[m][0]] for m in MODEL_NAMES], b["model"])

    def llm_error(b: dict) -> pl.Series:
        n = len(b["trace"])
        e = b["err"]
        text = _fill(
            [_jstr(LLM_ERRORS[k]) for k in _LLM_ERROR_KINDS] + [""],
            np.where(e >= 0, e, len(_LLM_ERROR_KINDS)),
            [
                pl.Series(np.where(e == 2, sp_overflow(n), rng.integers(40, 400, n))).cast(pl.String),
                _strs([f"{i:02x}" for i in range(256)], rng.integers(0, 256, n))
                + _nums(rng.integers(10**11, 10**12, n)),
                _strs(MODEL_NAMES, b["model"]),
            ],
        )
        return (
            pl.DataFrame({"s": text}).select(pl.when(pl.col("s") == "").then(null).otherwise(pl.col("s"))).to_series()
        )

    def sp_overflow(n: int) -> np.ndarray:
        return rng.integers(200_001, 260_000, n)

    tool_values_cache: dict[str, list[pl.Series]] = {}

    def tool_values(n: int, trace: np.ndarray, key: str) -> list[pl.Series]:
        if key not in tool_values_cache:
            tool_values_cache[key] = [
                _nums(rng.integers(1, 40, n)),
                _nums(rng.integers(1, 500, n)),
                _nums(rng.integers(100_000, 999_999, n)),
                _strs(_SQL_TOKENS, rng.integers(0, len(_SQL_TOKENS), n)),
                _strs(_HOSTS, rng.integers(0, len(_HOSTS), n)),
                _strs(_COMPONENTS, rng.integers(0, len(_COMPONENTS), n)),
                _strs(_TABLES, rng.integers(0, len(_TABLES), n)),
                _strs(_METRICS, rng.integers(0, len(_METRICS), n)),
            ]
        return tool_values_cache[key]

    # Arguments per step (shared by the LLM's tool call and the tool span's input).
    S = len(ex["s_tool"])
    s_tool = ex["s_tool"]
    step_vals = tool_values(S, ex["s_trace"], "steps")
    step_args = _fill([TOOL_ARGS[t] for t in TOOLS] + ["null"], np.where(s_tool >= 0, s_tool, len(TOOLS)), step_vals)

    for b in sp.blocks:
        n = len(b["trace"])
        kind = int(b["kind"][0]) if n else -1
        trace = b["trace"]
        if n == 0:
            emit(0)
            continue
        if kind == _ROOT:
            emit(
                n,
                input=pl.Series(root_in, dtype=pl.String),
                output=pl.Series(root_out, dtype=pl.String),
                metadata=pl.Series(root_meta, dtype=pl.String),
                scores=pl.Series(root_scores, dtype=pl.String),
                name=const("turn", n),
                type=const("task", n),
            )
        elif kind == _CLS:
            conf = _strs([_jstr(v / 100) for v in range(100)], rng.integers(62, 100, n))
            emit(
                n,
                input=cat('{"text":', last_json.gather(trace), "}"),
                output=cat('{"intent":"', _strs(INTENTS, tr["intent"][trace]), '","confidence":', conf, "}"),
                metadata=const('{"labels":' + orjson.dumps(list(INTENTS)).decode() + ',"threshold":0.6}', n),
                name=const("intent_classifier", n),
                type=const("classifier", n),
            )
        elif kind == _CLS_LLM:
            ok = b["err"] < 0
            success = cat('{"role":"assistant","content":"', _strs(INTENTS, tr["intent"][trace]), '"}')
            emit(
                n,
                input=cat(
                    '[{"role":"system","content":',
                    _jstr(tx.SYSTEM_PROMPTS["classifier"]),
                    '},{"role":"user","content":',
                    last_json.gather(trace),
                    "}]",
                ),
                output=_where(ok, success),
                error=llm_error(b),
                metadata=llm_meta(b, "0"),
                name=llm_name(b),
                type=const("llm", n),
            )
        elif kind == _AGENT:
            a = b["agent"]
            worker = ~np.isin(a, [agent_names.index("planner"), agent_names.index("reviewer")])
            plans = _strs([_jstr(tx.PLANS[i]) for i in INTENTS], tr["intent"][trace])
            reviews = _strs([_jstr(x) for x in tx.REVIEWS], rng.integers(0, len(tx.REVIEWS), n))
            result = _choose(
                worker, final_json.gather(trace), _choose(a == agent_names.index("planner"), plans, reviews)
            )
            tool_lists = []
            for name in agent_names:
                base = list(AGENTS[name][3])
                tool_lists += [orjson.dumps([*base, "deploy_app"] if name in DEPLOY_AGENTS else base).decode()]
                tool_lists += [orjson.dumps(base).decode()]
            missing = tr["missing"][trace].astype(np.int64)
            emit(
                n,
                input=cat(
                    '{"request":', last_json.gather(trace), ',"intent":"', _strs(INTENTS, tr["intent"][trace]), '"}'
                ),
                output=cat('{"status":"completed","result":', result, "}"),
                metadata=cat(
                    '{"agent":"',
                    _strs(agent_names, a),
                    '","app_version":"',
                    pl.Series(tr["version"][trace].astype(str)),
                    '","tools":',
                    _strs(tool_lists, a * 2 + missing),
                    "}",
                ),
                name=_strs(agent_names, a),
                type=_strs([AGENTS[x][0] for x in agent_names], a),
            )
        elif kind == _STEP_LLM:
            step = b["step"]
            a = b["agent"]
            ok = b["err"] < 0
            prev = ex["s_prev"][step]
            prev_msg = _strs(
                [""] + [f',{{"role":"tool","name":"{t}","content":"(result of {t})"}}' for t in TOOLS], prev + 1
            )
            tool_idx = s_tool[step]
            # Thought i of tool t sits at t * 3 + i in a flat table (up to three per tool).
            thoughts = [_jstr(tx.THOUGHTS[t][i % len(tx.THOUGHTS[t])]) for t in TOOLS for i in range(3)]
            thought_idx = np.where(tool_idx >= 0, tool_idx * 3 + rng.integers(0, 3, n), len(thoughts))
            calls = cat(
                '{"role":"assistant","content":',
                _strs([*thoughts, ""], thought_idx),
                ',"tool_calls":[{"name":"',
                _strs([*TOOLS, ""], np.where(tool_idx >= 0, tool_idx, len(TOOLS))),
                '","arguments":',
                step_args.gather(step),
                "}]}",
            )
            worker = ~np.isin(a, [agent_names.index("planner"), agent_names.index("reviewer")])
            plans = _strs([_jstr(tx.PLANS[i]) for i in INTENTS], tr["intent"][trace])
            reviews = _strs([_jstr(x) for x in tx.REVIEWS], rng.integers(0, len(tx.REVIEWS), n))
            answer = _choose(
                worker, final_json.gather(trace), _choose(a == agent_names.index("planner"), plans, reviews)
            )
            final_msg = cat('{"role":"assistant","content":', answer, "}")
            emit(
                n,
                input=cat(
                    '[{"role":"system","content":',
                    _strs([_jstr(tx.SYSTEM_PROMPTS[x]) for x in agent_names], a),
                    '},{"role":"user","content":',
                    last_json.gather(trace),
                    "}",
                    prev_msg,
                    "]",
                ),
                output=_where(ok, _choose(tool_idx >= 0, calls, final_msg)),
                error=llm_error(b),
                metadata=llm_meta(b, "0.2"),
                name=llm_name(b),
                type=const("llm", n),
            )
        elif kind == _TOOL:
            t = b["tool"]
            failed = b["err"] >= 0
            vals = tool_values(n, trace, "tools")
            result = _fill([TOOL_RESULTS[x] for x in TOOLS], t, vals)
            errors = _fill([_jstr(TOOL_ERRORS.get(x, "")) for x in TOOLS], t, vals)
            emit(
                n,
                input=step_args.gather(b["step"]),
                output=_where(~failed, result),
                error=_where(failed, errors),
                name=_strs(TOOLS, t),
                type=const("tool", n),
            )
        elif kind == _NESTED_LLM:
            nested_names = tuple(NESTED_PARSERS)
            c = b["nested"]
            ok = b["err"] < 0
            flat = [(k, i) for k, name in enumerate(nested_names) for i in range(len(tx.NESTED_OUTPUTS[name]))]
            offsets = np.cumsum([0] + [len(tx.NESTED_OUTPUTS[x]) for x in nested_names])
            counts = np.array([len(tx.NESTED_OUTPUTS[x]) for x in nested_names])
            which = offsets[c] + rng.integers(0, 1 << 30, n) % counts[c]
            outputs = [_jstr(tx.NESTED_OUTPUTS[nested_names[k]][i]) for k, i in flat]
            emit(
                n,
                input=cat(
                    '[{"role":"system","content":',
                    _strs([_jstr(tx.SYSTEM_PROMPTS[x]) for x in nested_names], c),
                    '},{"role":"user","content":',
                    last_json.gather(trace),
                    "}]",
                ),
                output=_where(ok, cat('{"role":"assistant","content":', _strs(outputs, which), "}")),
                error=llm_error(b),
                metadata=llm_meta(b, "0"),
                name=_strs(nested_names, c),
                type=const("llm", n),
            )
        elif kind == _FN:
            f = b["fn"]
            names = tuple(FUNCTIONS)
            num = [_nums(rng.integers(1, 5000, n))]
            emit(
                n,
                input=_fill([FUNCTIONS[x][2] for x in names], f, num),
                output=_fill([FUNCTIONS[x][3] for x in names], f, num),
                name=_strs(names, f),
                type=const("function", n),
            )
    texts = {k: pl.concat(v) for k, v in out.items()}
    texts["tags_root"] = pl.Series(root_tags, dtype=pl.List(pl.String))
    return texts


def _where(mask: np.ndarray, values: pl.Series) -> pl.Series:
    """``values`` where mask, else null."""
    return pl.DataFrame({"v": values, "m": mask}).select(pl.when(pl.col("m")).then(pl.col("v"))).to_series()


def _choose(mask: np.ndarray, a: pl.Series, b: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"a": a, "b": b, "m": mask})
    return frame.select(pl.when(pl.col("m")).then(pl.col("a")).otherwise(pl.col("b"))).to_series()


def _uuids(rng: np.random.Generator, n: int, salt: int) -> pl.Series:
    """Version-4-shaped UUID strings, unique by construction (the last 32 bits hold a counter)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    counter = (np.arange(n, dtype=np.uint64) * 2 + salt).astype(">u4").view(np.uint8).reshape(n, 4)
    raw[:, 12:16] = counter
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    cols = [c for c in range(36) if c not in (8, 13, 18, 23)]
    out[:, cols] = chars
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    array = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))
    return pl.Series(pl.from_arrow(array))


def _ms_text(ms: pl.Expr) -> pl.Expr:
    """Unix milliseconds as the shortest decimal seconds (what orjson writes for ms / 1000)."""
    frac = (ms % 1000).cast(pl.String).str.zfill(3).str.strip_chars_end("0")
    return pl.concat_str(
        (ms // 1000).cast(pl.String), pl.lit("."), pl.when(frac == "").then(pl.lit("0")).otherwise(frac)
    )


def _micro_text(micro: pl.Expr) -> pl.Expr:
    frac = (micro % 1_000_000).cast(pl.String).str.zfill(6).str.strip_chars_end("0")
    return pl.concat_str(
        (micro // 1_000_000).cast(pl.String), pl.lit("."), pl.when(frac == "").then(pl.lit("0")).otherwise(frac)
    )


def _assemble(rng: np.random.Generator, tr: dict, sp: _Spans, tm: dict, tx_: dict[str, pl.Series]) -> pl.DataFrame:
    """Order rows (trace, start, depth), give ids, and build every canonical column."""
    N = sp.count
    trace, depth, parent = tm["trace"], tm["depth"], tm["parent"]
    order = np.lexsort((np.arange(N), depth, tm["start_ms"], trace))
    pos = np.empty(N, dtype=np.int64)
    pos[order] = np.arange(N)
    span_ids = _uuids(rng, N, 0)  # by final row
    row_ids = _uuids(rng, N, 1)
    root_row = pos[np.arange(tr["T"])]  # roots are spans 0..T-1
    base = pl.DataFrame(
        {
            "trace": trace,
            "depth": depth.astype(np.int32),
            "parent_row": np.where(parent >= 0, pos[np.maximum(parent, 0)], -1),
            "start_ms": tm["start_ms"],
            "end_ms": tm["end_ms"],
            "prompt": tm["prompt"],
            "completion": tm["completion"],
            "cost_micro": tm["cost_micro"],
            "model": _strs([*MODEL_NAMES, None], np.where(tm["model"] >= 0, tm["model"], len(MODEL_NAMES))),
            # numpy divides exactly (Polars may multiply by the reciprocal), matching a JSON reload
            "duration": (tm["end_ms"] - tm["start_ms"]) / 1000.0,
            "cost": np.where(tm["cost_micro"] >= 0, tm["cost_micro"], 0) / 1_000_000,
            **{k: v for k, v in tx_.items() if k != "tags_root"},
        }
    )[order]
    sid = span_ids.alias("span_id")
    base = base.with_columns(
        id=row_ids,
        span_id=sid,
        root_span_id=sid.gather(root_row[base["trace"].to_numpy()]),
        parent_id=pl.when(pl.col("parent_row") >= 0).then(sid.gather(np.maximum(base["parent_row"].to_numpy(), 0))),
    )
    tags_by_trace = tx_["tags_root"]
    is_root = pl.col("depth") == 0
    start_text = _ms_text(pl.col("start_ms"))
    end_text = _ms_text(pl.col("end_ms"))
    has_usage = pl.col("prompt") >= 0
    metrics = pl.concat_str(
        pl.lit('{"start":'),
        start_text,
        pl.lit(',"end":'),
        end_text,
        pl.when(has_usage)
        .then(
            pl.concat_str(
                pl.lit(',"prompt_tokens":'),
                pl.col("prompt").cast(pl.String),
                pl.lit(',"completion_tokens":'),
                pl.col("completion").cast(pl.String),
                pl.lit(',"tokens":'),
                (pl.col("prompt") + pl.col("completion")).cast(pl.String),
                pl.lit(',"estimated_cost":'),
                _micro_text(pl.col("cost_micro")),
            )
        )
        .otherwise(pl.lit("")),
        pl.lit("}"),
    )
    start = pl.from_epoch(pl.col("start_ms") * 1000, time_unit="us").dt.replace_time_zone("UTC")
    end = pl.from_epoch(pl.col("end_ms") * 1000, time_unit="us").dt.replace_time_zone("UTC")
    frame = base.with_columns(
        span_parents=pl.concat_list(pl.col("parent_id")).list.drop_nulls(),
        is_root=is_root,
        created=start,
        expected=pl.lit(None, dtype=pl.String),
        tags=pl.when(is_root)
        .then(tags_by_trace.gather(base["trace"].to_numpy()))
        .otherwise(pl.lit([], dtype=pl.List(pl.String))),
        metrics=metrics,
        span_attributes=pl.concat_str(
            pl.lit('{"name":"'), pl.col("name"), pl.lit('","type":"'), pl.col("type"), pl.lit('"}')
        ),
        context=pl.lit(None, dtype=pl.String),
        start=start,
        end=end,
        prompt_tokens=pl.when(has_usage).then(pl.col("prompt")),
        completion_tokens=pl.when(has_usage).then(pl.col("completion")),
        tokens=pl.when(has_usage).then(pl.col("prompt") + pl.col("completion")),
        cost=pl.when(has_usage).then(pl.col("cost")),
    )
    return frame.select([pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()])
