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

The generator is a package: :mod:`.settings` (the documented rates, re-exported here),
:mod:`.generate` (``demo_logs``, ``write_demo_jsonl``, ``jsonl_text``, per-trace facts),
:mod:`.structure` (span tree and timing), :mod:`.texts` (span text), :mod:`.phrases` (phrase
tables), :mod:`.assemble` (the canonical frame), :mod:`._columns` (vectorized helpers).
"""

from __future__ import annotations

from .generate import demo_logs, jsonl_text, write_demo_jsonl
from .settings import (
    AGENT_MODEL_WEIGHTS,
    AGENTS,
    AVG_SPANS_PER_TRACE,
    BAD_APP_VERSION,
    BETA_RATE,
    CLASSIFIER_MODELS,
    DAYS,
    DEPLOY_AGENTS,
    DEPLOY_CLAIM_MARKERS,
    DEPLOY_REQUEST_RATE,
    DEPLOYABLE_INTENTS,
    FALSE_DEPLOY_CLAIM_RATE,
    FRUSTRATED_CAPS_RATE,
    FRUSTRATED_PROFANITY_RATE,
    FRUSTRATED_RATE,
    FUNCTIONS,
    INTENT_AGENTS,
    INTENT_WEIGHTS,
    INTENTS,
    JOHN_SMITH_RATE,
    LLM_ERROR_MARKERS,
    LLM_ERROR_RATES,
    LLM_ERRORS,
    MANDARIN_RATE,
    MAX_DEPTH,
    MAX_RETRIES,
    MISSING_DEPLOY_TOOL_RATE_BAD,
    MISSING_DEPLOY_TOOL_RATE_OTHER,
    MODEL_NAMES,
    MODELS,
    MULTI_TURN_RATE,
    N_USERS,
    NESTED_MODEL,
    NESTED_PARSERS,
    REVIEWER_RATE,
    SLOW_TRACE_RATE,
    SLOW_TRACE_SECONDS,
    STAGING_RATE,
    TOOL_ARGS,
    TOOL_CHILDREN,
    TOOL_ERROR_MARKERS,
    TOOL_ERROR_RATES,
    TOOL_ERRORS,
    TOOL_LATENCY,
    TOOL_RESULTS,
    TOOLS,
)

__all__ = [
    "AGENTS",
    "AGENT_MODEL_WEIGHTS",
    "AVG_SPANS_PER_TRACE",
    "BAD_APP_VERSION",
    "BETA_RATE",
    "CLASSIFIER_MODELS",
    "DAYS",
    "DEPLOYABLE_INTENTS",
    "DEPLOY_AGENTS",
    "DEPLOY_CLAIM_MARKERS",
    "DEPLOY_REQUEST_RATE",
    "FALSE_DEPLOY_CLAIM_RATE",
    "FRUSTRATED_CAPS_RATE",
    "FRUSTRATED_PROFANITY_RATE",
    "FRUSTRATED_RATE",
    "FUNCTIONS",
    "INTENTS",
    "INTENT_AGENTS",
    "INTENT_WEIGHTS",
    "JOHN_SMITH_RATE",
    "LLM_ERRORS",
    "LLM_ERROR_MARKERS",
    "LLM_ERROR_RATES",
    "MANDARIN_RATE",
    "MAX_DEPTH",
    "MAX_RETRIES",
    "MISSING_DEPLOY_TOOL_RATE_BAD",
    "MISSING_DEPLOY_TOOL_RATE_OTHER",
    "MODELS",
    "MODEL_NAMES",
    "MULTI_TURN_RATE",
    "NESTED_MODEL",
    "NESTED_PARSERS",
    "N_USERS",
    "REVIEWER_RATE",
    "SLOW_TRACE_RATE",
    "SLOW_TRACE_SECONDS",
    "STAGING_RATE",
    "TOOLS",
    "TOOL_ARGS",
    "TOOL_CHILDREN",
    "TOOL_ERRORS",
    "TOOL_ERROR_MARKERS",
    "TOOL_ERROR_RATES",
    "TOOL_LATENCY",
    "TOOL_RESULTS",
    "demo_logs",
    "jsonl_text",
    "write_demo_jsonl",
]
