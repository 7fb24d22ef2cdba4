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

from ..frame import finish, frame_from_events, iter_json_lines, loads
from ..progress import progress_bar
from ..report import LoadReport
from ..sqltext import sql_literal
from ._common import read_document
from .braintrust_sql import fast_load_sql, has_nonfinite

FORMAT = "braintrust"

_COLUMNS = {
    # Typed JSON, then checked and converted in SQL: read as VARCHAR/BOOLEAN/VARCHAR[], DuckDB
    # would silently coerce what the line-by-line path rejects (ids given as objects, floats or
    # booleans, "yes" as is_root, numbers inside tags).
    "id": "JSON",
    "span_id": "JSON",
    "root_span_id": "JSON",
    "span_parents": "JSON",
    "is_root": "JSON",
    "created": "VARCHAR",
    "input": "JSON",
    "output": "JSON",
    "expected": "JSON",
    "error": "JSON",
    "tags": "JSON",
    "scores": "JSON",
    "metadata": "JSON",
    "metrics": "JSON",
    "span_attributes": "JSON",
    "context": "JSON",
}
_MARKERS = {"span_id", "root_span_id", "span_parents", "span_attributes"}
_BATCH_ROWS = 1 << 17


def detect(sample: object) -> bool:
    """A Braintrust log event (or a list of them)."""
    if isinstance(sample, list) and sample:
        sample = sample[0]
    return isinstance(sample, dict) and bool(_MARKERS & sample.keys())


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
    # DuckDB's own progress bar stays quiet (it would print into the terminal, a notebook or a
    # --json output); _query_progress reads the same progress into ours.
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET TimeZone = 'UTC'")
    # Strings leave DuckDB as Arrow string views, which Polars takes without copying (1M spans:
    # 0.25 s and a second copy of every id saved against plain Arrow strings).
    con.execute("SET arrow_output_version = '1.4'")
    con.execute("SET produce_arrow_string_view = true")
    columns = "{" + ", ".join(f"{name}: '{kind}'" for name, kind in _COLUMNS.items()) + "}"
    fmt = "array" if array else "newline_delimited"
    # DuckDB's default object limit (16 MB, lines to ~32 MB) first: its read buffers grow with
    # maximum_object_size, and asking for 1 GB up front cost 630 MB of RSS on 1M spans. Files
    # with bigger lines are read again with the large limit (nothing is dropped).
    frame = None
    try:
        for limit in ("", ", maximum_object_size=1073741824"):
            source = f"read_json({sql_literal(str(path))}, format='{fmt}', columns={columns}{limit})"
            try:
                with _query_progress(con, path.stat().st_size, show_progress):
                    frame = _stream(con.sql(fast_load_sql(source)))
                break
            except duckdb.InvalidInputException as exc:
                if "maximum_object_size" not in str(exc):
                    return None
            except (duckdb.Error, UnicodeDecodeError):
                return None
    finally:
        # Closed before the frame is finished: DuckDB's working set no longer sits under the
        # depth step's temporaries (1M spans: peak 1.48 GB -> 1.39 GB).
        con.close()
    if frame is None:
        return None
    report.records_read += frame.height
    frame = finish(frame, report, source=str(path))
    report.rows_loaded += frame.height
    return frame


def _stream(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame | None:
    """The result as Polars, batch by batch; None as soon as a batch holds an event that needs
    the line-by-line path. Converting per batch never holds the whole result twice (DuckDB's
    Arrow table and the Polars frame): 1M spans peaked 1.37 GB that way."""
    reader = relation.to_arrow_reader(_BATCH_ROWS)
    parts = []
    for batch in reader:
        part = pl.from_arrow(batch)
        assert isinstance(part, pl.DataFrame)
        if not part.get_column("_valid").all():
            return None
        part = part.drop("_valid")
        if has_nonfinite(part):
            return None
        parts.append(part)
    if not parts:
        empty = pl.from_arrow(reader.schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        return empty.drop("_valid")
    return pl.concat(parts, rechunk=False)


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
        # One line holding an array of no objects ("[1, 2]") is one bad JSONL line, not an
        # export of non-events: report it as line 1 rather than as each element.
        try:
            value = loads(first) if len(head) < (1 << 16) else None
        except ValueError:
            return True
        return not (isinstance(value, list) and value and not any(isinstance(v, dict) for v in value))
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
        events = read_document(data, report, source)
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
