"""Follow-ups read against the conversation's state (:mod:`.state`).

A follow-up becomes a question the planner answers by itself, plus a :class:`~.state.Carry` of
conditions, or a direct tool call:

- narrowing: "now only for gpt models", "just last week", "exclude staging", "only errors",
  "and for last week?" → the earlier question with the condition added (one of the same kind —
  time, user, model, tag, ... — replaced);
- pivoting: "by model instead" (the earlier question grouped otherwise), "as a chart" (its rows
  charted), "show the slowest one" (the slowest trace of its result);
- why: "why?" → root causes of the earlier result's traces against the rest;
- references: "those traces" (the earlier result), "that user" (the user it named), "the second
  group" (that row of its table).

What it cannot read is refused by the planner, saying what it understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...tools import ToolContext
from .aggregates import GROUPS, _group_match
from .conditions import Condition, _lit
from .extraction import _unknown, extract
from .facts import Facts
from .planning import plan
from .routing import AGGREGATE_WORDS, _route
from .slot_builders import _reach_trace
from .state import Carry, Turn, kind_of, negate, traces_where


@dataclass
class Reading:
    """How a question reads against the conversation."""

    question: str
    carry: Carry = field(default_factory=Carry)
    #: Said at the top of the answer: how the follow-up was read ("" for a question of its own).
    read_as: str = ""
    #: Calls to make directly ("why?" → root_causes, "as a chart" → chart).
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: A refusal saying what was understood.
    message: str = ""


LEAD = re.compile(
    r"^\s*(?:(?:and|now|but|ok(?:ay)?|so|then|also|what about|how about|what if|same(?: thing| question)?(?: but)?"
    r"|only|just|instead|restrict (?:it |that |them )?to|narrow (?:it |that |them )?(?:down )?to|"
    r"filter (?:it |that |them )?(?:down )?to)\b[\s,]*)+",
    re.IGNORECASE,
)
EXCLUDE = re.compile(
    r"^(?:exclude|excluding|except(?: for)?|without|not|minus|leave out|drop|remove|filter out|ignore|ignoring|"
    r"no more)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
WHY = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+|ok\s+)?(?:why|why (?:is|was) that|why did (?:that|this|it|they|those|these)"
    r"(?: \w+)?(?: (?:fail|break|go wrong|error|time out|take so long|happen))?|what caused (?:that|this|it|them|those)|(?:what are |show )?(?:the )?root causes?"
    r"(?: of (?:that|those|these|them|it))?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
CHART = re.compile(
    r"\b(?:as|in|into|on) an? (?:bar |line )?(?:chart|plot|graph)\b|^\s*(?:show (?:me )?)?(?:chart|plot|graph|"
    r"visuali[sz]e)\s+(?:it|that|this|those|these|them)\b",
    re.IGNORECASE,
)
ONE = re.compile(
    r"\b(?:the\s+)?(?P<sup>slowest|longest|fastest|quickest|shortest|most expensive|priciest|costliest|cheapest|"
    r"biggest|largest|smallest|deepest|latest|most recent|newest|oldest|earliest)\s+(?:one|of (?:them|those|these))\b",
    re.IGNORECASE,
)
ORDINALS = {"first": 1, "top": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "last": -1}  # fmt: skip
ORDINAL = re.compile(
    rf"\b(?:the\s+)?(?P<n>{'|'.join(ORDINALS)}|\d+(?:st|nd|rd|th))\s+(?:group|row|one|bucket|entry|result|line)\b",
    re.IGNORECASE,
)
THOSE = re.compile(
    r"\b(?:those|these|the same)\s+(?P<noun>traces?|requests?|conversations?|spans?|rows|results|ones|errors)\b"
    r"|\b(?:of|for|in|from|do|did|does|are|were)\s+(?:them|those|these)\b",
    re.IGNORECASE,
)
THAT = re.compile(r"\b(?:that|this|the same)\s+(?P<what>user|model)\b", re.IGNORECASE)
PIVOT = re.compile(
    rf"\b(?:by|per|broken down by|grouped by|group(?:ed)? by|split by)\s+(?P<g>{'|'.join(GROUPS)})\b",
    re.IGNORECASE,
)
#: Words a follow-up may leave over without changing its meaning.
FILLER = r"\b(?:instead|too|as well|please|then|only|just|now|again|the same|same|thing|question|but|also|rather)\b"


def replay(turns: list[Turn], facts: Facts, ctx: ToolContext | None) -> Turn | None:
    """Read every earlier question in order (a follow-up of a follow-up builds on the first), filling
    each turn's ``question`` and ``carry``; returns the turn the next question follows."""
    last: Turn | None = None
    for turn in turns:
        reading = read(turn.asked, last, facts, ctx)
        turn.question, turn.carry = reading.question, reading.carry
        if turn.calls and not reading.calls:
            last = turn
        # "why?", "as a chart": a view of the earlier answer, which the next follow-up still refers to
    return last


def read(asked: str, previous: Turn | None, facts: Facts, ctx: ToolContext | None) -> Reading:
    """How ``asked`` reads after ``previous`` (a question of its own when it is no follow-up)."""
    if previous is None:
        return Reading(asked)
    since = f"Follow-up to {previous.asked!r}"
    if WHY.match(asked):
        return _why(previous, since)
    chart = CHART.search(asked)
    if chart and _only_pivot(_blank(asked, chart)):  # "plot errors per day as a chart" is its own question
        return _chart(previous, since)
    text = asked
    that = THAT.search(text)
    said = ""
    if that:
        value = _that(previous, that.group("what").lower(), ctx)
        if value is None:
            return Reading(asked, message=f"{since}: I could not tell which {that.group('what')} "
                           f"{that.group(0)!r} is — the last answer names no single {that.group('what')}.")  # fmt: skip
        said = f"{that.group(0)!r} = {value}"
        text = text[: that.start()] + f"{that.group('what').lower()} {_lit(value)}" + text[that.end() :]
    one = ONE.search(text)
    if one:
        cond = previous.result_condition()
        if cond is None:
            return Reading(asked, message=f"{since}: the last answer has no traces to choose {one.group(0)!r} from.")
        question = f"the {one.group('sup').lower()} trace"
        return Reading(question, Carry(add=[cond]), f"{since}: {question} of its result")
    ordinal = ORDINAL.search(text)
    if ordinal:
        return _ordinal(previous, ordinal, facts, since)
    those = THOSE.search(text)
    if those:
        cond = previous.result_condition()
        if cond is None:
            return Reading(
                asked, message=f"{since}: the last answer selected no traces or spans for {those.group(0)!r}."
            )
        noun = (those.group("noun") or "").lower()
        word = (
            "spans"
            if noun.startswith("span") or (noun in ("rows", "results", "ones", "") and cond.traces is None)
            else "traces"
        )
        rest = text[: those.start()] + (f" {word} " if noun else " ") + text[those.end() :]
        if not re.search(r"\b(spans?|traces?|requests?|conversations?)\b", rest, re.IGNORECASE):
            rest += f" {word}"
        return Reading(rest.strip(), Carry(add=[cond]), f"{since}: {those.group(0).strip()} = {cond.label}")
    pivot = PIVOT.search(text)
    lead = LEAD.match(text)
    if pivot and _only_pivot(_blank(text, pivot)):
        return _pivot(previous, text, pivot, facts, since)
    rest = text[lead.end() :] if lead else text
    excluded = EXCLUDE.match(rest.strip())
    if not lead and not excluded:
        return Reading(text, read_as=f"{since}: {said}" if that else "")
    if pivot:  # "now only gpt models, by user": narrowed, then grouped
        narrowed = _narrow(previous, asked, _blank(text, pivot), _blank(text, pivot)[len(text) - len(rest) :],
                           bool(excluded), facts, since, ctx)  # fmt: skip
        if narrowed.message or narrowed.question != previous.question:
            return narrowed
        changed = Turn(previous.asked, previous.question, narrowed.carry, previous.calls, previous.artifacts)
        regrouped = _pivot(changed, text, pivot, facts, since)
        new = [c for c in narrowed.carry.add if c not in previous.carry.add]
        if not regrouped.message and previous.tool not in ("run_sql", "generate_filter"):
            regrouped.carry = Carry([*regrouped.carry.add, *new])
        labels = ", ".join(c.label for c in new)
        regrouped.read_as = f"{since}: the same question, {labels}, by {pivot.group('g').lower()}"
        return regrouped
    return _narrow(previous, asked, text, rest, bool(excluded), facts, since, ctx)


def _only_pivot(rest: str) -> bool:
    """True when nothing but the grouping is asked ("by model instead", "now per user?", "break it
    down by model"): "average latency by model" is a question of its own."""
    rest = LEAD.sub(" ", rest)
    rest = re.sub(FILLER, " ", rest, flags=re.IGNORECASE)
    words = re.findall(r"[a-z]+", rest.lower())
    return all(w in PIVOT_WORDS for w in words)


#: Words around a bare grouping follow-up.
PIVOT_WORDS = {"show", "it", "that", "this", "them", "those", "break", "down", "split", "group", "grouped", "me",
               "what", "about", "how", "can", "you", "do", "same", "the", "results", "and", "now", "as", "a", "an", "bar",
               "line", "please", "could", "make", "draw", "plot", "chart", "graph", "one", "instead"}  # fmt: skip


def conditions_of(turn: Turn, facts: Facts) -> list[Condition]:
    """The conditions an earlier question was answered with (its own words plus its follow-ups')."""
    return turn.carry.apply(extract(turn.question, facts).conditions)


def _blank(text: str, m: re.Match[str]) -> str:
    return text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]


def _why(previous: Turn, since: str) -> Reading:
    if previous.tool == "root_causes":
        return Reading(previous.asked, message=f"{since}: that answer already lists root causes (over-represented "
                       "features, with lift); ask about another symptom, e.g. 'why do deploys fail?'.")  # fmt: skip
    cond = previous.result_condition()
    if cond is None:
        return Reading(previous.asked, message=f"{since}: I read 'why?' as the root causes of the last answer's "
                       "traces, but it selected no traces (it is a summary of the logs); ask about a symptom, "
                       "e.g. 'why do deploys fail?'.")  # fmt: skip
    said = previous.asked if not previous.carry.add else f"{previous.asked} ({', '.join(previous.carry.labels())})"
    call = {"name": "root_causes", "input": {"where": traces_where(cond), "description": said}}
    return Reading(previous.question, previous.carry, f"{since}: root causes of {cond.label}", calls=[call])


def _chart(previous: Turn, since: str) -> Reading:
    if previous.tool == "chart":
        return Reading(previous.asked, message=f"{since}: the last answer is a chart already.")
    if previous.tool == "run_sql":
        query = str(previous.input.get("query", ""))
        what = "its rows"
    else:
        cond = previous.result_condition()
        if cond is None:
            return Reading(previous.asked, message=f"{since}: I read this as a chart of the last answer, but it has "
                           "no rows I can chart; ask e.g. 'plot latency' or 'errors by day'.")  # fmt: skip
        table, where = ("logs", cond.spans) if cond.traces is None else ("traces", cond.traces)
        query = (f"SELECT date_trunc('day', created) AS day, count(*) AS {'spans' if table == 'logs' else 'traces'} "
                 f"FROM {table} WHERE {where} GROUP BY 1 ORDER BY 1")  # fmt: skip
        what = f"{cond.label} per day"
    call = {"name": "chart", "input": {"query": query, "description": previous.asked}}
    return Reading(previous.question, previous.carry, f"{since}: a chart of {what}", calls=[call])


def _that(previous: Turn, what: str, ctx: ToolContext | None) -> str | None:
    """The user (model) the last answer is about: its table's first row, or its one trace's."""
    # The table that lists the users (models) first ("Frustrated users"), else one that has them.
    tables = [t for t in previous.tables() if what in t.columns and t.height]
    tables.sort(key=lambda t: t.columns[0] != what)
    if tables:
        value = tables[0].get_column(what).drop_nulls()
        return str(value[0]) if value.len() else None
    root = previous.input.get("root_span_id")
    if root and ctx is not None:
        column = '"user"' if what == "user" else "models[1]"
        frame = ctx.sql(f"SELECT {column} AS v FROM traces WHERE root_span_id = {_lit(str(root))}")
        return str(frame.item()) if frame.height and frame.item() is not None else None
    return None


def _ordinal(previous: Turn, m: re.Match[str], facts: Facts, since: str) -> Reading:
    word = m.group("n").lower()
    n = ORDINALS.get(word) or int(re.sub(r"\D", "", word))
    table = previous.table()
    query = str(previous.input.get("query", ""))
    if table is None or previous.tool != "run_sql" or " GROUP BY " not in query or table.width < 2:
        why = ("that answer has no groups I can select by" if previous.tool in ("run_sql", "generate_filter", "")
               else f"I cannot turn a row of {previous.tool}'s table into a filter offline")  # fmt: skip
        return Reading(previous.asked, message=f"{since}: I read {m.group(0).strip()!r} as a row of the last answer's "
                       f"groups, but {why} (ask e.g. 'errors by model' first, then 'the second group').")  # fmt: skip
    if not -table.height <= (n - 1 if n > 0 else n) < table.height:
        return Reading(previous.asked, message=f"{since}: the last answer has {table.height} groups, no {word}.")
    column = table.columns[0]
    value = table.get_column(column)[n - 1 if n > 0 else n]
    cond = _group_condition(column, value, query)
    if cond is None:
        return Reading(previous.asked, message=f"{since}: I cannot select the {column} group {value!r} as a filter.")
    shape = "traces" if re.search(r"\bFROM traces\b", query) else "spans"
    conds = [c for c in conditions_of(previous, facts) if kind_of(c) != kind_of(cond)]
    return Reading(shape, Carry(add=[*conds, cond]), f"{since}: the {word} group, {cond.label}")


def _group_condition(column: str, value: Any, query: str) -> Condition | None:
    """A condition selecting one group of an aggregate ("the second group" of "errors by model")."""
    if value is None:
        return None
    if isinstance(value, datetime):
        unit = re.search(rf"date_trunc\('(\w+)', created\) AS {re.escape(column)}", query)
        if not unit:
            return None
        iso = value.isoformat(sep=" ")
        sql = f"date_trunc('{unit.group(1)}', created) = date_trunc('{unit.group(1)}', TIMESTAMPTZ {_lit(iso)})"
        return Condition(f"created in the {unit.group(1)} of {value:%Y-%m-%d %H:%M}", sql, sql)
    v = _lit(str(value))
    if column == "model":
        return Condition(f"model {value}", f"model = {v}", f"list_has_any(models, [{v}])")
    if column in ("name", "tool"):
        return Condition(f"named {value}", f"name = {v}", None, span_level=True)
    if column == "type":
        return Condition(f"{value} spans", f"type = {v}", None, span_level=True)
    if column == "user":
        return Condition(f"user {value}", f'root_span_id IN (SELECT root_span_id FROM traces WHERE "user" = {v})',
                         f'"user" = {v}', trace_level=True)  # fmt: skip
    if column == "tag":
        return Condition(f"tagged {value}", f"{v} IN tags", f"{v} IN tags")
    key = re.search(rf"metadata\.(\w+) AS {re.escape(column)}\b", query)
    if key:
        sql = f"metadata.{key.group(1)} = {v}"
        return Condition(f"{key.group(1)} {value}", sql, sql)
    return None


def _pivot(previous: Turn, text: str, pivot: re.Match[str], facts: Facts, since: str) -> Reading:
    group = pivot.group("g").lower()
    if previous.tool in ("run_sql", "generate_filter"):
        base = previous.question
        old = _group_match(base.lower())
        if old and old.re.pattern.startswith(r"\b(?:by|per"):
            base = _blank(base, old)
        question = f"{base.strip()} by {group}"
        return Reading(question, previous.carry, f"{since}: the same question by {group}")
    cond = previous.result_condition()
    if cond is None:
        return Reading(previous.asked, message=f"{since}: I read this as the last answer by {group}, but "
                       f"{previous.tool} selected no rows I can group.")  # fmt: skip
    return Reading(f"count by {group}", Carry(add=[cond]), f"{since}: {cond.label}, counted by {group}")


def _narrow(
    previous: Turn,
    asked: str,
    text: str,
    rest: str,
    excluding: bool,
    facts: Facts,
    since: str,
    ctx: ToolContext | None,
) -> Reading:
    body = rest.strip()
    if excluding:
        m = EXCLUDE.match(body)
        assert m is not None
        positive = extract(body, facts)  # "without errors" is a condition of its own
        if positive.conditions and not re.match(
            r"(?:exclude|excluding|except|not|minus|drop|remove|filter out|ignor)", body, re.I
        ):
            excluding = False
        else:
            body = m.group("rest")
    body = re.sub(FILLER, " ", body.strip(" ?.!"), flags=re.IGNORECASE)
    slots = extract(body, facts)
    conds = list(slots.conditions)
    leftover: str = slots.leftover  # type: ignore[attr-defined]
    if not conds:
        conds, leftover = _bare_values(leftover, facts)
    understood = [c.label for c in conds]
    if slots.problems:
        return Reading(asked, message=_refuse(since, understood, problems=slots.problems))
    unknown = [w for w in _unknown(leftover, facts) if w.lower() not in ("for", "in", "from", "on", "with")]
    asks = _route(body, leftover) is not None or AGGREGATE_WORDS.search(body) or _group_match(body.lower())
    if not conds or unknown or asks or slots.root_span_id or slots.trace_ref:
        # "and what are the most common errors?": more than conditions, so a question of its own
        # when the planner answers it alone; else refused as a follow-up, saying what was understood.
        alone = rest.strip()
        if ctx is not None and not excluding and alone and plan(alone, ctx).tool_calls:
            return Reading(alone)
        return Reading(asked, message=_refuse(since, understood, words=unknown))
    earlier = conditions_of(previous, facts)
    conds = [_calendar(c, body, earlier) for c in conds]
    if excluding:
        conds = [negate(c) for c in conds]
    kinds = {kind_of(c) for c in conds}
    carry = Carry([*[c for c in previous.carry.add if kind_of(c) not in kinds], *conds], previous.carry.drop | kinds)
    return Reading(previous.question, carry, f"{since}: the same question, {', '.join(c.label for c in conds)}")


def _bare_values(text: str, facts: Facts) -> tuple[list[Condition], str]:
    """A tag or metadata value named alone ("exclude staging"): in a follow-up a bare word that the
    logs hold as a tag (first) or a metadata value is that value."""
    words = text.strip()
    tags = {t.lower(): t for t in facts.tags}
    if words.lower() in tags:
        tag = _lit(tags[words.lower()])
        cond = Condition(f"tagged {tags[words.lower()]}", f"{tag} IN tags", f"{tag} IN tags")
        return [_reach_trace(cond) if tags[words.lower()] in facts.root_only_tags else cond], ""
    if words.lower() in facts.meta_values:
        key, value = facts.meta_values[words.lower()]
        sql = f"metadata.{key} = {_lit(value)}"
        cond = Condition(f"{key} {value}", sql, sql)
        return [_reach_trace(cond) if key in facts.root_only_keys else cond], ""
    return [], text


def _calendar(cond: Condition, text: str, earlier: list[Condition]) -> Condition:
    """ "and for last week?" after "this week": the calendar week before this one, not the last 7 days."""
    unit = re.search(r"\b(?:last|previous|past)\s+(week|month)\b", text, re.IGNORECASE)
    if not unit or not cond.label.startswith("created in the last"):
        return cond
    period = unit.group(1).lower()
    if not any(c.label == f"created this {period} (UTC)" for c in earlier):
        return cond
    sql = (f"created >= date_trunc('{period}', now()) - interval 1 {period} "
           f"AND created < date_trunc('{period}', now())")  # fmt: skip
    return Condition(f"created last {period} (UTC, the calendar {period} before this one)", sql, sql)


def _refuse(
    since: str, understood: list[str], *, words: list[str] | None = None, problems: list[str] | None = None
) -> str:
    parts = [f"{since}: I could not read this follow-up offline, so I did not run anything."]
    if understood:
        parts.append("I understood: " + "; ".join(understood) + ".")
    if problems:
        parts.append("Problem: " + "; ".join(problems) + ".")
    if words:
        parts.append("I did not understand: " + " ".join(f"'{w}'" for w in dict.fromkeys(words)) + ".")
    parts.append(
        "Follow-ups I read: narrowing ('now only for gpt models', 'just last week', 'exclude staging'), "
        "'by model instead', 'as a chart', 'show the slowest one', 'why?', 'those traces', 'that user', "
        "'the second group'."
    )
    return " ".join(parts)
