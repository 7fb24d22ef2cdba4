"""The documented rates and settings of the demo logs, and the text templates of tool calls and errors.

Tests and demos check analyses against these constants (re-exported by :mod:`loop_jupyter.demo`)."""

from __future__ import annotations

from . import phrases as tx

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
