"""The planner: a question → the tool calls a model would make, or a plain message."""

from __future__ import annotations

import re
from typing import Any

from ...analysis.datasets import preset_match
from ...tools import REGISTRY, ToolContext
from .aggregates import _aggregate_sql, _per_trace
from .conditions import Condition, Slots, _lit
from .extraction import Plan, _shape, _unknown, _unknown_words, extract
from .facts import Facts, facts_for
from .routing import AGGREGATE_WORDS, _fill, _resolve_trace_ref, _route, _takes_trace, _word_end, _word_start
from .state import Carry
from .summary import UNUSED

CONNECT_HINT = (
    "For questions like this, connect a model: set ANTHROPIC_API_KEY (or OPENAI_API_KEY) and use "
    "model='claude-4.5-sonnet', or point model='openai-compatible:<model>@<url>' at a local server."
)


# -- the planner ----------------------------------------------------------------------------------------------
def plan(question: str, ctx: ToolContext, *, scope: str | None = None, carry: Carry | None = None) -> Plan:
    """The tool calls for a question, or a plain message saying what could not be understood.
    ``carry``: conditions a follow-up adds to the question, and kinds of its own it replaces."""
    read: list[Slots] = []
    planned = _plan(question, ctx, scope, read, carry)
    if planned.tool_calls and read:
        # Say where a span filter reached the whole trace ("LLM spans from John Smith": the user
        # is on the root span only, so the filter takes the LLM spans of John Smith's traces).
        sent = " ".join(str(v) for call in planned.tool_calls for v in call["input"].values())
        for cond in read[0].conditions:
            if cond.trace_level and cond.spans in sent:
                what = cond.label if cond.label.startswith("tagged ") else f"with {cond.label}"
                planned.notes = [*planned.notes, f"every span of the traces {what} (recorded on root spans only)"]
    return planned


def _plan(question: str, ctx: ToolContext, scope: str | None, read: list[Slots], carry: Carry | None = None) -> Plan:
    facts = facts_for(ctx)
    question = question.strip()
    slots = extract(question, facts)
    if carry is not None:
        slots.conditions = carry.apply(slots.conditions)
    read.append(slots)
    shape = _shape(question)
    leftover: str = slots.leftover  # type: ignore[attr-defined]
    if slots.problems:
        return Plan(message=_not_understood(slots, extra=slots.problems))

    # Named tool intents first: reading and grepping inside fields.
    read = re.search(
        r"\b(?:read|show|open|print)\s+(?:the\s+)?(?P<field>input|output|expected|metadata|error)\s+of\s+(?:span\s+)?(?P<id>[\w-]+)",
        question,
        re.IGNORECASE,
    )
    if read:
        return Plan([{"name": "read_field", "input": {"span_id": read.group("id"), "field": read.group("field")}}])
    grep = re.search(
        r"\b(?:grep|search)\s+(?:for\s+)?(?P<q>[\"'])(?P<p>.+?)(?P=q)(?:\s+in\s+(?:the\s+)?(?P<field>input|output|expected|metadata|error))?(?:\s+(?:of|in)\s+span\s+(?P<id>[\w-]+))?",
        question,
        re.IGNORECASE,
    )
    if grep:
        args: dict[str, Any] = {"pattern": re.escape(grep.group("p")), "field": (grep.group("field") or "input")}
        if grep.group("id"):
            args["span_id"] = grep.group("id")
        return Plan([{"name": "grep_field", "input": args}])

    if slots.trace_ref is not None and slots.trace_ref.kind == "any" and AGGREGATE_WORDS.search(question):
        slots.trace_ref = None  # "the average cost of a request": any request, not one
    one_trace = slots.trace_ref is not None or slots.root_span_id is not None
    routed = _route(question, leftover, one_trace=one_trace, per_trace=_per_trace(question) is not None)
    if routed:
        name, m = routed
        if name == "describe_schema":
            return Plan([{"name": "describe_schema", "input": {}}])
        rest = leftover[: m.start()] + " " * (m.end() - m.start()) + leftover[m.end() :]
        properties = REGISTRY[name].parameters.get("properties", {})
        inside = [c for c in slots.conditions if m.start() <= c.span[0] and c.span[1] <= m.end() and c.span != (0, 0)]
        slots.conditions = [c for c in slots.conditions if c not in inside]  # "failing" in "which tools are failing"
        # "the slowest trace of the last 5 days": the other conditions choose the trace.
        problem = _resolve_trace_ref(slots, ctx, scope)
        if problem:
            return Plan(message=_not_understood(slots, extra=[problem]))
        if slots.root_span_id and not _takes_trace(name):
            # A tool across traces asked about one trace: restrict it to that trace.
            sql = f"root_span_id = {_lit(slots.root_span_id)}"
            slots.conditions.append(Condition(f"trace {slots.root_span_id}", sql, sql))
        if "where" not in properties and "period" in properties:
            # "how many users came back this week": a per-period report without a time filter answers
            # it in one of its rows; say which row instead of refusing.
            rows = {
                "this week": ("week", "the current week"),
                "today": ("day", "today"),
                "yesterday": ("day", "yesterday"),
            }
            for cond in [
                c for c in slots.conditions if c.label.removeprefix("created ").removesuffix(" (UTC)") in rows
            ]:
                period, row = rows[cond.label.removeprefix("created ").removesuffix(" (UTC)")]
                slots.conditions.remove(cond)
                slots.period = slots.period or period
                slots.notes.append(
                    f"{name} cannot filter by time, so it reports every {period}: read the row for {row}"
                )
        values, missing = _fill(name, question, slots, shape, scope)
        unabsorbed = [c for c in slots.conditions if not (c.absorbed_by and c.absorbed_by in properties)]
        if unabsorbed and "where" not in properties:
            # The tool cannot take these conditions: answer with the filter itself rather than
            # with an unrestricted analysis (that would be a different question).
            slots.conditions.extend(inside)
            outside = leftover[: _word_start(leftover, m.start())] + leftover[_word_end(leftover, m.end()) :]
            if _unknown(leftover, facts) and not _unknown(outside, facts):
                return Plan(
                    message=f"{name} answers this, but it cannot be restricted to: {', '.join(c.label for c in unabsorbed)}"
                    ", so I did not run anything. Ask without those conditions, or connect a model. " + CONNECT_HINT
                )
            routed = None
    if routed:
        name, m = routed
        if missing:
            return Plan(message=f"To run {name} I need {', '.join(missing)}, which I could not find in the question.")
        unknown = [w for w in _unknown_words(rest, facts) if re.search(r"\d", w)]
        if unknown:
            return Plan(message=_not_understood(slots, words=unknown))
        unused = _unused_words(name, leftover, m, facts)
        if isinstance(values.get("label"), str):  # "annotate this trace as wrong tool arguments": the label's words
            unused = [w for w in unused if w.lower() not in values["label"].lower()]
        if name == "create_dataset" and (preset := preset_match(values.get("description") or "")):
            # The tool reads its preset from the question ("from high-scoring examples"): those words are used.
            unused = [w for w in unused if w.lower() not in preset[1].lower()]
        if unused:  # never drop part of a question silently: the answer says what it did not use
            slots.notes.append(
                f"{UNUSED} {' '.join(repr(w) for w in dict.fromkeys(unused))} ({name} answers without those words)"
            )
        understood = [*slots.notes, *slots.labels]
        return Plan([{"name": name, "input": values}], understood=understood, notes=slots.notes)

    # One trace named ("show me the slowest trace", "what about John Smith's latest trace"): its summary.
    if slots.trace_ref is not None and "summarize_trace" in REGISTRY:
        start, end = slots.trace_ref.span  # its superlative chose the trace: no second reading below
        question = question[:start] + " " * (end - start) + question[end:]
        problem = _resolve_trace_ref(slots, ctx, scope)
        if problem:
            return Plan(message=_not_understood(slots, extra=[problem]))
        if not slots.conditions and not AGGREGATE_WORDS.search(question):
            return Plan(
                [{"name": "summarize_trace", "input": {"root_span_id": slots.root_span_id}}],
                understood=[*slots.notes, *slots.labels],
                notes=slots.notes,
            )
        sql = f"root_span_id = {_lit(slots.root_span_id or '')}"  # "errors in the latest trace": a filter
        slots.conditions.append(Condition(f"trace {slots.root_span_id}", sql, sql))
        shape = "spans"

    # A trace in scope with no conditions: summarise its spans.
    if (scope or slots.root_span_id) and not slots.conditions:
        root = slots.root_span_id or scope
        if re.search(r"\b(summar|this trace|what happened|explain|describe|walk me through|overview)", question, re.I):
            sql = (
                "SELECT span_id, parent_id, depth, name, type, duration, model, tokens, error "
                f"FROM logs WHERE root_span_id = {_lit(root or '')} ORDER BY start NULLS LAST, depth"
            )
            return Plan([{"name": "run_sql", "input": {"query": sql}}], understood=[f"trace {root}"])

    mentioned = _mentioned_scores(leftover, facts)
    if mentioned:
        return Plan(
            message=f"I see {', '.join(repr(s) for s in mentioned)} but no threshold I can read "
            f"(say e.g. '{mentioned[0]} below 0.5'), so I did not run anything. " + CONNECT_HINT
        )
    unknown = _unknown(leftover, facts)
    if unknown:
        return Plan(message=_not_understood(slots, words=unknown))

    aggregate = _aggregate_sql(question, slots, shape)
    if aggregate:
        sql, label = aggregate
        return Plan(
            [{"name": "run_sql", "input": {"query": sql}}],
            understood=[label, *slots.labels],
            shape=shape,
            notes=slots.notes,
        )
    if not slots.conditions:
        return Plan(message=_not_understood(slots, words=[]))
    where = slots.where(shape)
    description = ", ".join(slots.labels)
    return Plan(
        [{"name": "generate_filter", "input": {"description": description, "where": where, "shape": shape}}],
        understood=slots.labels,
        shape=shape,
        notes=slots.notes,
    )


def _unused_words(name: str, leftover: str, m: re.Match[str], facts: Facts) -> list[str]:
    """Words of the question a routed tool does not take: outside its phrase (whole words), not
    explained by vocabulary or slots, and not the tool's own subject (words of its name, phrases and
    description, compared by their first five letters: "histogram" for chart, "usage" for trends)."""
    outside = leftover[: _word_start(leftover, m.start())] + " " + leftover[_word_end(leftover, m.end()) :]
    spec = REGISTRY[name]
    own = " ".join([name, spec.description, *spec.phrases]).lower()
    stems = {w[:5] for w in re.findall(r"[a-z]{3,}", own)}
    return [w for w in _unknown(outside, facts) if len(w) > 2 and w.lower()[:5] not in stems | _ASK_VERBS]


#: Verbs of asking that qualify nothing ("rank tools by ...", "what are users writing in").
_ASK_VERBS = {"rank", "ranke", "write", "writi", "writt", "doing", "tryin", "tell", "give", "want", "need", "know",
              "look", "looki", "happe", "going", "using", "used", "expla", "under", "think"}  # fmt: skip


def _mentioned_scores(text: str, facts: Facts) -> list[str]:
    return [k for k in facts.score_keys if re.search(rf"\b{re.escape(k)}\b", text, re.IGNORECASE)]


def _not_understood(slots: Slots, *, words: list[str] | None = None, extra: list[str] | None = None) -> str:
    parts = ["I could not fully understand that question offline, so I did not run anything."]
    if slots.labels:
        parts.append("I understood: " + "; ".join(slots.labels) + ".")
    if extra:
        parts.append("Problem: " + "; ".join(extra) + ".")
    if words:
        parts.append("I did not understand: " + " ".join(f"'{w}'" for w in dict.fromkeys(words)) + ".")
    if not slots.labels and not extra and not words:
        parts.append("I found no filter, aggregate or analysis I know in it.")
    parts.append(
        "I understand time windows, durations, span types, score thresholds, users, models, tags, token "
        "counts, error kinds, aggregates (average/p95/count by model, day, ...) and the analysis tools' "
        "questions."
    )
    parts.append(CONNECT_HINT)
    return " ".join(parts)
