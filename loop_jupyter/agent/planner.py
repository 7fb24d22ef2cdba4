"""The offline planner: plain-language log questions → the tool calls a model would make.

Data-driven, in three steps:

1. **Slots.** Each entry of :data:`SLOTS` is a regular expression plus a builder that turns a match
   into a :class:`Condition` (SQL for the spans shape and for the traces shape) or a problem. The
   builders read the logs' own vocabulary (:class:`Facts`: score keys, users, models, tags), so
   "factuality" matches ``scores.Factuality`` and "sonnet" matches the sonnet models present.
2. **Intent.** Registered tools route by their ``phrases`` (analysis tools added by others need no
   change here; parameters are filled by name: ``where``, ``shape``, ``threshold_s``, ``limit``,
   ``root_span_id``, ...); superlatives and aggregates become ``run_sql``; anything else with
   conditions becomes ``generate_filter``.
3. **Honesty.** Words left over that are not vocabulary, or a score mentioned without a threshold,
   make the planner say what it did not understand instead of answering another question.

:class:`OfflineClient` wraps the planner in the chat-client interface, so the session runs the
same tool loop offline as with a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ..tools import REGISTRY, ToolContext
from .models import MODEL_TABLE, AssistantTurn, StreamCallback, ToolCall

CONNECT_HINT = (
    "For questions like this, connect a model: set ANTHROPIC_API_KEY (or OPENAI_API_KEY) and use "
    "model='claude-4.5-sonnet', or point model='openai-compatible:<model>@<url>' at a local server."
)

# -- facts about the logs (small, cached per frame) ----------------------------------------------------
USER_KEYS = ("user", "user_id", "userId", "user_name", "username", "email", "user_email")


@dataclass
class Facts:
    score_keys: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # lower value -> (metadata key) for exact value
    user_values: dict[str, str] = field(default_factory=dict)  # lower value -> value
    models: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    #: Names of tool spans ("deploy_app"), for "deploys" and "searches" in a question.
    tool_names: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    #: Low-cardinality metadata values: lower value -> (metadata key, value) ("2.8.0" -> app_version).
    meta_values: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Metadata keys present in the logs (for "by app version" groupings), and those on root spans.
    meta_keys: list[str] = field(default_factory=list)
    root_meta_keys: set[str] = field(default_factory=set)
    #: Which of some candidate strings are trace ids (root_span_id) in the logs.
    trace_ids: Callable[[list[str]], set[str]] = field(default=lambda ids: set())
    #: Up to ``limit`` trace ids starting with a prefix ("5f1c0c1e" for a UUID), sorted.
    trace_prefix: Callable[[str, int], list[str]] = field(default=lambda prefix, limit: [])


def facts_for(ctx: ToolContext) -> Facts:
    key = f"planner_facts:{id(ctx.logs)}"
    cached = ctx.cache.get(key)
    if cached is not None and cached[0] is ctx.logs:
        return cached[1]
    facts = Facts()
    logs = ctx.logs
    if logs.height:
        engine = ctx.engine
        facts.score_keys = engine.sql(
            "SELECT DISTINCT unnest(json_keys(scores)) AS k FROM logs WHERE json_type(scores) = 'OBJECT' LIMIT 500"
        )["k"].to_list()
        meta_keys = set(
            engine.sql(
                "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs "
                "WHERE json_type(metadata) = 'OBJECT' LIMIT 2000"
            )["k"].to_list()
        )
        for user_key in (k for k in USER_KEYS if k in meta_keys):
            values = engine.sql(
                f"SELECT DISTINCT metadata.{user_key} AS v FROM logs WHERE metadata.{user_key} IS NOT NULL LIMIT 5000"
            )["v"].to_list()
            for value in values:
                facts.users.setdefault(str(value).lower(), user_key)
                facts.user_values.setdefault(str(value).lower(), str(value))
        facts.meta_keys = sorted(meta_keys)
        facts.root_meta_keys = set(
            engine.sql(
                "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs "
                "WHERE is_root AND json_type(metadata) = 'OBJECT' LIMIT 2000"
            )["k"].to_list()
        )
        for meta_key in sorted(
            k for k in meta_keys if k not in (*USER_KEYS, "model") and re.fullmatch(r"[A-Za-z_]\w*", k)
        ):
            values = engine.sql(
                f"SELECT DISTINCT json_extract_string(metadata, '$.{meta_key}') AS v FROM logs "
                f"WHERE json_type(metadata, '$.{meta_key}') = 'VARCHAR' LIMIT 31"
            )["v"].to_list()
            if 0 < len(values) <= 30:
                for value in values:
                    facts.meta_values.setdefault(str(value).lower(), (meta_key, str(value)))
        facts.models = logs.get_column("model").drop_nulls().unique().sort().to_list()[:2000]
        facts.tags = logs.get_column("tags").explode().drop_nulls().unique().sort().to_list()[:2000]
        facts.names = logs.get_column("name").drop_nulls().unique().sort().to_list()[:2000]
        facts.types = logs.get_column("type").drop_nulls().unique().sort().to_list()
        facts.tool_names = (
            logs.filter(logs.get_column("type") == "tool")
            .get_column("name")
            .drop_nulls()
            .unique()
            .sort()
            .to_list()[:2000]
        )
        roots = logs.get_column("root_span_id")
        facts.trace_ids = lambda ids: set(roots.filter(roots.is_in(ids)).to_list()) if ids else set()
        unique_roots = roots.drop_nulls().unique().sort()
        facts.trace_prefix = lambda prefix, limit: (
            unique_roots.filter(unique_roots.str.starts_with(prefix)).head(limit).to_list()
        )
    ctx.cache[key] = (logs, facts)
    return facts


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
    return Condition(f"user {value}", f"metadata.{meta_key} = {_lit(value)}", f"\"user\" = {_lit(value)}"
                     if meta_key in ("user", "user_id") else None, span_level=meta_key not in ("user", "user_id"))  # fmt: skip


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
    return Condition(f"tagged {tag}", f"{_lit(tag)} IN tags", f"{_lit(tag)} IN tags")


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
    tags = [t for t in facts.tags if t.lower() in FAILURE_TAGS]
    if not tags:
        return Condition("with errors", "error IS NOT NULL", "has_error", per_span=True)
    tagged = " OR ".join(f"list_contains(tags, {_lit(t)})" for t in tags)
    label = "with errors or tagged " + "/".join(tags)
    return Condition(label, f"(error IS NOT NULL OR {tagged})", f"(has_error OR {tagged})", per_span=True)


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


# Words the planner may leave unexplained: phrasing, not meaning.
VOCABULARY = set(
    [
        "a",
        "an",
        "the",
        "all",
        "any",
        "some",
        "every",
        "each",
        "me",
        "my",
        "our",
        "us",
        "i",
        "we",
        "you",
        "your",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "show",
        "shows",
        "showing",
        "find",
        "finding",
        "list",
        "get",
        "give",
        "display",
        "see",
        "view",
        "return",
        "fetch",
        "pull",
        "filter",
        "select",
        "look",
        "lookup",
        "which",
        "what",
        "who",
        "whose",
        "where",
        "when",
        "how",
        "many",
        "much",
        "number",
        "count",
        "counts",
        "total",
        "tell",
        "please",
        "can",
        "could",
        "would",
        "will",
        "are",
        "is",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "there",
        "here",
        "with",
        "without",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "and",
        "or",
        "not",
        "no",
        "only",
        "just",
        "also",
        "than",
        "then",
        "that's",
        "what's",
        "let's",
        "kind",
        "sort",
        "span",
        "spans",
        "trace",
        "traces",
        "log",
        "logs",
        "request",
        "requests",
        "call",
        "calls",
        "conversation",
        "conversations",
        "session",
        "sessions",
        "run",
        "runs",
        "entries",
        "entry",
        "records",
        "record",
        "events",
        "event",
        "interactions",
        "interaction",
        "rows",
        "row",
        "data",
        "items",
        "item",
        "ones",
        "took",
        "take",
        "taking",
        "lasted",
        "lasting",
        "ran",
        "running",
        "duration",
        "latency",
        "time",
        "long",
        "longer",
        "slow",
        "slower",
        "fast",
        "faster",
        "ago",
        "recent",
        "recently",
        "latest",
        "newest",
        "oldest",
        "since",
        "last",
        "past",
        "previous",
        "scores",
        "score",
        "scored",
        "rating",
        "rated",
        "value",
        "values",
        "most",
        "top",
        "biggest",
        "largest",
        "smallest",
        "highest",
        "lowest",
        "slowest",
        "fastest",
        "longest",
        "shortest",
        "expensive",
        "cheapest",
        "common",
        "frequent",
        "main",
        "why",
        "happening",
        "happened",
        "going",
        "wrong",
        "about",
        "into",
        "per",
        "via",
        "across",
        "during",
        "within",
        "over",
        "under",
        "between",
        "model",
        "models",
        "used",
        "using",
        "use",
        "uses",
        "with?",
        "tagged",
        "tag",
        "tags",
        "user",
        "users",
        "customer",
        "customers",
    ]
)
VOCABULARY |= {"overflow", "overflows", "exceeded", "hit", "hitting", "caused", "happen", "happens"}
VOCABULARY |= {"s"}  # what a possessive leaves once the name is read ("John Smith's latest trace")


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
            if slot.name == "user" and m.group("user") is None:
                m = _Rematch(m, "user", m.group("user2"), bare=True)  # type: ignore[assignment]
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
            start, end = m.span()
            slots.spans_consumed.append((start, end))
            text = text[:start] + " " * (end - start) + text[end:]
    slots.leftover = text  # type: ignore[attr-defined]
    _bare_vocabulary(slots, facts)
    return slots


class _Rematch:
    """A match whose named group is taken from another group (patterns with alternative names)."""

    def __init__(self, match: re.Match[str], name: str, value: str | None, *, bare: bool = False) -> None:
        self._match, self._name, self._value, self._bare = match, name, value, bare

    def group(self, key: Any = 0) -> Any:
        if key == "bare":
            return self._bare
        return self._value if key == self._name else self._match.group(key)

    def span(self) -> tuple[int, int]:
        return self._match.span()


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
        if len(tools) == 1 and word not in VOCABULARY:
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


class _Fake:
    def __init__(self, groups: dict[str, Any], span: tuple[int, int]) -> None:
        self._groups, self._span = groups, span

    def group(self, key: Any = 0) -> Any:
        return self._groups.get(key)

    def span(self) -> tuple[int, int]:
        return self._span


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


# -- aggregates and superlatives -----------------------------------------------------------------------------
METRICS = {
    "duration": ("duration", "duration"), "latency": ("duration", "duration"), "time": ("duration", "duration"),
    "tokens": ("tokens", "total_tokens"), "token": ("tokens", "total_tokens"), "cost": ("cost", "total_cost"),
    "spend": ("cost", "total_cost"), "costs": ("cost", "total_cost"), "costly": ("cost", "total_cost"),
}  # fmt: skip
AGGREGATES = {"average": "avg", "avg": "avg", "mean": "avg", "median": "median", "total": "sum", "sum": "sum",
              "max": "max", "maximum": "max", "min": "min", "minimum": "min", "p50": "p50", "p90": "p90",
              "p95": "p95", "p99": "p99"}  # fmt: skip
GROUPS = {"model": ("model", None), "models": ("model", None), "type": ("type", None), "types": ("type", None),
          "name": ("name", "name"), "user": ("metadata.user", '"user"'), "users": ("metadata.user", '"user"'),
          "tag": ("unnest(tags)", "unnest(tags)"), "tags": ("unnest(tags)", "unnest(tags)"),
          "day": ("date_trunc('day', created)", "date_trunc('day', created)"),
          "hour": ("date_trunc('hour', created)", "date_trunc('hour', created)"),
          "week": ("date_trunc('week', created)", "date_trunc('week', created)"),
          "tool": ("name", None), "tools": ("name", None)}  # fmt: skip
#: What a grouping implies about the spans counted: "errors by tool" counts tool spans, "by model"
#: the spans that have a model, "by user" the traces that carry one (not a NULL group of the rest).
GROUP_FILTERS = {"tool": "type = 'tool'", "model": "model IS NOT NULL"}
TRACE_GROUP_FILTERS = {"user": '"user" IS NOT NULL'}
GROUP_WORDS = r"models?|types?|tags?|users?|tools?|names?"
#: Ranking words before a plural group ("top users", "slowest tools", "most expensive models").
RANKS = {"top": None, "most active": None, "busiest": None, "heaviest": None}
SUPERLATIVES = {"slowest": ("duration", "DESC"), "longest": ("duration", "DESC"), "fastest": ("duration", "ASC"),
                "shortest": ("duration", "ASC"), "most expensive": ("cost", "DESC"), "priciest": ("cost", "DESC"),
                "cheapest": ("cost", "ASC"), "biggest": ("tokens", "DESC"), "largest": ("tokens", "DESC"),
                "most tokens": ("tokens", "DESC")}  # fmt: skip


PER_TRACE = re.compile(
    r"\b(?P<m>llm calls?|model calls?|tool calls?|spans?|errors?|tokens?|steps?|prompt tokens?|completion tokens?)"
    r"(?:\s+(?:per|each|in an?|in the average|for each|by)\s+|\s+(?:does|do)\s+(?:an?|each|the average)\s+)"
    r"(?:trace|request|conversation)\b",
    re.IGNORECASE,
)


def _per_trace(q: str) -> str | None:
    """The traces-view measure in "how many LLM calls per trace" (a TRACE_MEASURES key), or None."""
    m = PER_TRACE.search(q)
    if not m:
        return None
    words = re.sub(r"\s+", " ", m.group("m").lower())
    return words if words in TRACE_MEASURES else words + "s" if words + "s" in TRACE_MEASURES else None


def _group_match(q: str) -> re.Match[str] | None:
    """The grouping asked for: "by model", "which model ...", "top users", "slowest tools"."""
    ranks = "|".join([*RANKS, *SUPERLATIVES]).replace(" ", r"\s+")
    return (
        re.search(r"\b(?:by|per|for each|each|broken down by|grouped by)\s+(?P<g>" + "|".join(GROUPS) + r")\b", q)
        or re.search(rf"\b(?:which|what)\s+(?P<g>{GROUP_WORDS})\b", q)
        or re.search(rf"\b(?:{ranks})\s+(?P<g>models?|tools?|users?|tags?|names|types)\b", q)
    )


def _aggregate_sql(question: str, slots: Slots, shape: str) -> tuple[str, str] | None:
    """(SQL, label) for aggregate and superlative questions, or None."""
    q = question.lower()
    table = "traces" if shape == "traces" else "logs"
    where = slots.where(shape)
    where_sql = f" WHERE {where}" if where else ""
    group = _group_match(q)
    superlative = next((k for k in SUPERLATIVES if re.search(rf"\b{k}\b", q)), None)
    if superlative and not group and not slots.group_meta:
        metric, order = SUPERLATIVES[superlative]
        column = metric if shape == "spans" else METRICS[metric][1]
        limit = slots.limit or 10
        if shape == "traces":
            cols = f'root_span_id, created, name, "user", duration, span_count, total_tokens, total_cost, {column}'
        else:
            cols = "id, root_span_id, created, name, type, model, duration, tokens, cost"
        cols = ", ".join(dict.fromkeys(c.strip() for c in cols.split(",")))
        sql = f"SELECT {cols} FROM {table}{where_sql} ORDER BY {column} {order} NULLS LAST LIMIT {limit}"
        return sql, f"{superlative} {limit} {shape}"
    agg_word = next((w for w in AGGREGATES if re.search(rf"\b{w}\b", q)), None)
    if agg_word is None and re.search(r"\bhow much\b", q):
        agg_word = "total"
    metric_word = next((w for w in METRICS if re.search(rf"\b{w}\b", q)), None)
    if re.search(r"\bhow long\b", q) and metric_word is None:  # "how long do deploys take"
        agg_word, metric_word = agg_word or "average", "duration"
    per_trace = _per_trace(q)
    if per_trace and group is None and not slots.group_meta:
        # "how many LLM calls per trace": a measure of the traces view, averaged unless said.
        column = TRACE_MEASURES[per_trace]
        agg = AGGREGATES[agg_word] if agg_word else "avg"
        expr = f"quantile_cont({column}, {int(agg[1:]) / 100:g})" if agg.startswith("p") else f"{agg}({column})"
        measured = PER_TRACE.search(question)
        lo, hi = measured.span() if measured else (0, 0)
        kept = [c for c in slots.conditions if not (c.span != (0, 0) and lo <= c.span[0] and c.span[1] <= hi)]
        where = Slots(conditions=kept).where("traces")
        sql = f"SELECT count(*) AS traces, {expr} AS {agg}_{column} FROM traces" + (f" WHERE {where}" if where else "")
        return sql, f"{agg} {per_trace} per trace"
    distinct = re.search(
        r"\b(?:how many|number of|count(?: of)?)\s+(?:unique |distinct |different )?(?P<g>users|models|tools|tags)\b", q
    )
    if distinct and group is None and not slots.group_meta:
        # "how many users this week": distinct values, not rows.
        dim = {"users": '"user"', "models": "unnest(models)", "tags": "unnest(tags)"}.get(distinct.group("g"))
        where = slots.where("traces")
        if dim is None:  # tools: the names of tool spans
            where = slots.where("spans")
            return (
                "SELECT count(DISTINCT name) AS tools FROM logs WHERE type = 'tool'"
                + (f" AND {where}" if where else ""),
                "distinct tools",
            )
        inner = f"SELECT {dim} AS v FROM traces" + (f" WHERE {where}" if where else "")
        return f"SELECT count(DISTINCT v) AS {distinct.group('g')} FROM ({inner})", f"distinct {distinct.group('g')}"
    rate = re.search(r"\b(?P<kind>error|failure|success) rates?\b", q)
    counting = re.search(r"\b(how many|count|number of)\b", q)
    group_name: str | None = None
    dim: str | None = None
    if slots.group_meta:
        # Metadata keys live on the root span (the traces view's metadata) or only on some spans.
        key = slots.group_meta
        if key in slots.root_meta_keys:
            table, shape, where_sql = "traces", "traces", f" WHERE {slots.where('traces')}" if slots.conditions else ""
        group_name, dim = key, f"metadata.{_ident(key)}"
    else:
        if group:
            group_name = group.group("g")
            dims = GROUPS[group_name]
            dim = dims[0] if shape == "spans" else (dims[1] or None)
            if dim is None:  # traces have no single model/type: count spans per value instead
                table, shape, where_sql = "logs", "spans", f" WHERE {slots.where('spans')}" if slots.conditions else ""
                dim = dims[0]
            if group_name.rstrip("s") == "user" and shape == "spans":
                # The user is on the root span: "errors by user" counts each user's traces (with errors).
                table, shape, where_sql = (
                    "traces",
                    "traces",
                    f" WHERE {slots.where('traces')}" if slots.conditions else "",
                )
                dim = dims[1]
            implied = (
                GROUP_FILTERS.get(group_name.rstrip("s"))
                if table == "logs"
                else TRACE_GROUP_FILTERS.get(group_name.rstrip("s"))
            )
            if implied:
                where_sql = f"{where_sql} AND {implied}" if where_sql else f" WHERE {implied}"
            group_name = group_name.rstrip("s")
    if group_name is None and not (agg_word and metric_word) and not rate and not counting:
        return None
    order_by = "n DESC"
    if superlative and group_name is not None and not (agg_word and metric_word):
        # "which model is slowest", "most expensive tools": rank the groups by that measure.
        metric, direction = SUPERLATIVES[superlative]
        metric_word = metric
        agg_word = "average" if metric == "duration" else "total"
        column = METRICS[metric][0 if table == "logs" else 1]
        order_by = f"{AGGREGATES[agg_word]}_{column} {direction} NULLS LAST"
    if metric_word and not agg_word and group_name is not None:
        agg_word = "average" if METRICS[metric_word][0] == "duration" else "total"  # "tokens by model"
    ranked = re.search(r"\b(?P<d>most|highest|largest|biggest|least|lowest|smallest)\b", q)
    if (ranked or not counting) and group_name is not None and agg_word and metric_word and order_by == "n DESC":
        # "which model costs the most", "total tokens by model": rank the groups by the measure asked about.
        column = METRICS[metric_word][0 if table == "logs" else 1]
        direction = "ASC" if ranked and ranked.group("d") in ("least", "lowest", "smallest") else "DESC"
        order_by = f"{AGGREGATES[agg_word]}_{column} {direction} NULLS LAST"
    select_dim = f"{dim} AS {_ident(group_name)}" if group_name is not None else ""
    measures = ["count(*) AS n"]
    if agg_word and metric_word:
        column = METRICS[metric_word][0 if table == "logs" else 1]
        agg = AGGREGATES[agg_word]
        expr = f"quantile_cont({column}, {int(agg[1:]) / 100:g})" if agg.startswith("p") else f"{agg}({column})"
        measures.append(f"{expr} AS {agg}_{column}")
    if rate:
        failed = "error IS NOT NULL" if table == "logs" else "has_error"
        kind = rate.group("kind")
        value = "0.0 ELSE 1.0" if kind == "success" else "1.0 ELSE 0.0"
        measures.append(f"avg(CASE WHEN {failed} THEN {value} END) AS {kind}_rate")
    select = ", ".join([select_dim, *measures] if select_dim else measures)
    tail = ""
    if select_dim:
        tail = " GROUP BY 1 ORDER BY " + ("1" if group_name in ("day", "hour", "week") else order_by)
        tail += f" LIMIT {slots.limit or 50}"
    what = f"{agg_word} {metric_word}" if agg_word and metric_word else (f"{rate.group(0)}" if rate else "count")
    label = what + (f" by {group_name}" if group_name else "")
    return f"SELECT {select} FROM {table}{where_sql}{tail}", label


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


TRACE_UNITS = {"error_count": "errors", "total_tokens": "tokens", "total_prompt_tokens": "prompt tokens",
               "total_completion_tokens": "completion tokens", "span_count": "spans", "llm_calls": "LLM calls",
               "tool_calls": "tool calls", "max_depth": "levels deep"}  # fmt: skip


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
        frame = ctx.engine.sql(sql)
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
    }
    for param in properties:
        if param in values:
            continue
        value = candidates.get(param)
        if value is not None:
            values[param] = value
    missing = [p for p in spec.parameters.get("required", []) if p not in values]
    return values, missing


# -- the planner ----------------------------------------------------------------------------------------------
def plan(question: str, ctx: ToolContext, *, scope: str | None = None) -> Plan:
    """The tool calls for a question, or a plain message saying what could not be understood."""
    facts = facts_for(ctx)
    question = question.strip()
    slots = extract(question, facts)
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
        if unused:  # never drop part of a question silently: the answer says what it did not use
            slots.notes.append(f"{UNUSED} {' '.join(repr(w) for w in dict.fromkeys(unused))} ({name} answers without those words)")
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


#: How a note saying which words of the question were not used starts.
UNUSED = "Not used from the question:"


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


# -- summarising results -----------------------------------------------------------------------------------------
def summarize(
    question: str, calls: list[dict[str, Any]], results: list[dict[str, Any]], notes: list[str] | None = None
) -> str:
    """The offline answer text from the tool results (the same bounded texts a model would read),
    after the planner's ``notes`` (which trace "the slowest trace" turned out to be, and why)."""
    unused = [n for n in notes or () if n.startswith(UNUSED)]
    chose = [n for n in notes or () if not n.startswith(UNUSED)]
    parts: list[str] = [f"Chose {'; '.join(chose)}."] if chose else []
    parts += [f"{n}." for n in unused]
    for call, result in zip(calls, results, strict=False):
        body = _strip_wrapper(result.get("content", ""))
        name = call["name"]
        if result.get("is_error"):
            parts.append(f"{name} failed: {body}")
        elif name == "generate_filter":
            shape = call["input"].get("shape", "spans")
            parts.append(f"{body}\n\nFilter ({shape}): `{call['input']['where']}`")
        elif name == "run_sql":
            parts.append(f"Ran `{call['input']['query']}`:\n{body}")
        else:
            parts.append(body)
    return "\n\n".join(parts)


def _strip_wrapper(text: str) -> str:
    lines = text.splitlines()
    keep = [
        line
        for line in lines
        if not line.startswith("<tool_output")
        and line != "</tool_output>"
        and not line.startswith("(Everything inside tool_output")
        and not line.startswith("[shown to the person:")
    ]
    return "\n".join(keep).strip()


class OfflineClient:
    """The planner behind the chat-client interface: first turn plans, second turn summarises."""

    name = "offline"

    def __init__(self, context: Callable[[], tuple[ToolContext, str | None]]) -> None:
        self._context = context
        self._notes: list[str] = []

    def complete(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        stream_callback: StreamCallback | None = None,
    ) -> AssistantTurn:
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        question = messages[last_user]["content"].split("\n\n")[-1]
        after = messages[last_user + 1 :]
        if not after:
            ctx, scope = self._context()
            planned = plan(question, ctx, scope=scope)
            self._notes = planned.notes
            if not planned.tool_calls:
                return self._say(planned.message, stream_callback)
            calls = [ToolCall(f"offline_{i}", c["name"], c["input"]) for i, c in enumerate(planned.tool_calls)]
            return AssistantTurn(tool_calls=calls, stop_reason="tool_use")
        calls = [c for m in after if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        results = [r for m in after if m["role"] == "tool" for r in m["results"]]
        return self._say(summarize(question, calls, results, self._notes), stream_callback)

    @staticmethod
    def _say(text: str, stream_callback: StreamCallback | None) -> AssistantTurn:
        if stream_callback:
            for piece in re.findall(r"[^\n]*\n|[^\n]+", text):
                stream_callback(piece)
        return AssistantTurn(text=text, stop_reason="end_turn")


__all__ = ["SLOTS", "Condition", "Facts", "OfflineClient", "Plan", "Slot", "extract", "facts_for", "plan", "summarize"]
