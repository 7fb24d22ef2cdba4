"""The conversation's state for the offline planner: what each earlier question was read as, which
tool answered it and what came back (the result's filter, its table), so a follow-up ("now only for
gpt models", "why?", "those traces", "the second group") is read against it.

The state is rebuilt from the conversation's own messages on every question (no hidden memory):
an edited, rewound or resumed conversation gives the state of the messages it holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ...artifacts import SqlFilter, Table
from .conditions import Condition, Slots, _lit


@dataclass
class Carry:
    """What follow-ups changed in a question: conditions added, kinds of its own conditions dropped."""

    add: list[Condition] = field(default_factory=list)
    drop: set[str] = field(default_factory=set)

    def apply(self, conditions: list[Condition]) -> list[Condition]:
        kept = [c for c in conditions if kind_of(c) not in self.drop]
        return kept + [_copy(c) for c in self.add]

    def labels(self) -> list[str]:
        return [c.label for c in self.add]


@dataclass
class Turn:
    """One earlier question: as typed, as planned, and what answered it."""

    asked: str
    #: The words planned (the question itself, or the earlier question a follow-up changed).
    question: str = ""
    carry: Carry = field(default_factory=Carry)
    calls: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[Any] = field(default_factory=list)

    @property
    def tool(self) -> str:
        return self.calls[0]["name"] if self.calls else ""

    @property
    def input(self) -> dict[str, Any]:
        return self.calls[0].get("input", {}) if self.calls else {}

    def tables(self) -> list[pl.DataFrame]:
        return [a.frame for a in self.artifacts if isinstance(a, Table)]

    def table(self) -> pl.DataFrame | None:
        tables = self.tables()
        return tables[0] if tables else None

    def result_condition(self) -> Condition | None:
        """The rows the answer selected, as a condition on spans and on traces: the tool's SQL filter,
        the filter it generated, the traces a query listed, or the one trace it was about."""
        filters = [a for a in self.artifacts if isinstance(a, SqlFilter)]
        if filters:
            return result_condition(filters[0].sql, filters[0].shape, self.asked)
        if self.tool == "generate_filter":
            return result_condition(self.input["where"], self.input.get("shape", "spans"), self.asked)
        query = str(self.input.get("query", ""))
        table = self.table()
        if self.tool == "run_sql" and table is not None and "root_span_id" in table.columns:
            sql = f"root_span_id IN (SELECT root_span_id FROM ({query.rstrip().rstrip(';')}))"
            return Condition(f"the traces of the last answer ({self.asked!r})", sql, sql)
        root = self.input.get("root_span_id")
        if root:
            sql = f"root_span_id = {_lit(str(root))}"
            return Condition(f"trace {root}", sql, sql)
        return None


def result_condition(where: str, shape: str, asked: str) -> Condition:
    label = f"the {shape} of the last answer ({asked!r})"
    if shape == "traces":
        return Condition(label, f"root_span_id IN (SELECT root_span_id FROM traces WHERE {where})", where)
    return Condition(label, where, None, span_level=True)


def traces_where(cond: Condition) -> str:
    """The condition on the traces view (a trace containing a matching span when it is span-level)."""
    if cond.traces is not None and not cond.span_level:
        return cond.traces
    return Slots(conditions=[cond]).where("traces")


def kind_of(cond: Condition) -> str:
    """What a condition is about, so a follow-up replaces its like ("and for last week?" replaces the
    time window, "what about Ana?" the user) and adds the rest."""
    label = cond.label.removeprefix("not ")
    for prefix, kind in (("created ", "time"), ("user ", "user"), ("model ", "model"), ("tagged ", "tag"),
                         ("named ", "name"), ("trace ", "trace"), ("the ", "result")):  # fmt: skip
        if label.startswith(prefix):
            return kind
    if re.search(r"\berrors?\b", label):
        return "errors"
    if label.endswith(" spans"):
        return "type"
    if re.match(r"(duration|tokens|cost|\w+ score)\b", label):
        return label.split()[0]
    return label.split(" ", 1)[0]  # a metadata key: "environment staging"


def negate(cond: Condition) -> Condition:
    """The condition excluded ("exclude staging"): rows where it does not hold (NULL counts as not)."""
    spans = f"NOT coalesce(({cond.spans}), FALSE)"
    if cond.traces is not None and not cond.span_level:
        traces = f"NOT coalesce(({cond.traces}), FALSE)"
    else:
        traces = f"root_span_id NOT IN (SELECT root_span_id FROM logs WHERE {cond.spans})"
    return Condition(f"not {cond.label}", spans, traces)


def _copy(cond: Condition) -> Condition:
    return Condition(
        cond.label, cond.spans, cond.traces, cond.span_level, cond.absorbed_by, cond.per_span, (0, 0), cond.trace_level
    )


def turns_from_history(history: list[Any]) -> list[Turn]:
    """Earlier questions from the conversation's messages (the session's ``Message`` list), oldest
    first; the question being answered now (the last user message) is not included."""
    turns: list[Turn] = []
    for message in history:
        kind = getattr(message, "kind", "")
        if kind == "user":
            turns.append(Turn(message.text))
        elif turns and kind == "assistant":
            turns[-1].calls += [dict(c) for c in message.data.get("tool_calls", [])]
        elif turns and kind in ("tool_result", "artifact"):
            turns[-1].artifacts += list(message.artifacts)
    return turns[:-1]


def turns_from_messages(messages: list[dict[str, Any]]) -> list[Turn]:
    """The same from provider-neutral messages (no artifacts: the calls' own inputs stand in)."""
    turns: list[Turn] = []
    for message in messages:
        if message["role"] == "user":
            for text in str(message["content"]).split("\n\n"):
                turns.append(Turn(text))
        elif turns and message["role"] == "assistant":
            turns[-1].calls += [dict(c) for c in message.get("tool_calls", [])]
    return turns[:-1]
