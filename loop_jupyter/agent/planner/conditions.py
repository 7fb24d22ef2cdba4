"""Conditions, trace references and the slots a question fills; number, unit and comparison parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


# -- conditions -------------------------------------------------------------------------------------------
@dataclass
class Condition:
    label: str
    spans: str
    #: The condition on the traces view; None means "a trace containing a matching span".
    traces: str | None = None
    #: Span-level conditions on the same span are combined in one subquery for the traces shape.
    span_level: bool = False
    #: A tool parameter that expresses this condition by itself (e.g. duration -> threshold_s).
    absorbed_by: str = ""
    #: Measures a span too (duration, tokens, cost): next to a span type it is about those spans.
    per_span: bool = False
    #: Where in the question it was read (a tool phrase covering it has taken its meaning).
    span: tuple[int, int] = (0, 0)
    #: A trace-level attribute (user, tag, session) recorded on root spans only: ``spans`` reaches
    #: every span of the traces that carry it, and the answer says so.
    trace_level: bool = False


@dataclass
class TraceRef:
    """One trace named by a property instead of its id; resolved against the traces view with the
    question's other conditions as the WHERE ("the slowest trace of the last 5 days")."""

    label: str
    #: "order": ORDER BY ``column`` LIMIT 1; "any": the most recent matching; "this": the scope/selection.
    kind: str
    column: str = "created"
    descending: bool = True
    #: Where in the question it was read: conditions before it ("errors in the latest trace") are
    #: about the trace's content, not its choice.
    span: tuple[int, int] = (0, 0)


@dataclass
class Slots:
    conditions: list[Condition] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    spans_consumed: list[tuple[int, int]] = field(default_factory=list)
    threshold_s: float | None = None
    limit: int | None = None
    root_span_id: str | None = None
    #: "the slowest trace", "John Smith's latest trace", "this trace": resolved to root_span_id in plan().
    trace_ref: TraceRef | None = None
    quoted: list[str] = field(default_factory=list)
    has_span_type: bool = False
    #: A reporting period implied by a time window the tool cannot filter on ("this week").
    period: str | None = None
    #: A metadata key to group by ("by app version", "which agents").
    group_meta: str | None = None
    root_meta_keys: set[str] = field(default_factory=set)

    def where(self, shape: str) -> str:
        if shape == "spans":
            return " AND ".join(_paren(c.spans) for c in self.conditions)
        typed = any(
            (c.label.endswith(" spans") or c.label.startswith("named ")) and c.span_level for c in self.conditions
        )

        def on_span(c: Condition) -> bool:
            return c.span_level or c.traces is None or (typed and c.per_span)

        direct = [c for c in self.conditions if not on_span(c)]
        span_level = [c for c in self.conditions if on_span(c)]
        parts = [_paren(c.traces or "") for c in direct]
        if span_level:
            inner = " AND ".join(_paren(c.spans) for c in span_level)
            parts.append(f"root_span_id IN (SELECT root_span_id FROM logs WHERE {inner})")
        return " AND ".join(parts)

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.conditions]


def _paren(sql: str) -> str:
    return f"({sql})" if re.search(r"\s(OR|or)\s", sql) else sql


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
}  # fmt: skip


def _number(text: str) -> float:
    text = text.strip().lower().replace(",", "").replace("_", "")
    if text in NUMBER_WORDS:
        return float(NUMBER_WORDS[text])
    scale = 1.0
    if text.endswith("k"):
        scale, text = 1_000.0, text[:-1]
    elif text.endswith("m"):
        scale, text = 1_000_000.0, text[:-1]
    return float(text) * scale


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


GT = r"longer than|slower than|more than|greater than|higher than|larger than|bigger than|above|over|exceeding|exceeds?|at least|>=|>|≥"
LT = r"shorter than|faster than|less than|fewer than|lower than|smaller than|below|under|at most|within|<=|<|≤"
CMP = rf"(?P<op>{GT}|{LT})"


def _op(text: str) -> str:
    text = text.strip().lower()
    if text in ("at least", ">=", "≥"):
        return ">="
    if text in ("at most", "<=", "≤", "within"):
        return "<="
    if re.fullmatch(GT, text):
        return ">"
    if re.fullmatch(LT, text):
        return "<"
    return "="


UNIT_SECONDS = {"ms": 0.001, "millisecond": 0.001, "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
                "h": 3600, "hr": 3600, "hour": 3600, "d": 86400, "day": 86400}  # fmt: skip
NUM = r"(?P<n>\d[\d,]*(?:\.\d+)?k?|\.\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty)"


def _unit(text: str) -> float:
    text = text.lower().rstrip("s") if text.lower() not in ("s", "ms") else text.lower()
    return UNIT_SECONDS.get(text, UNIT_SECONDS.get(text.rstrip("s"), 1))


class _Rematch:
    """A match whose named group is taken from another group (patterns with alternative names)."""

    def __init__(
        self, match: re.Match[str], name: str, value: str | None, *, bare: bool = False, end: int | None = None
    ) -> None:
        self._match, self._name, self._value, self._bare = match, name, value, bare
        #: Where the match ends when the value read runs past the pattern ("user John Smith").
        self._end = end

    def group(self, key: Any = 0) -> Any:
        if key == "bare":
            return self._bare
        return self._value if key == self._name else self._match.group(key)

    def span(self) -> tuple[int, int]:
        start, end = self._match.span()
        return (start, end if self._end is None else max(end, self._end))


class _Fake:
    def __init__(self, groups: dict[str, Any], span: tuple[int, int]) -> None:
        self._groups, self._span = groups, span

    def group(self, key: Any = 0) -> Any:
        return self._groups.get(key)

    def span(self) -> tuple[int, int]:
        return self._span
