"""The fast path's plain-text checks never pass a value the exact check would refuse.

Values go through DuckDB's ``read_json`` (as a load does, so the text is DuckDB's minified JSON)
and each SQL check is compared with what the line-by-line path accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loop_jupyter.loaders import braintrust_sql

# Text that trips naive checks: quotes, backslashes, separators, brackets, ':t'.
_TRICKY = st.text(alphabet=st.sampled_from(list('ab",\\:[]{}tf ')), max_size=6)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, 1e300, -0.0, 100000.0, 1.5e-7]),
    _TRICKY,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TRICKY, inner, max_size=4)),
    max_leaves=8,
)
_LISTS = st.one_of(st.lists(_TRICKY, max_size=4), st.lists(_VALUES, max_size=4), _VALUES)
_OBJECTS = st.one_of(
    st.dictionaries(_TRICKY, st.one_of(st.none(), st.integers(), st.floats(allow_nan=False, allow_infinity=False))),
    st.dictionaries(_TRICKY, _VALUES, max_size=4),
    _VALUES,
)


def _is_string_list(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(item, str) for item in value))


def _is_number_object(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    return all(
        item is None or (isinstance(item, int | float) and not isinstance(item, bool)) for item in value.values()
    )


def _checked(tmp_path: Path, values: list[Any], check: str) -> list[bool]:
    path = tmp_path / "values.jsonl"
    path.write_text("".join(json.dumps({"v": value}) + "\n" for value in values), encoding="utf-8")
    rows = duckdb.sql(
        f"SELECT {check} FROM (SELECT v, TRY_CAST(v AS VARCHAR[]) AS l "
        f"FROM read_json('{path}', format='newline_delimited', columns={{v: 'JSON'}}))"
    ).fetchall()
    return [row[0] for row in rows]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_LISTS, min_size=1, max_size=30))
def test_list_check_matches_the_line_by_line_rule(tmp_path: Path, values: list[Any]) -> None:
    got = _checked(tmp_path, values, braintrust_sql._strings("v", "l"))
    assert got == [_is_string_list(value) for value in values], values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_OBJECTS, min_size=1, max_size=30))
def test_number_object_check_matches_the_line_by_line_rule(tmp_path: Path, values: list[Any]) -> None:
    got = _checked(tmp_path, values, braintrust_sql._numbers_only("v"))
    assert got == [_is_number_object(value) for value in values], values
