"""Braintrust log exports: JSONL or a JSON array of log events.

Fast path: one DuckDB ``read_json`` pass with the column types given (open fields typed JSON, so
events whose input/output change shape load fine), validated in SQL. If anything in the file is
not clean (a malformed line, a wrong type, bad UTF-8), the file is read again line by line so that
every problem is reported with its line number and every valid event still loads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from ..frame import derive_sql, finish, frame_from_events, iter_json_lines, loads
from ..progress import progress_bar
from ..report import LoadReport

FORMAT = "braintrust"

_COLUMNS = {
    "id": "VARCHAR",
    "span_id": "VARCHAR",
    "root_span_id": "VARCHAR",
    "span_parents": "VARCHAR[]",
    "is_root": "BOOLEAN",
    "created": "VARCHAR",
    "input": "JSON",
    "output": "JSON",
    "expected": "JSON",
    "error": "JSON",
    "tags": "VARCHAR[]",
    "scores": "JSON",
    "metadata": "JSON",
    "metrics": "JSON",
    "span_attributes": "JSON",
    "context": "JSON",
}
_MARKERS = {"span_id", "root_span_id", "span_parents", "span_attributes"}
_NUMBER_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')"


def detect(sample: object) -> bool:
    """A Braintrust log event (or a list of them)."""
    if isinstance(sample, list) and sample:
        sample = sample[0]
    return isinstance(sample, dict) and bool(_MARKERS & sample.keys())


def _numbers_only(field: str) -> str:
    return (
        f"({field} IS NULL OR (json_type({field}) = 'OBJECT' AND list_bool_and(list_transform(json_keys({field}), "
        f"lambda k: json_type({field}, '$.\"' || replace(k, '\"', '\\\"') || '\"') IN {_NUMBER_TYPES}))))"
    )


def _normalized_sql(source: str) -> str:
    created_numeric = "regexp_full_match(trim(created), '-?[0-9]+(\\.[0-9]*)?([eE][+-]?[0-9]+)?')"
    epoch = "TRY_CAST(created AS DOUBLE)"
    seconds = (
        f"CASE WHEN abs({epoch}) >= 1e17 THEN {epoch} / 1e9 WHEN abs({epoch}) >= 1e14 THEN {epoch} / 1e6 "
        f"WHEN abs({epoch}) >= 1e11 THEN {epoch} / 1e3 ELSE {epoch} END"
    )
    return f"""
    SELECT
      coalesce(id, span_id) AS id,
      coalesce(span_id, id) AS span_id,
      coalesce(root_span_id, CASE WHEN coalesce(len(span_parents), 0) = 0 THEN coalesce(span_id, id) END)
        AS root_span_id,
      coalesce(span_parents, []) AS span_parents,
      coalesce(is_root, coalesce(len(span_parents), 0) = 0) AS is_root,
      CASE WHEN created IS NULL THEN NULL
           WHEN {created_numeric} THEN to_timestamp({seconds})
           ELSE TRY_CAST(created AS TIMESTAMPTZ) END AS created,
      created AS _created_text,
      input::VARCHAR AS input, output::VARCHAR AS output, expected::VARCHAR AS expected,
      error::VARCHAR AS error, coalesce(tags, []) AS tags, scores::VARCHAR AS scores,
      metadata::VARCHAR AS metadata, metrics::VARCHAR AS metrics,
      span_attributes::VARCHAR AS span_attributes, context::VARCHAR AS context,
      (coalesce(id, span_id) IS NOT NULL
        AND (root_span_id IS NOT NULL OR coalesce(len(span_parents), 0) = 0)
        AND (created IS NULL OR {created_numeric} OR TRY_CAST(created AS TIMESTAMPTZ) IS NOT NULL)
        AND {_numbers_only("scores")} AND {_numbers_only("metrics")}
        AND (span_attributes IS NULL OR json_type(span_attributes) = 'OBJECT')
        AND (context IS NULL OR json_type(context) = 'OBJECT')) AS _valid
    FROM {source}
    """


@contextmanager
def _query_progress(con: duckdb.DuckDBPyConnection, total_bytes: int, show: bool) -> Iterator[None]:
    """Mirror DuckDB's own query progress into a tqdm bar (terminal or notebook)."""
    if not show:
        yield
        return
    bar = progress_bar(total=total_bytes, desc="loading logs", unit="B", unit_scale=True)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            try:
                fraction = con.query_progress()
            except duckdb.Error:
                continue
            if fraction and fraction > 0:
                bar.n = int(total_bytes * min(fraction, 100.0) / 100.0)
                bar.refresh()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        bar.n = total_bytes
        bar.close()


def _fast_load(path: Path, report: LoadReport, *, array: bool, show_progress: bool) -> pl.DataFrame | None:
    """One DuckDB pass; returns None when the file needs the line-by-line path."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    columns = "{" + ", ".join(f"{name}: '{kind}'" for name, kind in _COLUMNS.items()) + "}"
    fmt = "array" if array else "newline_delimited"
    source = f"read_json({_quote(str(path))}, format='{fmt}', columns={columns}, maximum_object_size=1073741824)"
    query = f"""
    WITH normalized AS ({_normalized_sql(source)})
    SELECT * FROM ({derive_sql("normalized")})
    """
    try:
        with _query_progress(con, path.stat().st_size, show_progress):
            table = con.sql(query).to_arrow_table()
    except (duckdb.Error, UnicodeDecodeError):
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if not frame.get_column("_valid").all():
        return None
    report.records_read += frame.height
    frame = finish(frame.drop("_valid", "_created_text"), report, source=str(path))
    report.rows_loaded += frame.height
    return frame


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load(path: str | Path, report: LoadReport, *, progress: bool | None = None) -> pl.DataFrame:
    """Load a Braintrust JSONL export or a JSON array of log events."""
    path = Path(path)
    report.format = report.format or FORMAT
    report.sources.append(str(path))
    array = _is_json_array(path)
    show = progress if progress is not None else path.stat().st_size > 50_000_000
    if not report.strict:
        frame = _fast_load(path, report, array=array, show_progress=show)
        if frame is not None:
            return frame
    data = path.read_bytes()
    if array:
        return _load_array(data, report, str(path))
    return frame_from_events(_iter_lines(data, report, str(path), show), report, source=str(path))


def _is_json_array(path: Path) -> bool:
    """A JSON array file, as opposed to JSONL whose first line happens to be an array."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16).lstrip()
    if not head.startswith(b"["):
        return False
    first, newline, rest = head.partition(b"\n")
    if not newline or not rest.strip():
        return True
    try:
        loads(first)
    except ValueError:
        return True
    return False


def _iter_lines(data: bytes, report: LoadReport, source: str, show: bool) -> Iterator[tuple[int, object]]:
    if not show:
        yield from iter_json_lines(data, report, source=source)
        return
    bar = progress_bar(total=data.count(b"\n") + 1, desc="loading logs (line by line)", unit=" lines")
    last = 0
    for line, event in iter_json_lines(data, report, source=source):
        bar.update(line - last)
        last = line
        yield line, event
    bar.close()


def _load_array(data: bytes, report: LoadReport, source: str) -> pl.DataFrame:
    try:
        events = loads(data)
    except ValueError as exc:
        raise_or_report(report, f"invalid JSON array: {exc}", source)
        return frame_from_events([], report, source=source)
    if not isinstance(events, list):
        events = [events]
    return frame_from_events(((index, event) for index, event in enumerate(events, start=1)), report, source=source)


def raise_or_report(report: LoadReport, reason: str, source: str) -> None:
    report.records_read += 1
    report.skip(1, reason, source=source)


def load_events(events: list[object], report: LoadReport) -> pl.DataFrame:
    """Load a Python list of Braintrust log events (index used as the line)."""
    report.format = report.format or FORMAT
    return frame_from_events(((index, event) for index, event in enumerate(events, start=1)), report)
