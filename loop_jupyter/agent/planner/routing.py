"""Routing to registered tools: phrase matching, trace references, parameters filled by name."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ...tools import REGISTRY, ToolContext
from .conditions import Slots
from .slot_builders import TRACE_UNITS

# -- routing to registered tools -------------------------------------------------------------------------------
CORE_TOOLS = {"run_sql", "generate_filter", "describe_schema", "read_field", "grep_field"}


#: Words that carry no intent of their own inside a tool phrase match.
_GLUE = {"with", "the", "for", "and", "that", "are", "was", "were", "from", "into", "over", "than", "this",
         "these", "those", "which", "what", "show", "spans", "span", "calls", "call", "traces", "trace"}  # fmt: skip


def _adds_meaning(leftover: str, m: re.Match[str]) -> bool:
    """True when a phrase match says something the slots did not already take ("common" in
    "common errors"); "LLM calls with over 10k tokens" is all slots, so it stays a filter."""
    words = re.findall(r"[A-Za-z]{3,}", leftover[m.start() : m.end()])
    return any(w.lower() not in _GLUE for w in words)


def _word_start(text: str, index: int) -> int:
    while index > 0 and text[index - 1].isalnum():
        index -= 1
    return index


def _word_end(text: str, index: int) -> int:
    while index < len(text) and text[index].isalnum():
        index += 1
    return index


#: Words of an aggregate question ("how many errors in the latest trace" counts, it does not summarize).
AGGREGATE_WORDS = re.compile(
    r"\b(how many|how much|how long|average|avg|mean|median|total|count|number of|p\d\d|percentiles?|per|sum)\b",
    re.IGNORECASE,
)

#: Parameters through which a tool takes one trace (or a list of them).
TRACE_PARAMS = ("root_span_id", "trace_ids", "root_span_ids")


def _takes_trace(name: str) -> bool:
    properties = REGISTRY[name].parameters.get("properties", {})
    return any(p in properties for p in TRACE_PARAMS)


def _route(
    question: str, leftover: str | None = None, *, one_trace: bool = False, per_trace: bool = False
) -> tuple[str, re.Match[str]] | None:
    """The tool whose phrase matches the most of the question. When the question names one trace
    ("... in the slowest trace"), tools that take a trace go first: "where was the time spent in
    the slowest trace" is about that trace, not about latency across the logs."""
    best: tuple[tuple[bool, int], str, re.Match[str]] | None = None
    for name, spec in REGISTRY.items():
        if name in CORE_TOOLS and name not in ("describe_schema",):
            continue
        if per_trace and not one_trace and "root_span_id" in spec.parameters.get("properties", {}):
            continue  # "LLM calls per trace" is across traces: not a one-trace view
        for phrase in spec.phrases:
            try:
                m = re.search(phrase, question, re.IGNORECASE)
            except re.error:
                continue
            if m and leftover is not None and not _adds_meaning(leftover, m):
                continue
            rank = (one_trace and _takes_trace(name), len(m.group(0))) if m else (False, 0)
            if m and (best is None or rank > best[0]):
                best = (rank, name, m)
    return (best[1], best[2]) if best else None


def _trace_value(column: str, value: Any) -> str:
    if value is None:
        return f"no {column}"
    if column == "duration":
        return f"{value:,.1f} s"
    if column == "total_cost":
        return f"${value:,.4f}"
    if column == "created":
        return f"created {value:%Y-%m-%d %H:%M} UTC" if isinstance(value, datetime) else f"created {value}"
    return f"{int(value):,} {TRACE_UNITS.get(column, column)}"


def _resolve_trace_ref(slots: Slots, ctx: ToolContext, scope: str | None) -> str | None:
    """Turn ``slots.trace_ref`` into ``slots.root_span_id`` (a problem text if it cannot be).

    "this trace" is the session's scope (or the first selected trace). Otherwise one query on the
    traces view: the question's conditions are the WHERE ("the latest trace with errors"), the
    reference is the ORDER BY, ties go to the most recent trace; the conditions are then used up.
    The choice and its reason go to ``slots.notes`` for the answer."""
    ref = slots.trace_ref
    if ref is None:
        return None
    slots.trace_ref = None
    if ref.kind == "this":
        root = scope or (ctx.selection[0] if ctx.selection else None)
        if root is None:
            return (
                f"which trace is {ref.label!r}? Open or select one in the explorer, or name it by id or as "
                "'the slowest trace', 'the latest trace with errors', ..."
            )
        slots.root_span_id = root
        return None
    if slots.root_span_id is not None:  # "a trace similar to 5f1c0c1e": the id names the trace
        return None
    # "the latest trace with errors" chooses by its errors; "errors in the latest trace" asks about them.
    content = [c for c in slots.conditions if c.span != (0, 0) and c.span[1] <= ref.span[0]]
    conditions = [c for c in slots.conditions if c not in content]
    where = Slots(conditions=conditions).where("traces") if conditions else ""
    column = ref.column if ref.kind == "order" else "created"
    order = "DESC" if (ref.descending or ref.kind != "order") else "ASC"
    sql = (
        f"SELECT root_span_id, {column} AS value, count(*) OVER () AS matching, "
        f"count(*) OVER (PARTITION BY {column}) AS ties FROM traces" + (f" WHERE {where}" if where else "") +
        f" ORDER BY {column} {order} NULLS LAST, created DESC, root_span_id LIMIT 1"
    )  # fmt: skip
    try:
        frame = ctx.sql(sql)
    except Exception as exc:  # a reason for the person, not a crash
        return f"I could not find {ref.label}: {exc}"
    labels = ", ".join(c.label for c in conditions)
    described = ref.label + (f" ({labels})" if labels else "")
    if frame.height == 0:
        return f"no trace matches {labels}, so there is no {ref.label.split(' ', 1)[1]} to look at"
    row = frame.row(0, named=True)
    root = str(row["root_span_id"])
    slots.root_span_id = root
    slots.conditions = content
    if ref.kind == "any":
        why = f"the most recent of {row['matching']:,} matching traces" if labels else "the most recent trace"
    else:
        why = _trace_value(column, row["value"])
        if row["ties"] > 1:
            why += f"; {row['ties'] - 1:,} other traces tie, this is the most recent"
    slots.notes.append(f"{described}: {root}, {why}")
    return None


def _where_shape(properties: dict[str, Any]) -> str:
    """Which view a tool's ``where`` is written against, as its own parameter description says
    ("a WHERE condition on the traces view"): conditions are then built for that view, so "errors"
    becomes ``has_error`` and a span condition becomes "a trace containing such a span"."""
    description = str(properties.get("where", {}).get("description", "")).lower()
    if re.search(r"\b(on|of) (the )?traces\b|\btraces view\b|\bfilter on traces\b", description):
        return "traces"
    return "spans"


#: "weekly", "week over week", "per week", "by day" → a ``period`` parameter (not a time window:
#: "the past week" is taken by the relative-time slot before this is read).
PERIOD_PATTERNS = (
    ("week", r"\b(?:week[- ]over[- ]week|w/?o/?w|weekly|(?:per|by|each|every|a)\s+week)\b"),
    ("day", r"\b(?:day[- ]over[- ]day|daily|(?:per|by|each|every|a)\s+day)\b"),
)


#: Language names a ``language`` parameter takes ("mandarin requests", "traces in Spanish").
LANGUAGE_NAMES = ("english", "spanish", "french", "german", "portuguese", "italian", "dutch", "russian", "chinese",
                  "mandarin", "cantonese", "japanese", "korean", "arabic", "hindi", "turkish", "polish", "swedish",
                  "vietnamese", "thai", "indonesian", "hebrew", "greek", "ukrainian", "czech", "farsi", "persian")  # fmt: skip


def _language(question: str) -> str | None:
    """The one language named in the question, other than English ("non-English traces")."""
    found = {w.lower() for w in re.findall(r"[A-Za-z]+", question) if w.lower() in LANGUAGE_NAMES} - {"english"}
    return found.pop().capitalize() if len(found) == 1 else None


def _label(question: str, slots: Slots) -> str | None:
    """The label an annotation asks for: quoted, else what follows "as" / "with the label" at the end
    ("annotate this trace as wrong tool arguments")."""
    if slots.quoted:
        return slots.quoted[0]
    m = re.search(r"\b(?:as|with (?:the )?label|labell?ed)\s+(.+?)[\s.?!]*$", question, re.IGNORECASE)
    return m.group(1).strip("\"' ") or None if m else None


def _period(question: str) -> str | None:
    return next((p for p, pattern in PERIOD_PATTERNS if re.search(pattern, question, re.IGNORECASE)), None)


def _fill(name: str, question: str, slots: Slots, shape: str, scope: str | None) -> tuple[dict[str, Any], list[str]]:
    """Parameters of a registered tool filled by name from the slots; returns (input, missing)."""
    spec = REGISTRY[name]
    properties = spec.parameters.get("properties", {})
    values: dict[str, Any] = {}
    where_shape = _where_shape(properties)
    if "shape" in properties:
        values["shape"] = shape
        where_shape = shape
    kept = Slots(conditions=[c for c in slots.conditions if not (c.absorbed_by and c.absorbed_by in properties)])
    candidates: dict[str, Any] = {
        "where": kept.where(where_shape) if kept.conditions else None,
        "threshold_s": slots.threshold_s,
        "limit": slots.limit,
        "root_span_id": slots.root_span_id or scope,
        "question": question,
        "description": question,
        "query": slots.quoted[0] if slots.quoted else None,
        "text": slots.quoted[0] if slots.quoted else None,
        "pattern": slots.quoted[0] if slots.quoted else None,
        "trace_ids": [slots.root_span_id or scope] if (slots.root_span_id or scope) else None,
        "root_span_ids": [slots.root_span_id or scope] if (slots.root_span_id or scope) else None,
        "period": _period(question) or slots.period,
        "language": _language(question),
        "label": _label(question, slots) if "label" in spec.parameters.get("required", []) else None,
    }
    for param in properties:
        if param in values:
            continue
        value = candidates.get(param)
        if value is not None:
            values[param] = value
    missing = [p for p in spec.parameters.get("required", []) if p not in values]
    return values, missing
