"""The SQL of the Braintrust fast path: check and convert what DuckDB's ``read_json`` read.

The fields that need checking are read as JSON, so each column holds DuckDB's minified JSON text
(no spaces; a string without a backslash holds no quote). Each check first tries a plain-text
test that can only say "fine" for values that are fine (a few ``contains`` on short text) and
leaves everything else (escapes, odd keys, wrong types) to the exact ``json_type`` check. On 1M
spans this halves the checking cost. ``tests/test_load_fast_path.py`` holds both paths to the
same answers on odd events; ``tests/test_load_fast_checks.py`` holds each text check to the exact
rule on generated values.

The one check that reads every byte of the open fields (no NaN, Infinity or overflowing number
outside a string) runs on the Polars batches instead (:func:`has_nonfinite`): Rust's regex
engine with the pattern split in two took 0.6 s CPU on 1M spans where DuckDB's regular
expressions took 3.2 s (both patterns ran on every value: DuckDB's AND does not short-circuit).
"""

from __future__ import annotations

import polars as pl

from ..frame import derive_sql

_NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')"
# An ISO timestamp has a ':'; a unix time is a plain number (the regular expression runs only
# on the rare text without one).
_NUMERIC = "'-?[0-9]+(\\.[0-9]*)?([eE][+-]?[0-9]+)?'"
# DuckDB's reader takes NaN, inf, Infinity (any case) and numbers that overflow (1e999), none of
# them JSON, and keeps them as written in the JSON text; outside a string they send the row to the
# line-by-line path, which loads them as null and reports them. A value in minified JSON follows
# ':', ',' or '[': the cheap pattern finds the candidates, the exact one skips strings.
_NONFINITE = r"(?i:[:,\[]-?(?:nan|inf))|[0-9][eE]\+?[0-9]{3}"
# The candidates (a superset of what _NONFINITE finds) by two patterns, not one alternation: the
# Rust engine scans the open fields of 1M spans for the bare words in 0.19 s and for the exponents
# in 0.23 s, for the separator and word in 0.35 s, and for _NONFINITE whole in 1.07 s.
_MAYBE_NONFINITE = (r"(?i)nan|inf", r"[0-9][eE]\+?[0-9]{3}")
_BARE_NONFINITE = r"""^(?:[^"]|"(?:[^"\\]|\\.)*")*?(?:""" + _NONFINITE + ")"
_OPEN_FIELDS = ("input", "output", "expected", "error", "scores", "metadata", "metrics", "span_attributes", "context")


def fast_load_sql(source: str) -> str:
    """Base and derived columns of the canonical frame plus ``_valid`` (false: this row needs the
    line-by-line path, which reports it with its line number)."""
    checked = f"""
    SELECT
      id ->> '$' AS id, span_id ->> '$' AS span_id, root_span_id ->> '$' AS root_span_id,
      CASE WHEN span_parents IS NULL THEN []::VARCHAR[] ELSE _parents END AS span_parents,
      CASE WHEN is_root IS NULL THEN NULL ELSE is_root::VARCHAR = 'true' END AS is_root,
      {_timestamp("created")} AS created, created IS NULL AS _no_created,
      input::VARCHAR AS input, output::VARCHAR AS output, expected::VARCHAR AS expected,
      error::VARCHAR AS error, CASE WHEN tags IS NULL THEN []::VARCHAR[] ELSE _tags END AS tags, scores::VARCHAR AS scores,
      metadata::VARCHAR AS metadata, metrics::VARCHAR AS metrics,
      span_attributes::VARCHAR AS span_attributes, context::VARCHAR AS context,
      coalesce({_identifier("id")} AND {_identifier("span_id")} AND {_identifier("root_span_id")}
        AND {_strings("span_parents", "_parents")} AND {_strings("tags", "_tags")}
        AND (is_root IS NULL OR is_root::VARCHAR IN ('true', 'false'))
        AND {_numbers_only("scores")} AND {_numbers_only("metrics")}
        AND (span_attributes IS NULL OR starts_with(span_attributes::VARCHAR, '{{'))
        AND (context IS NULL OR starts_with(context::VARCHAR, '{{')), false) AS _typed
    FROM (SELECT *, {_as_list("span_parents")} AS _parents, {_as_list("tags")} AS _tags FROM {source})
    """
    normalized = f"""
    SELECT
      coalesce(id, span_id) AS id,
      coalesce(span_id, id) AS span_id,
      coalesce(root_span_id, CASE WHEN len(span_parents) = 0 THEN coalesce(span_id, id) END) AS root_span_id,
      span_parents,
      coalesce(is_root, len(span_parents) = 0) AS is_root,
      created, input, output, expected, error, tags, scores, metadata, metrics, span_attributes, context,
      (_typed AND coalesce(id, span_id) IS NOT NULL AND (_no_created OR created IS NOT NULL)
        AND (root_span_id IS NOT NULL OR len(span_parents) = 0)) AS _valid
    FROM ({checked})
    """
    return derive_sql(f"({normalized})")


def _timestamp(field: str) -> str:
    epoch = f"TRY_CAST({field} AS DOUBLE)"
    seconds = (
        f"CASE WHEN abs({epoch}) >= 1e17 THEN {epoch} / 1e9 WHEN abs({epoch}) >= 1e14 THEN {epoch} / 1e6 "
        f"WHEN abs({epoch}) >= 1e11 THEN {epoch} / 1e3 ELSE {epoch} END"
    )
    return (
        f"CASE WHEN {field} IS NULL THEN NULL WHEN contains({field}, ':') THEN TRY_CAST({field} AS TIMESTAMPTZ) "
        f"WHEN regexp_full_match(trim({field}), {_NUMERIC}) THEN to_timestamp({seconds}) "
        f"ELSE TRY_CAST({field} AS TIMESTAMPTZ) END"
    )


def has_nonfinite(part: pl.DataFrame) -> bool:
    """True when an open field holds NaN, Infinity or an overflowing number outside a string
    (DuckDB's reader takes them and keeps them as written; the line-by-line path loads them as
    null and reports them). A cheap pattern finds the candidates, the exact one, which skips
    strings, runs only on the rows it found."""
    fields = [name for name in _OPEN_FIELDS if name in part.columns]
    maybe = pl.any_horizontal([pl.col(name).str.contains(pattern) for name in fields for pattern in _MAYBE_NONFINITE])
    suspects = part.select(fields).filter(maybe)
    if not suspects.height:
        return False
    bare = pl.any_horizontal([pl.col(name).str.contains(_BARE_NONFINITE) for name in fields])
    return bool(suspects.select(bare.any()).item())


def _identifier(field: str) -> str:
    """Ids are strings or integers (as the line-by-line path accepts), nothing else."""
    return (
        f"({field} IS NULL OR CASE WHEN starts_with({field}::VARCHAR, '\"') THEN true "
        f"ELSE json_type({field}) IN ('BIGINT', 'UBIGINT') END)"
    )


def _numbers_only(field: str) -> str:
    """An object whose values are all numbers (or null).

    Plain text passes when it is an object with no backslash and no ':' followed by a quote,
    bracket, brace, t or f: in minified JSON every string, array, object or boolean value follows
    a ':' directly, so none can hide. A key that itself holds such a pair only takes the exact check.
    """
    text = f"{field}::VARCHAR"
    plain = (
        f"starts_with({text}, '{{') AND NOT contains({text}, '\\') AND NOT contains({text}, ':\"') "
        f"AND NOT contains({text}, ':[') AND NOT contains({text}, ':{{') AND NOT contains({text}, ':t') "
        f"AND NOT contains({text}, ':f')"
    )
    exact = (
        f"json_type({field}) = 'OBJECT' AND coalesce(list_bool_and(list_transform("
        f"json_type({field}, '$.*'), lambda t: t IN {_NUMBER_TYPES})), true)"
    )
    return f"({field} IS NULL OR CASE WHEN {plain} THEN true ELSE {exact} END)"


def _as_list(field: str) -> str:
    """The JSON value cast to a list of strings (numbers and objects inside come out as text:
    _strings catches them)."""
    return f"TRY_CAST({field} AS VARCHAR[])"


def _strings(field: str, as_list: str) -> str:
    """A list of strings (no nulls, numbers, lists or objects inside), ``as_list`` its cast.

    Plain text passes when its length is what a list of plain strings needs: the elements, two
    quotes each, commas and brackets. A number, boolean, list or object inside has no quotes of
    its own (it comes out of the cast as its JSON text), so it leaves the text two characters
    short; a backslash (escapes make the text longer) or a null takes the exact check.
    """
    text = f"{field}::VARCHAR"
    single = f"(len({as_list}) = 1 AND length({as_list}[1]) + 4 = length({text}))"
    several = (
        f"(NOT contains({text}, '\\') AND list_count({as_list}) = len({as_list}) "
        f"AND length(array_to_string({as_list}, '')) + 3 * len({as_list}) + 1 = length({text}))"
    )
    exact = (
        f"json_type({field}) = 'ARRAY' AND coalesce(list_bool_and(list_transform("
        f"json_type({field}, '$[*]'), lambda t: t = 'VARCHAR')), true)"
    )
    return f"({field} IS NULL OR {text} = '[]' OR CASE WHEN {single} OR {several} THEN true ELSE {exact} END)"
