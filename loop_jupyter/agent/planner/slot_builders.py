"""Slot builders: a regular-expression match → a :class:`Condition`, a problem text, or nothing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from ..models import MODEL_TABLE
from .conditions import (
    Condition,
    Slots,
    TraceRef,
    _fmt,
    _lit,
    _number,
    _op,
    _Rematch,
    _unit,
)
from .facts import Facts

# -- slot builders ------------------------------------------------------------------------------------------
SlotResult = Condition | str | None  # a condition, a problem (str), or nothing


def _relative_time(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    n = _number(m.group("n")) if m.group("n") else 1
    unit = m.group("unit").lower().rstrip("s")
    unit = {"min": "minute", "hr": "hour", "h": "hour", "d": "day", "wk": "week", "mo": "month"}.get(unit, unit)
    if unit == "week":
        n, unit = n * 7, "day"
    if unit == "month":
        n, unit = n * 30, "day"
    sql = f"created > now() - interval {_fmt(n)} {unit}"
    return Condition(f"created in the last {_fmt(n)} {unit}{'s' if n != 1 else ''}", sql, sql)


def _yesterday(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    sql = "created >= date_trunc('day', now()) - interval 1 day AND created < date_trunc('day', now())"
    return Condition("created yesterday (UTC)", sql, sql)


def _today(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    sql = "created >= date_trunc('day', now())"
    return Condition("created today (UTC)", sql, sql)


def _this_period(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    unit = m.group("unit").lower()
    sql = f"created >= date_trunc('{unit}', now())"
    return Condition(f"created this {unit} (UTC)", sql, sql)


MONTHS = {name: i for i, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}  # fmt: skip
MONTH_RE = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE_RE = rf"(?P<date>\d{{4}}-\d{{2}}-\d{{2}}|{MONTH_RE}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH_RE}(?:\s+\d{{4}})?)"


def _parse_date(text: str) -> date | None:
    text = text.strip().lower().replace(",", "")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    month = next((MONTHS[w[:3]] for w in re.findall(r"[a-z]+", text) if w[:3] in MONTHS), None)
    numbers = [int(x) for x in re.findall(r"\d+", text)]
    if month is None or not numbers:
        return None
    day = numbers[0] if numbers[0] <= 31 else None
    year = next((x for x in numbers if x > 31), None)
    if day is None:
        return None
    today = datetime.now(UTC).date()
    if year is None:
        year = today.year if date(today.year, month, day) <= today else today.year - 1
    return date(year, month, day)


def _since(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    day = _parse_date(m.group("date"))
    if day is None:
        return f"I could not read the date {m.group('date')!r}"
    word = m.group("word").lower()
    if word in ("before", "until"):
        sql = f"created < TIMESTAMP '{day.isoformat()}'"
        return Condition(f"created before {day.isoformat()}", sql, sql)
    if word == "on":
        sql = f"created >= TIMESTAMP '{day.isoformat()}' AND created < TIMESTAMP '{day.isoformat()}' + interval 1 day"
        return Condition(f"created on {day.isoformat()}", sql, sql)
    sql = f"created >= TIMESTAMP '{day.isoformat()}'"
    return Condition(f"created since {day.isoformat()}", sql, sql)


def _duration(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    seconds = _number(m.group("n")) * _unit(m.group("unit"))
    op = _op(m.group("op"))
    slots.threshold_s = seconds
    sql = f"duration {op} {_fmt(seconds)}"
    # A duration next to a span type is about those spans; otherwise about the trace when asked for traces.
    return Condition(
        f"duration {op} {_fmt(seconds)} s",
        sql,
        sql,
        absorbed_by="threshold_s" if op in (">", ">=") else "",
        per_span=True,
    )


TOKEN_KINDS = {"prompt": ("prompt_tokens", "total_prompt_tokens"), "input": ("prompt_tokens", "total_prompt_tokens"),
               "completion": ("completion_tokens", "total_completion_tokens"),
               "output": ("completion_tokens", "total_completion_tokens"), "": ("tokens", "total_tokens")}  # fmt: skip


def _tokens(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    count = _number(m.group("n"))
    op = _op(m.group("op"))
    span_col, trace_col = TOKEN_KINDS[(m.group("kind") or "").strip().lower()]
    return Condition(
        f"{span_col} {op} {_fmt(count)}",
        f"{span_col} {op} {_fmt(count)}",
        f"{trace_col} {op} {_fmt(count)}",
        per_span=True,
    )


def _cost(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    value = _number(m.group("n"))
    op = _op(m.group("op"))
    return Condition(f"cost {op} ${value:g}", f"cost {op} {value:g}", f"total_cost {op} {value:g}", per_span=True)


def _score_key(name: str, facts: Facts) -> str | None:
    wanted = re.sub(r"[\s_-]", "", name.lower())
    for key in facts.score_keys:
        if re.sub(r"[\s_-]", "", key.lower()) == wanted:
            return key
    return None


def _score(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    name = (m.group("name") or "").strip()
    key = _score_key(name, facts) if name else None
    if key is None:
        if name and name.lower() not in ("the", "a", "its", "their", "any", "with", "whose", "where"):
            known = ", ".join(facts.score_keys) or "none"
            return f"there is no score named {name!r} in these logs (scores present: {known})"
        if len(facts.score_keys) != 1:
            known = ", ".join(facts.score_keys) or "none"
            return f"which score? Name one of: {known}"
        key = facts.score_keys[0]
    value = _number(m.group("n").rstrip("%")) / (100 if m.group("n").endswith("%") else 1)
    op = _op(m.group("op"))
    sql = f"scores.{_ident(key)} {op} {value:g}"
    return Condition(f"{key} score {op} {value:g}", sql, sql)


def _ident(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_]\w*", key) else '"' + key.replace('"', '""') + '"'


SPAN_TYPE_WORDS = {"llm": "llm", "model": "llm", "tool": "tool", "task": "task", "function": "function",
                   "score": "score", "scorer": "score", "eval": "eval", "retrieval": "function"}  # fmt: skip


def _span_type(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    word = m.group("kind").lower()
    span_type = SPAN_TYPE_WORDS.get(word, word)
    slots.has_span_type = True
    trace_counts = {"llm": "llm_calls > 0", "tool": "tool_calls > 0"}
    return Condition(f"{span_type} spans", f"type = {_lit(span_type)}", trace_counts.get(span_type), span_level=True)


def _root(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    return Condition("root spans", "is_root", "TRUE")


def _named(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    name = m.group("name").strip("'\"")
    known = {n.lower(): n for n in facts.names}
    name = known.get(name.lower(), name)
    return Condition(f"named {name}", f"name = {_lit(name)}", None, span_level=True)


def _user(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    raw = m.group("user").strip("'\" ")
    lower = raw.lower()
    if lower not in facts.user_values:
        # "for Ada" when the logs know "Ada Lovelace": take the unique value that starts so.
        starts = [v for k, v in facts.user_values.items() if k.startswith(lower + " ") or k == lower]
        if len(starts) != 1:
            if isinstance(m, _Rematch) and m.group("bare"):
                return None  # "classify user intents": a word after "user", not a user
            known = ", ".join(sorted(facts.user_values.values())[:10]) or "none"
            return f"no user {raw!r} in these logs (users include: {known})"
        lower = starts[0].lower()
    value = facts.user_values[lower]
    meta_key = facts.users[lower]
    cond = Condition(f"user {value}", f"metadata.{meta_key} = {_lit(value)}", f"\"user\" = {_lit(value)}"
                     if meta_key in ("user", "user_id") else None, span_level=meta_key not in ("user", "user_id"))  # fmt: skip
    return _reach_trace(cond) if meta_key in facts.root_only_keys else cond


def _reach_trace(cond: Condition) -> Condition:
    """A condition on a trace-level attribute recorded on root spans only ("user John Smith" in the
    demo): on spans it selects every span of the traces that carry it, not just their root spans."""
    cond.spans = f"root_span_id IN (SELECT root_span_id FROM logs WHERE {cond.spans})"
    cond.trace_level = True
    return cond


def _known_user(m: re.Match[str], text: str, facts: Facts) -> re.Match[str]:
    """The user named after "user": the longest value recorded in the logs that the question spells
    from there, so a name of several words is read whole ("from user John Smith", "user Fatima
    Al-Sayed"); otherwise the one word the pattern took. The value comes from the logs (facts), not
    from a guess at how many words a name has."""
    group = "user" if m.group("user") is not None else "user2"
    raw = m.group(group)
    bare = group == "user2"
    start = m.start(group)
    rest = text[start:].lower()
    best = ""
    if raw[:1] not in ("'", '"'):
        for lower in facts.user_values:
            longer = len(lower) > max(len(raw), len(best)) and rest.startswith(lower)
            if longer and not re.match(r"[\w@-]|\.\w", rest[len(lower) :]):  # a whole name, not a word's start
                best = lower
    if best:
        return _Rematch(m, "user", text[start : start + len(best)], bare=bare, end=start + len(best))  # type: ignore[return-value]
    return _Rematch(m, "user", raw, bare=True) if bare else m  # type: ignore[return-value]


def _model_tokens(text: str) -> set[str]:
    tokens = set(re.split(r"[-_.:/\s]+", text.lower())) - {""}
    return {t for t in tokens if not re.fullmatch(r"\d{6,}", t) and t not in ("latest",)}


def _model(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    mention = m.group("model").lower().rstrip(".")
    api = MODEL_TABLE.get(mention)
    wanted = _model_tokens(api[1] if api and api[0] != "offline" else mention)
    matches = [model for model in facts.models if wanted <= _model_tokens(model)]
    if not matches:
        known = ", ".join(facts.models[:10]) or "none"
        return f"no spans use a model matching {mention!r} (models present: {known})"
    listed = ", ".join(_lit(x) for x in matches)
    sql = f"model = {_lit(matches[0])}" if len(matches) == 1 else f"model IN ({listed})"
    return Condition(f"model {mention}", sql, f"list_has_any(models, [{listed}])")


def _tag(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    tag = m.group("tag").strip("'\"")
    known = {t.lower(): t for t in facts.tags}
    if tag.lower() not in known:
        if m.group("explicit"):
            return f"no tag {tag!r} in these logs (tags: {', '.join(facts.tags[:20]) or 'none'})"
        return None  # "in staging" where staging is no tag: not a tag slot after all
    tag = known[tag.lower()]
    cond = Condition(f"tagged {tag}", f"{_lit(tag)} IN tags", f"{_lit(tag)} IN tags")
    return _reach_trace(cond) if tag in facts.root_only_tags else cond


ERROR_KINDS: dict[str, tuple[str, ...]] = {
    "rate limit": ("rate limit", "rate_limit", "ratelimit", "429", "too many requests"),
    "timeout": ("timeout", "timed out", "time out", "deadline exceeded"),
    "context window": ("context window", "context length", "context_length", "too long", "maximum context",
                       "too many tokens"),
    "authentication": ("401", "403", "unauthorized", "authentication", "permission denied", "api key"),
    "overloaded": ("overloaded", "529", "503", "unavailable"),
}  # fmt: skip


def _trace_count(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    """ "traces with more than 5 errors", "over 10 LLM calls": a count of the trace's spans."""
    what = re.sub(r"\s+", " ", m.group("what").lower())
    column = TRACE_MEASURES.get(what) or TRACE_MEASURES[what + "s"]
    op, count = _op(m.group("op")), _fmt(_number(m.group("n")))
    sql = f"{column} {op} {count}"
    return Condition(
        f"{TRACE_UNITS.get(column, column)} per trace {op} {count}",
        f"root_span_id IN (SELECT root_span_id FROM traces WHERE {sql})",
        sql,
    )


def _error_kind(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    text = m.group(0).lower()
    kind = next(
        (k for k, words in ERROR_KINDS.items() if any(w.split()[0] in text for w in (k, *words))),
        "timeout",
    )
    ors = " OR ".join(f"error ILIKE {_lit('%' + w + '%')}" for w in ERROR_KINDS[kind])
    return Condition(f"{kind} errors", ors, None, span_level=True)


#: Tags some exporters use to mark a failed run that carries no error message (tau-bench: "failed").
FAILURE_TAGS = ("failed", "failure", "error", "errored")


def _errors(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    # Next to a span type or a span name ("traces where deploy_app failed") the error is that span's.
    typed = re.search(r"\b(?P<kind>llm|model|tool)\s+$", m.string[: m.start()], re.IGNORECASE)
    if typed and m.group(0).lower().startswith(("error", "failure")):
        # "tool errors", "LLM failures": failed spans of that type, not any error in the trace. The
        # type word stays in the question, so a tool phrase ("model errors") still routes.
        span_type = SPAN_TYPE_WORDS[typed.group("kind").lower()]
        sql = f"type = {_lit(span_type)} AND error IS NOT NULL"
        return Condition(f"{span_type} spans with errors", sql, None, span_level=True)
    tags = [t for t in facts.tags if t.lower() in FAILURE_TAGS]
    if not tags:
        return Condition("with errors", "error IS NOT NULL", "has_error", per_span=True)
    tagged = " OR ".join(f"list_contains(tags, {_lit(t)})" for t in tags)
    label = "with errors or tagged " + "/".join(tags)
    return Condition(label, f"(error IS NOT NULL OR {tagged})", f"(has_error OR {tagged})", per_span=True)


#: What "slow traces" means without a threshold: the slow_requests tool's default (threshold_s).
SLOW_S = 60.0


def _slow(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    """ "slow traces" with no duration given: traces over :data:`SLOW_S` (a duration wins)."""
    if slots.threshold_s is not None or any(c.label.startswith("duration") for c in slots.conditions):
        return None
    sql = f"duration > {_fmt(SLOW_S)}"
    return Condition(
        f"slow (duration > {_fmt(SLOW_S)} s)",
        f"root_span_id IN (SELECT root_span_id FROM traces WHERE {sql})",
        sql,
        absorbed_by="threshold_s",
    )


def _no_errors(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    return Condition("without errors", "error IS NULL", "NOT has_error")


def _contains(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    text = m.group("text")
    slots.quoted.append(text)
    fields = [m.group("field").lower()] if m.group("field") else ["input", "output"]
    like = _lit("%" + text.replace("%", r"\%") + "%")
    sql = " OR ".join(f"{f} ILIKE {like}" for f in fields)
    return Condition(f"{' or '.join(fields)} containing {text!r}", sql, sql)


def _limit(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    slots.limit = int(_number(m.group("n")))
    return None


def _trace_id(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    raw = m.group("id").strip("'\"")
    resolved = _resolve_id(raw, facts, slots)
    if resolved is None:
        if len(raw) < 6 and facts.trace_prefix(raw, 1):
            return f"trace {raw!r} is too short to name one trace: give at least 6 characters of its id"
        return f"no trace {raw!r} in these logs (not an id, nor the start of one)"
    if resolved.startswith("!"):
        return resolved[1:]
    slots.root_span_id = resolved
    return None


def _resolve_id(raw: str, facts: Facts, slots: Slots) -> str | None:
    """A full trace id for ``raw``: itself when it is one, else the one id it starts (a prefix of at
    least 6 characters); "!problem" when the prefix is ambiguous; None when nothing matches."""
    if facts.trace_ids([raw]):
        return raw
    if len(raw) < 6:
        return None
    found = facts.trace_prefix(raw, 3)
    if len(found) == 1:
        slots.notes.append(f"trace {raw} is {found[0]}")
        return found[0]
    if found:
        return f"!trace {raw!r} is ambiguous: it starts {', '.join(found[:2])}{' and more' if len(found) > 2 else ''}"
    return None


#: "the slowest trace": superlative words → (ORDER BY column on the traces view, descending, unit).
TRACE_ORDERS: dict[str, tuple[str, bool]] = {
    "slowest": ("duration", True), "longest": ("duration", True), "fastest": ("duration", False),
    "quickest": ("duration", False), "shortest": ("duration", False),
    "most expensive": ("total_cost", True), "priciest": ("total_cost", True), "costliest": ("total_cost", True),
    "cheapest": ("total_cost", False), "least expensive": ("total_cost", False),
    "biggest": ("span_count", True), "largest": ("span_count", True), "smallest": ("span_count", False),
    "deepest": ("max_depth", True),
    "latest": ("created", True), "most recent": ("created", True), "last": ("created", True),
    "newest": ("created", True), "oldest": ("created", False), "earliest": ("created", False),
    "first": ("created", False),
}  # fmt: skip
#: "the trace with the most errors": counted things → traces-view column.
TRACE_MEASURES: dict[str, str] = {
    "errors": "error_count", "error": "error_count", "tokens": "total_tokens", "token": "total_tokens",
    "spans": "span_count", "span": "span_count", "steps": "span_count", "llm calls": "llm_calls",
    "model calls": "llm_calls", "tool calls": "tool_calls", "cost": "total_cost", "latency": "duration",
    "duration": "duration", "prompt tokens": "total_prompt_tokens", "completion tokens": "total_completion_tokens",
    "depth": "max_depth",
}  # fmt: skip
MOST = {"most": True, "highest": True, "largest": True, "biggest": True, "longest": True, "greatest": True,
        "fewest": False, "least": False, "lowest": False, "smallest": False}  # fmt: skip
TRACE_NOUN = r"(?P<noun>trace|request|conversation|interaction)\b(?!-)"


def _trace_superlative(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    word = re.sub(r"\s+", " ", m.group("sup").lower())
    column, descending = TRACE_ORDERS[word]
    slots.trace_ref = TraceRef(f"the {word} {m.group('noun').lower()}", "order", column, descending)
    adj = (m.group("adj") or "").lower()
    if adj:  # "the most recent failed trace": the trace is chosen among those with (without) errors
        cond = _no_errors(m, facts, slots) if adj in ("successful", "error-free") else _errors(m, facts, slots)
        if isinstance(cond, Condition):
            cond.span = (0, 0)  # part of the reference: never "inside" a tool phrase, never content
            slots.conditions.append(cond)
    return None


def _trace_most(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    measure = re.sub(r"\s+", " ", m.group("measure").lower())
    most = m.group("most").lower()
    label = f"the {m.group('noun').lower()} with the {most} {measure}"
    slots.trace_ref = TraceRef(label, "order", TRACE_MEASURES[measure], MOST[most])
    return None


def _trace_any(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    slots.trace_ref = TraceRef(f"a {m.group('noun').lower()}", "any")
    return None


def _trace_this(m: re.Match[str], facts: Facts, slots: Slots) -> SlotResult:
    slots.trace_ref = TraceRef(f"this {m.group('noun').lower()}", "this")
    return None


TRACE_UNITS = {"error_count": "errors", "total_tokens": "tokens", "total_prompt_tokens": "prompt tokens",
               "total_completion_tokens": "completion tokens", "span_count": "spans", "llm_calls": "LLM calls",
               "tool_calls": "tool calls", "max_depth": "levels deep"}  # fmt: skip
