"""The plan record and slot extraction: a question → :class:`Slots` (conditions, problems, leftover words)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .aggregates import AGGREGATES, GROUPS, METRICS
from .conditions import Condition, Slots, _Fake, _lit
from .facts import USER_KEYS, Facts
from .slot_builders import SPAN_TYPE_WORDS, _known_user, _model, _reach_trace, _resolve_id, _user
from .slot_table import SLOTS
from .vocabulary import VOCABULARY


# -- the plan ------------------------------------------------------------------------------------------------
@dataclass
class Plan:
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: Set when the planner will not call tools: the plain explanation for the person.
    message: str = ""
    understood: list[str] = field(default_factory=list)
    shape: str = "spans"
    #: What the answer must say about how the question was read ("the slowest trace ...: <id>, 382 s").
    notes: list[str] = field(default_factory=list)


def extract(question: str, facts: Facts) -> Slots:
    """Run every slot pattern over the question; consumed text is blanked so slots do not overlap."""
    slots = Slots()
    text = question
    # Trace ids first, exact or a unique start of 8+ characters: "4036308b" is an id, not a 403.
    for m in list(re.finditer(r"(?<![\w-])(?=[\w-]*\d)[\w-]{4,}(?![\w-])", text)):
        candidate = m.group(0)
        exact = bool(facts.trace_ids([candidate]))
        if slots.root_span_id is not None or not (exact or len(candidate) >= 8):
            continue
        resolved = candidate if exact else _resolve_id(candidate, facts, slots)
        if resolved and not resolved.startswith("!"):
            slots.root_span_id = resolved
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    for slot in SLOTS:
        for m in list(re.finditer(slot.pattern, text, re.IGNORECASE)):
            if not m.group(0).strip():
                continue
            if slot.name == "user":
                m = _known_user(m, text, facts)
            result = slot.build(m, facts, slots)
            if slot.name == "trace_ref" and slots.trace_ref is not None:
                slots.trace_ref.span = m.span()
            if result is None and slot.name not in ("limit", "trace_id", "trace_ref"):
                continue
            if isinstance(result, str):
                slots.problems.append(result)
            elif isinstance(result, Condition):
                result.span = m.span()
                slots.conditions.append(result)
                if slot.name == "slow":
                    continue  # the words stay: "slow traces" is also the slow_requests tool's phrase
            start, end = m.span()
            slots.spans_consumed.append((start, end))
            text = text[:start] + " " * (end - start) + text[end:]
    slots.leftover = text  # type: ignore[attr-defined]
    _bare_vocabulary(slots, facts)
    return slots


def _bare_vocabulary(slots: Slots, facts: Facts) -> None:
    """Known users and models named without a keyword ("for John Smith", "sonnet spans")."""
    text: str = slots.leftover  # type: ignore[attr-defined]
    for lower, value in sorted(facts.user_values.items(), key=lambda kv: -len(kv[0])):
        if len(lower) < 3:
            continue
        m = re.search(rf"(?<![\w@.-]){re.escape(lower)}(?![\w@.-])", text, re.IGNORECASE)
        if m:
            cond = _user(_Fake({"user": value}, m.span()), facts, slots)  # type: ignore[arg-type]
            if isinstance(cond, Condition):
                slots.conditions.append(cond)
                text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    # A bare family ("gpt models", "claude traces") names all its models present.
    model_pattern = r"\b(?P<model>(?:claude|gpt|o\d|gemini|llama|mistral|qwen)(?:[\w.-]*\w)?|sonnet|haiku|opus)\b"
    for m in list(re.finditer(model_pattern, text, re.IGNORECASE)):
        result = _model(m, facts, slots)
        if isinstance(result, Condition):
            slots.conditions.append(result)
        elif isinstance(result, str):
            slots.problems.append(result)
        text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    # A trace id named without the word "trace" ("similar to trace-003").
    candidates = re.findall(r"(?<![\w-])(?=[\w-]*\d)[\w-]{4,}(?![\w-])", text)
    known_ids = facts.trace_ids(candidates) if candidates else set()
    for candidate in candidates:
        if slots.root_span_id is not None:
            break
        # An exact id, or the unique start of one ("similar to 5f1c0c1e").
        resolved = candidate if candidate in known_ids else None
        if resolved is None and len(candidate) >= 8:
            resolved = _resolve_id(candidate, facts, slots)
            if resolved and resolved.startswith("!"):
                slots.problems.append(resolved[1:])
                resolved = None
        if resolved:
            slots.root_span_id = resolved
            start = text.index(candidate)
            text = text[:start] + " " * len(candidate) + text[start + len(candidate) :]
    # Grouping by a metadata key: "by app version", "per agent", "which app versions".
    slots.root_meta_keys = facts.root_meta_keys
    for meta_key in sorted(facts.meta_keys, key=len, reverse=True):
        if meta_key in (*USER_KEYS, "model") or not re.fullmatch(r"[A-Za-z_]\w*", meta_key):
            continue
        if meta_key.lower() in ("tool", "tools") and facts.tool_names:
            continue  # "which tools are slowest": the tool spans by name, not a metadata key named tools
        key_words = r"[\s_-]?".join(re.escape(part) for part in meta_key.split("_"))
        m = re.search(
            rf"\b(?:(?:by|per|for each|each|broken down by|grouped by)\s+|(?:which|what)\s+)(?:the\s+)?{key_words}s?\b",
            text,
            re.IGNORECASE,
        )
        if m and slots.group_meta is None:
            slots.group_meta = meta_key
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    # A low-cardinality metadata value ("app_version 2.8.0", "in 2.8.0", "environment staging"): the
    # key may be named; a plain word needs it ("staging" alone is too easily a word), an identifier
    # or version ("2.8.0", "sql_agent") does not.
    for lower, (meta_key, value) in sorted(facts.meta_values.items(), key=lambda kv: -len(kv[0])):
        key_words = r"[\s_-]?".join(re.escape(part) for part in meta_key.split("_"))
        pattern = rf"(?:\b(?P<key>{key_words})s?\s*(?:=|:|is|of)?\s*)?(?<![\w.@-]){re.escape(lower)}(?![\w.@-])"
        m = re.search(pattern, text, re.IGNORECASE)
        if m and (m.group("key") or re.search(r"[\d_.]", lower)):
            sql = f"metadata.{meta_key} = {_lit(value)}"
            cond = Condition(f"{meta_key} {value}", sql, None, span_level=True, span=m.span())
            if meta_key in facts.root_only_keys:
                cond = _reach_trace(cond)
            slots.conditions.append(cond)
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    # A span name the logs know: "completion spans", or an identifier-like name anywhere ("deploy_app").
    for name in sorted(facts.names, key=len, reverse=True):
        if len(name) < 4 or not re.search(r"[_.]", name) or not re.fullmatch(r"[\w.-]+", name):
            continue
        m = re.search(rf"(?<![\w.-]){re.escape(name)}(?:\s+(?:spans?|steps?|calls?|tool))?(?![\w.-])", text, re.I)
        if m:
            cond = Condition(f"named {name}", f"name = {_lit(name)}", None, span_level=True, span=m.span())
            slots.conditions.append(cond)
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    # A tool named by the plural of its verb or noun ("why do deploys fail" → deploy_app): when
    # exactly one tool's name starts so. "deploys fail" is that tool's failing spans.
    failing = r"(?:\s+(?P<fail>fail|fails|failed|failing|break|broke|error|errored|crash|crashed)\b)?"
    for m in list(re.finditer(rf"\b(?P<w>[a-z]{{3,}}?(?:es|s))\b{failing}", text, re.IGNORECASE)):
        word = m.group("w").lower()
        stems = {word[:-1], word[:-2]} if word.endswith("es") else {word[:-1]}
        tools = [n for n in facts.tool_names if re.split(r"[_.-]", n.lower())[0] in stems and re.search(r"[_.-]", n)]
        # "tools", "models": the span type itself, not a tool named tool_health or model_router.
        if len(tools) == 1 and word not in VOCABULARY and not stems & set(SPAN_TYPE_WORDS):
            sql = f"name = {_lit(tools[0])}" + (" AND error IS NOT NULL" if m.group("fail") else "")
            label = f"named {tools[0]}" + (" with errors" if m.group("fail") else "")
            slots.conditions.append(Condition(label, sql, None, span_level=True))
            slots.notes.append(f"{m.group('w')!r} read as the {tools[0]} tool")
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    # A bare span name the logs know ("completion spans") reads as a name filter.
    for name in sorted(facts.names, key=len, reverse=True):
        if len(name) < 3:
            continue
        m = re.search(rf"\b{re.escape(name)}\s+(?:spans?|steps?|calls?)\b", text, re.IGNORECASE)
        if m:
            slots.conditions.append(Condition(f"named {name}", f"name = {_lit(name)}", None, span_level=True))
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    slots.leftover = text  # type: ignore[attr-defined]


def _unknown_words(leftover: str, facts: Facts) -> list[str]:
    words = re.findall(r"[A-Za-z][\w'-]*|\d+(?:\.\d+)?", leftover)
    known = VOCABULARY | {k.lower() for k in facts.score_keys} | set(SPAN_TYPE_WORDS)
    return [w for w in words if w.lower().strip("'") not in known and not w.lower().endswith("'s")]


def _unknown(leftover: str, facts: Facts) -> list[str]:
    """Words neither slots nor vocabulary explain (aggregate words count as explained)."""
    explained = (
        set(AGGREGATES)
        | set(METRICS)
        | set(GROUPS)
        | {"each", "error", "rate", "rates", "success", "failure", "much", "spend", "spent", "spending"}
        | {"unique", "distinct", "different", "costs", "costly"}
    )
    return [w for w in _unknown_words(leftover, facts) if w.lower() not in explained]


def _shape(question: str) -> str:
    q = question.lower()
    if re.search(r"\b(traces?|conversations?|sessions?|requests?|interactions?)\b", q):
        return "traces"
    return "spans"
