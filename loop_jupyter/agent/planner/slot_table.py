"""The slot table: each entry a pattern plus the builder that reads its match."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .conditions import CMP, GT, LT, NUM, Slots
from .facts import Facts
from .slot_builders import (
    DATE_RE,
    ERROR_KINDS,
    MOST,
    TRACE_MEASURES,
    TRACE_NOUN,
    TRACE_ORDERS,
    SlotResult,
    _contains,
    _cost,
    _duration,
    _error_kind,
    _errors,
    _limit,
    _named,
    _no_errors,
    _relative_time,
    _root,
    _score,
    _since,
    _slow,
    _span_type,
    _tag,
    _this_period,
    _today,
    _tokens,
    _trace_any,
    _trace_count,
    _trace_id,
    _trace_most,
    _trace_superlative,
    _trace_this,
    _user,
    _yesterday,
)


@dataclass(frozen=True)
class Slot:
    name: str
    pattern: str
    build: Callable[[re.Match[str], Facts, Slots], SlotResult]


UNIT_ALT = r"milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h"
UNITS = rf"(?P<unit>{UNIT_ALT})"
ERROR_WORDS = "|".join(re.escape(w) for words in ERROR_KINDS.values() for w in words)

TRACE_SUPERLATIVES = "|".join(w.replace(" ", r"\s+") for w in sorted(TRACE_ORDERS, key=len, reverse=True))
TRACE_MEASURE_WORDS = "|".join(w.replace(" ", r"\s+") for w in sorted(TRACE_MEASURES, key=len, reverse=True))

#: The slot table. Order matters only where patterns overlap (first match wins the text).
SLOTS: tuple[Slot, ...] = (
    Slot(
        "contains",
        r"""\b(?:(?P<field>input|output|error|metadata)\s+)?(?:contains?|containing|mentions?|mentioning|with the (?:text|word)|that says?|saying)\s+(?P<q>["'])(?P<text>[^"']+)(?P=q)""",
        _contains,
    ),
    Slot("trace_id", r"\b(?:trace|root_span_id)\s+(?P<id>(?=[\w-]*\d)[\w-]{4,}|'[^']+')", _trace_id),
    Slot(
        "trace_ref",
        rf"\b(?:the\s+)?(?P<sup>{TRACE_SUPERLATIVES})\s+(?:single\s+|one\s+)?"
        rf"(?:(?P<adj>failed|failing|errored|erroring|broken|successful|error-free)\s+)?{TRACE_NOUN}(?!s)",
        _trace_superlative,
    ),
    Slot(
        "trace_ref",
        rf"\b(?:the\s+)?{TRACE_NOUN}\s+(?:with|that has|having)\s+(?:the\s+)?(?P<most>{'|'.join(MOST)})\s+"
        rf"(?:number\s+of\s+|total\s+)?(?P<measure>{TRACE_MEASURE_WORDS})\b",
        _trace_most,
    ),
    Slot(
        "trace_ref", rf"\b(?:this|that|the selected|the current|the open|my selected)\s+{TRACE_NOUN}(?!s)", _trace_this
    ),
    Slot("trace_ref", rf"\b(?:a|any|one|some)\s+(?:single\s+)?{TRACE_NOUN}(?!s)", _trace_any),
    Slot(
        "limit", rf"\b(?:top|first|last|the)\s+(?P<n>\d+)\b(?!\s*(?:{UNIT_ALT}|days?|weeks?|months?|tokens?)\b)", _limit
    ),
    Slot(
        "trace_count",
        rf"{CMP}\s+{NUM}\s+(?P<what>errors?|llm\s+calls?|model\s+calls?|tool\s+calls?|spans?|steps?)\b",
        _trace_count,
    ),
    Slot(
        "duration",
        rf"(?:took|taking|take|lasting|duration|latency|running|run|ran)?\s*{CMP}\s+{NUM}\s*{UNITS}\b(?!\s*(?:ago))",
        _duration,
    ),
    Slot("slow", r"\bslow\s+(?:traces?|requests?|conversations?|sessions?|interactions?|runs?)\b", _slow),
    Slot(
        "relative_time",
        rf"\b(?:in\s+|over\s+|during\s+|within\s+)?(?:the\s+)?(?:last|past|previous)\s+(?:{NUM}\s*)?(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\b",
        _relative_time,
    ),
    Slot("since", rf"\b(?P<word>since|after|from|before|until|on)\s+{DATE_RE}", _since),
    Slot("yesterday", r"\byesterday('s)?\b", _yesterday),
    Slot("today", r"\btoday('s)?\b", _today),
    Slot("this_period", r"\bthis\s+(?P<unit>week|month)\b", _this_period),
    Slot("tokens", rf"{CMP}\s+{NUM}\s*(?P<kind>prompt |completion |input |output )?tokens?\b", _tokens),
    Slot("cost", rf"(?:cost(?:ing|s)?\s+)?{CMP}\s+\$(?P<n>\d[\d,]*(?:\.\d+)?)", _cost),
    Slot(
        "score",
        rf"\b(?P<name>[A-Za-z][\w-]*)?\s*(?:scores?|rating)?\s*(?:is\s+|was\s+|of\s+)?(?P<op>{GT}|{LT}|==|=|equals?)\s+(?P<n>\d*\.?\d+%?)(?!\s*(?:\w|\$))",
        _score,
    ),
    Slot("error_kind", rf"\b(?:{ERROR_WORDS})s?(?:\s+errors?|\s+failures?|\s+exceptions?)?", _error_kind),
    Slot("no_errors", r"\b(?:without|no|with no)\s+errors?\b|\b(?:successful|succeeded|error-free)\b", _no_errors),
    Slot(
        "errors",
        r"\b(?:with\s+)?(?:errors?|errored|failed|failing|failures?|exceptions?)\b(?!\s+rates?\b)",
        _errors,
    ),
    Slot("root", r"\b(?:root|top-level|top level)\s+spans?\b", _root),
    Slot(
        "span_type",
        r"\b(?P<kind>llm|model|tool|task|function|scorer|score|eval|retrieval)\s+(?:spans?|calls?|invocations?|steps?)\b",
        _span_type,
    ),
    Slot("named", r"\b(?:spans?\s+)?named\s+(?P<name>'[^']+'|\"[^\"]+\"|[\w.-]+)", _named),
    Slot(
        "user",
        r"\b(?:for|by|from)\s+user\s+(?P<user>'[^']+'|\"[^\"]+\"|[\w.@-]+)|\buser\s+(?P<user2>'[^']+'|\"[^\"]+\"|[\w.@-]+)",
        _user,
    ),
    Slot(
        "tag",
        r"\b(?:(?P<explicit>tagged(?:\s+as)?|with\s+(?:the\s+)?tag|tag)\s+|(?:in|from|on)\s+)(?P<tag>'[^']+'|\"[^\"]+\"|[\w.-]+)",
        _tag,
    ),
)
