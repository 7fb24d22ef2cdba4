"""The Braintrust fast path gives the frame and the report the line-by-line path gives, on the
demo logs and on every real fixture written out as Braintrust JSONL (clean, and with malformed
and non-finite lines mixed in), and its non-finite check (run on the Polars batches) decides as
the DuckDB regular expressions it replaced decided.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from loop_jupyter import load_logs_with_report
from loop_jupyter.demo import write_demo_jsonl
from loop_jupyter.loaders import braintrust, braintrust_sql
from loop_jupyter.schema import JSON_FIELDS

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Lines the line-by-line path skips or repairs with a report; each sends the file off the fast path.
MALFORMED = [
    '{"id": "bad-json", "span_id": ',
    '{"id": "nan-metadata", "span_id": "nan-metadata", "metadata": {"loss": NaN}}',
    '{"id": "inf-input", "span_id": "inf-input", "input": [1, -Infinity]}',
    '{"id": "big-number", "span_id": "big-number", "output": {"x": 1e999}}',
    '{"id": "number-tag", "span_id": "number-tag", "tags": ["a", 2]}',
    "[1, 2]",
    '{"id": "text-created", "span_id": "text-created", "created": "yesterday"}',
]


def _load(path: Path, monkeypatch: pytest.MonkeyPatch, *, fast: bool) -> tuple[pl.DataFrame, Any, list[bool]]:
    """Load ``path``; ``fast=False`` forces the line-by-line path. Also says whether the fast
    path kept the file."""
    kept: list[bool] = []
    real = braintrust._fast_load

    def spy(*args: Any, **kwargs: Any) -> pl.DataFrame | None:
        frame = real(*args, **kwargs) if fast else None
        kept.append(frame is not None)
        return frame

    with monkeypatch.context() as patch:
        patch.setattr(braintrust, "_fast_load", spy)
        frame, report = load_logs_with_report(path, format="braintrust")
    return frame, report, kept


def _same_frames(fast: pl.DataFrame, slow: pl.DataFrame) -> None:
    """Every column, dtype and value equal; open fields compared as parsed JSON (the fast path
    keeps DuckDB's minified text, the line-by-line path its own serialisation)."""
    assert fast.schema == slow.schema
    parsed = [pl.col(name).map_elements(_canonical, return_dtype=pl.String) for name in JSON_FIELDS]
    assert_frame_equal(fast.with_columns(parsed), slow.with_columns(parsed))


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True)


def _same_reports(fast: Any, slow: Any) -> None:
    assert [(s.line, s.reason) for s in fast.skipped] == [(s.line, s.reason) for s in slow.skipped]
    # Warnings of the whole frame (duplicate ids, orphans) carry no line on the fast path (it has
    # no line numbers once DuckDB has read the file; that predates this test): reasons compared.
    assert [w.reason for w in fast.warnings] == [w.reason for w in slow.warnings]
    assert all(w.line is None for w in fast.warnings) or fast.warnings == slow.warnings
    assert (fast.records_read, fast.rows_loaded) == (slow.records_read, slow.rows_loaded)


def _events(frame: pl.DataFrame) -> list[str]:
    """The frame's base columns as Braintrust log events, one JSON line each."""
    lines = []
    for row in frame.iter_rows(named=True):
        event: dict[str, Any] = {
            key: row[key] for key in ("id", "span_id", "root_span_id", "span_parents", "is_root", "tags")
        }
        event["created"] = None if row["created"] is None else row["created"].isoformat()
        for name in JSON_FIELDS:
            event[name] = None if row[name] is None else json.loads(row[name])
        lines.append(json.dumps(event, ensure_ascii=False))
    return lines


def _check_file(path: Path, monkeypatch: pytest.MonkeyPatch, *, fast_expected: bool) -> pl.DataFrame:
    fast, fast_report, kept = _load(path, monkeypatch, fast=True)
    slow, slow_report, _ = _load(path, monkeypatch, fast=False)
    assert kept == [fast_expected]
    _same_frames(fast, slow)
    _same_reports(fast_report, slow_report)
    return fast


def _with_malformed(lines: list[str]) -> list[str]:
    step = max(1, len(lines) // (len(MALFORMED) + 1))
    mixed = list(lines)
    for index, bad in enumerate(MALFORMED, start=1):
        mixed.insert(index * step + index - 1, bad)
    return mixed


def test_demo_logs_fast_path_equals_line_by_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "demo.jsonl"
    write_demo_jsonl(path, 120, seed=3, now=NOW)
    frame = _check_file(path, monkeypatch, fast_expected=True)
    assert frame.height > 1000
    dirty = tmp_path / "demo_dirty.jsonl"
    dirty.write_text("\n".join(_with_malformed(path.read_text(encoding="utf-8").splitlines())) + "\n", encoding="utf-8")
    _, report, _ = _load(dirty, monkeypatch, fast=True)
    assert len(report.skipped) == 4 and len(report.warnings) == 3
    _check_file(dirty, monkeypatch, fast_expected=False)


def test_real_fixtures_as_braintrust_fast_path_equals_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path
) -> None:
    folders = [
        "agent-prism",
        "langfuse-framework-traces",
        "tielec-ai-workflow",
        "openhands",
        "tau-bench",
        "who-and-when",
    ]
    for folder in folders:
        frame, _ = load_logs_with_report(fixtures_dir / folder)
        lines = _events(frame)
        assert lines, folder
        clean = tmp_path / f"{folder}.jsonl"
        clean.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _check_file(clean, monkeypatch, fast_expected=True)
        dirty = tmp_path / f"{folder}_dirty.jsonl"
        dirty.write_text("\n".join(_with_malformed(lines)) + "\n", encoding="utf-8")
        _check_file(dirty, monkeypatch, fast_expected=False)


# The SQL check this replaced (braintrust_sql before the check moved to Polars), kept as the reference.
_OLD_NONFINITE = r"(?i:[:,\[]-?(?:nan|inf))|[0-9][eE]\+?[0-9]{3}"
_OLD_BARE = r"""^(?:[^"]|"(?:[^"\\]|\\.)*")*?(?:""" + _OLD_NONFINITE + ")"


def _old_sql_rejects(path: Path) -> list[bool]:
    text = "v::VARCHAR"
    check = f"coalesce(v IS NULL OR NOT (regexp_matches({text}, $1) AND regexp_matches({text}, $2)), false)"
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT {check} FROM read_json('{path}', format='newline_delimited', columns={{v: 'JSON'}})",
        [_OLD_NONFINITE, _OLD_BARE],
    ).fetchall()
    return [not row[0] for row in rows]


_WORDS = st.sampled_from(
    ["nan", "NaN", "inf", "-Infinity", "INF", "1e999", "1E+400", "2e308", "info", "nano", ":", ","]
)
_TEXT = st.lists(
    st.one_of(_WORDS, st.text(alphabet=st.sampled_from(list('ab",\\:[]{} 9e+-')), max_size=5)), max_size=4
).map("".join)
_RAW = st.sampled_from(
    ["NaN", "nan", "-inf", "Infinity", "-INFINITY", "1e999", "1E+400", "-2e308", "1e308", "12e-999", "3"]
)
_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
    _RAW.map(lambda r: ("raw", r)),
)


def _write(value: Any) -> str:
    if isinstance(value, tuple):
        return value[1]
    if isinstance(value, list):
        return "[" + ", ".join(_write(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_write(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


_VALUES = st.recursive(
    _LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)), max_leaves=6
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_VALUES, min_size=1, max_size=20))
def test_nonfinite_check_decides_as_the_old_sql(tmp_path: Path, values: list[Any]) -> None:
    path = tmp_path / "values.jsonl"
    path.write_text("".join('{"v": ' + _write(value) + "}\n" for value in values), encoding="utf-8")
    expected = _old_sql_rejects(path)
    texts = duckdb.sql(
        f"SELECT v::VARCHAR AS input FROM read_json('{path}', format='newline_delimited', columns={{v: 'JSON'}})"
    ).pl()
    got = [braintrust_sql.has_nonfinite(texts.slice(index, 1)) for index in range(texts.height)]
    assert got == expected, [_write(v) for v in values]
