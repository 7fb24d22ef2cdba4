"""``common_errors`` in the engine's SQL: the error fields, the message masks and the grouping run in
DuckDB (a store's, or the in-memory frame's engine), and only the bounded answer comes back: the
top groups with their examples, the errors by type, the daily counts of the top groups.

The masks are Polars (Rust ``regex``) patterns; DuckDB runs RE2. On ASCII text the two agree once
``\\s`` is spelled out (RE2's ``\\s`` leaves out the vertical tab) and an extract that does not match
is told apart from an empty one. On other text they do not: Rust's ``\\b``, ``\\w``, ``\\d``, ``\\s``
and ``trim`` are Unicode-aware, RE2's are ASCII (``\\b`` cannot be spelled in RE2 at all). JSON
differs too: Polars takes the last of duplicate keys and writes ``-0`` as ``-0.0``, DuckDB takes the
first and writes ``0``. So a row is *plain* when its error is ASCII JSON with no ``\\u`` escape, a
string or an object without duplicate keys whose fields read are strings, integers other than 0,
booleans or nulls; when every error row in scope is plain the SQL answers (identical to the Polars
path, tests/test_errors_sql.py), otherwise :func:`sql_common_errors` returns None and the caller
runs the Polars path over the error spans as before.

The ClickHouse backends have no ``LogEngine``: they keep the Polars path. So does every store with
fewer than ``errors.SQL_MIN_ERRORS`` error spans in scope: DuckDB's RE2 masks cost about 1.5x the
CPU of Polars' for the same answer (bench/RESULTS.md), so this path is for error spans too many to
read out, not for speed.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

import polars as pl

from ..engine import LogEngine
from ..sql_guard import QueryError
from ..sqltext import sql_literal
from ..tools import ToolContext
from ..tools.text import ERROR_MESSAGE_MASKS, URL, URL_HOST
from ._across import _INNER_MESSAGE, _INNER_TYPE, _LEAD_TYPE

_UNBOUNDED = 10**12
#: The time limit of the grouping query on a store (the Polars path it replaces had none).
LIMIT_S = 120.0
#: The JSON fields error_fields reads (object_type, then object_message).
_TYPE_PATHS = ("$.type", "$.name", "$.error.type", "$.code", "$.status_code", "$.status")
_MESSAGE_PATHS = ("$.message", "$.error.message", "$.msg", "$.detail")
_PREFIX = r"^([^{]*?)[\s:-]*\{"
#: _PREFIX's group without RE2's slow lazy match: the text before the first "{" less its trailing
#: run of spaces, colons and dashes (the lazy group stops where only those are left); '' when
#: there is no "{" (the Polars path's null prefix, filled with '').
_PREFIX_SQL = (
    "CASE WHEN contains(raw, '{') THEN rtrim(left(raw, strpos(raw, '{') - 1), "
    "chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || ' :-') ELSE '' END"
)
#: Rust's ASCII whitespace (``\s`` and ``trim`` on ASCII): RE2's ``\s`` has no vertical tab.
_SPACE_CLASS = r"\t\n\x0B\f\r "


def re2(pattern: str) -> str:
    """A Rust-regex pattern for RE2, equal on ASCII text: ``\\s`` spelled out (in a class or not)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            if pair == r"\s":
                out.append(_SPACE_CLASS if in_class else f"[{_SPACE_CLASS}]")
            elif pair == r"\S":
                if in_class:
                    raise ValueError("\\S inside a class has no RE2 spelling here")
                out.append(f"[^{_SPACE_CLASS}]")
            else:
                out.append(pair)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                out.append("]")
                i += 1
        elif ch == "]" and in_class:
            in_class = False
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _lit(text: str) -> str:
    return sql_literal(text)


def _extract(column: str, pattern: str) -> str:
    """Group 1 of the first match, NULL when nothing matches (DuckDB's regexp_extract gives ''): exact
    for the groups here, never empty when they match (the prefix's empty group is read as '' anyway)."""
    return f"nullif(regexp_extract({column}, {_lit(re2(pattern))}, 1), '')"


def _json(path: str) -> str:
    return f"json_extract_string(error, {_lit(path)})"


def plain_condition() -> str:
    """SQL true for an error whose fields and masks come out the same in DuckDB as in Polars."""
    typed = " AND ".join(
        f"(json_type(error, {_lit(p)}) IS NULL OR json_type(error, {_lit(p)}) IN ('VARCHAR', 'NULL', 'BOOLEAN')"
        f" OR (json_type(error, {_lit(p)}) IN ('BIGINT', 'UBIGINT') AND {_json(p)} <> '0'))"
        for p in (*_TYPE_PATHS, *_MESSAGE_PATHS)
    )
    unique_keys = (
        "len(json_keys(error)) = len(list_distinct(json_keys(error)))"
        " AND (json_type(error, '$.error') IS DISTINCT FROM 'OBJECT'"
        " OR len(json_keys(error, '$.error')) = len(list_distinct(json_keys(error, '$.error'))))"
    )
    # ASCII (as many bytes as characters), no \\u escape but of an ASCII character other than NUL.
    # CASE, not AND: DuckDB evaluates every operand of an AND in a projection; the JSON checks are dear.
    return (
        "CASE WHEN strlen(error) <> length(error) OR NOT json_valid(error) THEN FALSE"
        " WHEN contains(error, '\\u')"
        " AND contains(regexp_replace(error, '\\\\u00(?:0[1-9A-Fa-f]|[1-7][0-9A-Fa-f])', '', 'g'), '\\u') THEN FALSE"
        " WHEN starts_with(error, '\"') THEN TRUE"
        f" WHEN json_type(error) <> 'OBJECT' THEN FALSE WHEN NOT ({unique_keys}) THEN FALSE ELSE {typed} END"
    )


#: A literal every match of a mask contains: the mask runs only on the messages holding it.
_NEEDS = {"'[^']*'": "'", '"[^"]*"': '"', "`[^`]*`": "`", r"\b0x[0-9a-fA-F]+\b": "0x"}


def _mask_steps(models: list[str]) -> list[str]:
    """normalize_message's steps on column ``x``, one CTE each (a mask runs only where it can match)."""
    steps = []
    for name in sorted({m for m in models if m and len(m) > 2}, key=lambda m: (-len(m), m)):
        steps.append(f"replace(x, {_lit(name)}, '<model>')")
    for pattern, replacement in ERROR_MESSAGE_MASKS:
        step = f"regexp_replace(x, {_lit(re2(pattern))}, {_lit(replacement)}, 'g')"
        needs = "://" if pattern == URL else _NEEDS.get(pattern)
        if needs:
            step = f"CASE WHEN contains(x, {_lit(needs)}) THEN {step} ELSE x END"
        elif pattern == r"\s+":  # a lone space stays itself: only runs or other spaces need the regex
            step = f"CASE WHEN regexp_matches(x, '[\\t\\n\\x0B\\f\\r]|  ') THEN {step} ELSE x END"
        elif pattern.startswith(r"\b[A-Za-z]{2,12}[_-]"):
            step = f"CASE WHEN contains(x, '_') OR contains(x, '-') THEN {step} ELSE x END"
        steps.append(step)
    return steps


_SPACE_CLASS_CHARS = "\t\n\x0b\f\r "


def _kind(patterns: dict[str, str], kinds: tuple[str, ...]) -> str:
    """failure_kind of errors.py: the first category whose pattern the lower-cased text matches."""
    text = "lower(coalesce(error_type, '') || ' ' || coalesce(message, ''))"
    whens = " ".join(f"WHEN regexp_matches({text}, {_lit(re2(p))}) THEN {_lit(n)}" for n, p in patterns.items())
    category = f"(CASE {whens} END)"
    listed = ", ".join(_lit(k) for k in kinds)
    return f"CASE WHEN {category} IN ({listed}) THEN {category} ELSE coalesce(error_type, {category}, 'error') END"


def derived_sql(scope: str, models: list[str], kind: str) -> str:
    """The error spans in ``scope`` (a condition on logs_rows) with error_fields' and error_spans'
    columns: error_type, message, normalized, kind, host, when."""
    object_type = "coalesce(" + ", ".join(_json(p) for p in _TYPE_PATHS) + ")"
    object_message = "coalesce(" + ", ".join(_json(p) for p in _MESSAGE_PATHS) + ", error)"
    steps = _mask_steps(models)
    masks = ",\n".join(
        ["n0 AS (SELECT *, message AS x FROM m)"]
        + [f"n{i} AS (SELECT * REPLACE ({step} AS x) FROM n{i - 1})" for i, step in enumerate(steps, 1)]
    )
    return f"""
r AS (
  SELECT _row, root_span_id, coalesce("start", created) AS "when", name, "type", model, error,
         {plain_condition()} AS plain,
         CASE WHEN starts_with(error, '"') THEN json_extract_string(error, '$') ELSE {object_message} END AS raw,
         CASE WHEN starts_with(error, '"') THEN NULL ELSE {object_type} END AS object_type
  FROM logs_rows WHERE error IS NOT NULL AND ({scope})
),
f AS (
  SELECT *, CASE WHEN contains(raw, 'message') THEN {_extract("raw", _INNER_MESSAGE)} END AS inner_message,
         coalesce(object_type, CASE WHEN contains(raw, 'type') THEN {_extract("raw", _INNER_TYPE)} END,
                  CASE WHEN contains(raw, ':') THEN {_extract("raw", _LEAD_TYPE)} END) AS error_type
  FROM r
),
m AS (
  SELECT _row, root_span_id, "when", name, "type", model, error_type, plain,
         CASE WHEN inner_message IS NOT NULL THEN trim({_PREFIX_SQL} || ': ' || inner_message, ': ')
              ELSE raw END AS message
  FROM f
),
{masks},
d AS MATERIALIZED (
  SELECT * EXCLUDE (x), left(trim(x, {_lit(_SPACE_CLASS_CHARS)}), 300) AS normalized, {kind} AS kind,
         lower({_extract("message", URL_HOST)}) AS host
  FROM n{len(steps)}
)"""


def _top(column: str, k: int, with_counts: bool) -> str:
    value = "v || ': ' || n::VARCHAR" if with_counts else "v"
    return f"""(SELECT coalesce(list({value} ORDER BY n DESC, v), []::VARCHAR[]) FROM (
      SELECT {column} AS v, count(*) AS n FROM dt
      WHERE dt.rank = top.rank AND {column} IS NOT NULL GROUP BY {column} ORDER BY n DESC, v LIMIT {k}))"""


def common_errors_sql(scope: str, models: list[str], limit: int, kind: str) -> str:
    key = "kind, error_type, normalized"
    same = " AND ".join(f"d.{c} IS NOT DISTINCT FROM top.{c}" for c in ("kind", "error_type", "normalized"))
    traces = "count(DISTINCT root_span_id) + bool_or(root_span_id IS NULL)::INT"
    return f"""WITH {derived_sql(scope, models, kind)},
g AS (
  SELECT {key}, count(*) AS spans, {traces} AS traces, min("when") AS first_seen, max("when") AS last_seen,
         first(message ORDER BY _row) AS example
  FROM d GROUP BY {key}
),
top AS (
  SELECT *, row_number() OVER (ORDER BY traces DESC, spans DESC, normalized ASC NULLS LAST,
                               kind ASC NULLS LAST, error_type ASC NULLS LAST) AS rank
  FROM g QUALIFY rank <= {int(limit)}
),
dt AS MATERIALIZED (SELECT d.*, top.rank FROM d JOIN top ON {same}),
by_type AS (
  SELECT error_type, count(*) AS spans, {traces} AS traces FROM d GROUP BY error_type
),
top8 AS (SELECT DISTINCT error_type, normalized FROM top WHERE rank <= 8),
daily AS (
  SELECT date_trunc('day', d."when" AT TIME ZONE 'UTC') AS day, left(d.normalized, 60) AS "group", count(*) AS spans
  FROM d SEMI JOIN top8 ON d.error_type IS NOT DISTINCT FROM top8.error_type
                        AND d.normalized IS NOT DISTINCT FROM top8.normalized
  GROUP BY ALL
)
SELECT top.rank, top.kind, top.error_type, top.normalized AS message, top.spans, top.traces,
       top.first_seen, top.last_seen,
       {_top("name", 3, False)} AS span_names,
       (SELECT coalesce(list(DISTINCT "type" ORDER BY "type"), []::VARCHAR[]) FROM dt WHERE dt.rank = top.rank AND "type" IS NOT NULL) AS span_types,
       (SELECT coalesce(list(DISTINCT model ORDER BY model), []::VARCHAR[]) FROM dt WHERE dt.rank = top.rank AND model IS NOT NULL) AS models,
       {_top("model", 8, True)} AS by_model,
       {_top("name", 8, True)} AS by_span,
       {_top("host", 8, True)} AS by_host,
       (SELECT list(root_span_id ORDER BY fr) FROM (
          SELECT root_span_id, min(_row) AS fr FROM dt WHERE dt.rank = top.rank GROUP BY root_span_id
          ORDER BY fr LIMIT 3)) AS example_trace_ids,
       top.example AS example_message,
       (SELECT count(*) FROM g) AS n_groups,
       (SELECT count(*) FILTER (WHERE NOT plain) FROM d) AS odd,
       (SELECT count(*) FROM d) AS n_spans,
       (SELECT {traces} FROM d) AS n_traces,
       (SELECT list({{'error_type': error_type, 'spans': spans, 'traces': traces}}
                     ORDER BY traces DESC, spans DESC, error_type ASC NULLS LAST) FROM by_type) AS by_type,
       (SELECT list({{'day': day, 'group': "group", 'spans': spans}}) FROM daily) AS daily
FROM top ORDER BY top.rank"""


# -- running -----------------------------------------------------------------------------------------
def engine_of(ctx: ToolContext) -> LogEngine | None:
    """The DuckDB engine the context's logs are in (a store's, or the frame's), None for others."""
    if ctx.pushdown:
        engine = getattr(ctx.source, "engine", None)
        return engine if isinstance(engine, LogEngine) else None
    return ctx.engine


def _run(engine: LogEngine, sql: str, original: str) -> pl.DataFrame:
    frame, _ = engine._run(sql, original, _UNBOUNDED, time.monotonic())
    return frame


def scope_condition(engine: LogEngine, where: str | None) -> str:
    if not where:
        return "TRUE"
    body = engine.where(where, shape="traces").split(" WHERE ", 1)[1]
    return f"root_span_id IN (SELECT root_span_id FROM traces WHERE {body})"


_LIST = pl.List(pl.String)
_WHEN = pl.Datetime("us", "UTC")


def sql_common_errors(
    ctx: ToolContext,
    where: str | None,
    limit: int,
    patterns: dict[str, str],
    kinds: tuple[str, ...],
    *,
    min_errors: int = 0,
) -> dict[str, Any] | None:
    """The frames and figures common_errors shows, computed in the engine; None when the engine is not
    DuckDB, when fewer than ``min_errors`` error spans are in scope, or when some error in scope is
    not plain (see the module's doc): the caller runs Polars."""
    engine = engine_of(ctx)
    if engine is None:
        return None
    scope = scope_condition(engine, where)
    seen = _run(
        engine,
        "SELECT count(*) AS n, list(DISTINCT model) FILTER (WHERE model IS NOT NULL) AS models"
        f" FROM logs_rows WHERE error IS NOT NULL AND ({scope})",
        "common_errors: models",
    )
    n, models = seen.row(0)
    if n < max(min_errors, 1):
        return None
    sql = common_errors_sql(scope, list(models or []), limit, _kind(patterns, kinds))
    longer = getattr(ctx.source, "longer_limit", None) if ctx.pushdown else None
    try:  # a store's query may take as long as the Polars path's read and grouping would
        with longer(LIMIT_S) if longer else nullcontext():
            frame = _run(engine, sql, "common_errors")
    except QueryError:  # malformed JSON in an error that is not plain: the Polars path reads it
        return None
    if not frame.height:  # no errors, or limit < 1: the Polars path says so
        return None
    first = frame.row(0, named=True)
    if first["odd"]:
        return None
    groups = frame.select(
        pl.col("kind").cast(pl.String),
        pl.col("error_type").cast(pl.String),
        pl.col("message").cast(pl.String),
        pl.col("spans").cast(pl.UInt32),
        pl.col("traces").cast(pl.UInt32),
        pl.col("first_seen").cast(_WHEN),
        pl.col("last_seen").cast(_WHEN),
        *(pl.col(c).cast(_LIST) for c in ("span_names", "span_types", "models", "by_model", "by_span", "by_host")),
        pl.col("example_trace_ids").cast(_LIST),
        pl.col("example_message").cast(pl.String),
    )
    by_type = pl.DataFrame(
        first["by_type"] or [], schema={"error_type": pl.String, "spans": pl.Int64, "traces": pl.Int64}, orient="row"
    ).cast({"spans": pl.UInt32, "traces": pl.UInt32})
    daily = pl.DataFrame(
        first["daily"] or [], schema={"day": pl.Datetime("us"), "group": pl.String, "spans": pl.Int64}, orient="row"
    )
    daily = daily.with_columns(pl.col("day").dt.replace_time_zone("UTC"), pl.col("spans").cast(pl.UInt32)).sort(
        "day", "group"
    )
    return {
        "groups": groups,
        "by_type": by_type,
        "daily": daily,
        "n_groups": int(first["n_groups"]),
        "n_spans": int(first["n_spans"]),
        "error_traces": int(first["n_traces"]),
    }


__all__ = ["common_errors_sql", "derived_sql", "engine_of", "plain_condition", "re2", "sql_common_errors"]
