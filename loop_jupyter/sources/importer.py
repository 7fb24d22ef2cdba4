"""``import_logs(PATH, "duckdb:///logs.duckdb")``: load logs batch by batch into a store.

Every format ``load_logs`` reads. A folder goes in one batch per entry (file or sub-folder), as
``load_logs`` loads it, so memory holds one entry at a time; a folder that one format reads whole
(an OpenHands or Who&When folder is one trace) and a single file are one batch each; a frame is cut
into row batches. Spans whose ``id`` was in the store before the import are skipped and counted
(repeats within one import all load, as ``load_logs`` keeps them).

Memory stays flat whatever the import's size: each batch is cut into slices of ``STAGE_ROWS``
rows, and each slice is committed into a staging table (``_loop_jupyter_import``) beside the data,
so DuckDB never holds a long uncommitted append in memory (one transaction over 1M spans held
about 1.7 GB). The store's tables only change in one short last transaction that moves the staged
rows into ``spans``, updates the touched ``traces`` rows and drops the staging table. An error,
an interrupt or a killed process before that commit leaves ``spans`` and ``traces`` as they were:
readers never read the staging table, and the next import drops what an interrupted one left
(a store file the import created is removed again on an error; a killed first import leaves a file
holding only the staging table, which no reader opens as a store and the next import takes over).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ..engine import _TRACES_SQL
from ..progress import progress_bar
from ..report import LoadError, LoadReport
from ..schema import SCHEMA, empty_frame
from .chunked import NotContiguous, chunkable, iter_chunks
from .derived import update_derived
from .duckdb_store import StoreError, check_version, connect_file, create_schema, is_store, parse_url
from .trace_rows import update_trace_rows

#: Rows per batch when the source is a frame already in memory.
FRAME_BATCH_ROWS = 250_000
#: Duplicate ids listed in the result (all are counted).
SHOWN_DUPLICATES = 20
#: DuckDB's memory for the import connection (the traces recomputation spills past it). At 1M
#: spans in 10 batches, 512 MB gave a lower peak (2.1 GB against 2.9 GB) and a quicker import than 2 GB.
IMPORT_MEMORY_LIMIT = "512MB"
#: Rows per staged commit (a batch is cut into slices of this many rows).
STAGE_ROWS = 100_000
#: The table an import stages its rows in until the last transaction moves them into ``spans``.
STAGING = "_loop_jupyter_import"


@dataclass
class ImportResult:
    """What an import did: the load report, spans added, duplicates skipped, the store's size after."""

    url: str
    report: LoadReport
    batches: int = 0
    spans_added: int = 0
    duplicates: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    traces_updated: int = 0
    spans_total: int = 0
    traces_total: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        text = self.report.summary()
        text += (
            f"\nimported {self.spans_added:,} spans into {self.url} in {self.seconds:.1f} s "
            f"({self.batches:,} batches, {self.traces_updated:,} traces added or updated); "
            f"the store holds {self.spans_total:,} spans in {self.traces_total:,} traces"
        )
        if self.duplicates:
            shown = ", ".join(self.duplicate_ids[:5])
            more = f" and {self.duplicates - 5:,} more" if self.duplicates > 5 else ""
            text += f"\nskipped {self.duplicates:,} spans whose id is already in the store: {shown}{more}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "report": self.report.to_dict(),
            "batches": self.batches,
            "spans_added": self.spans_added,
            "duplicates": self.duplicates,
            "duplicate_ids": self.duplicate_ids,
            "traces_updated": self.traces_updated,
            "spans_total": self.spans_total,
            "traces_total": self.traces_total,
            "seconds": round(self.seconds, 3),
        }


def _entries(path: Path, fmt: str, report: LoadReport) -> list[Path]:
    """What to load one at a time: ``load_logs``'s own split of a folder (``loaders.folder_entries``)."""
    from ..loaders import folder_entries

    return folder_entries(path, fmt, report)[1] if path.is_dir() else [path]


def iter_batches(
    source: str | Path | pl.DataFrame,
    fmt: str,
    report: LoadReport,
    *,
    progress: bool | None = None,
    chunked: bool = False,
) -> Iterator[pl.DataFrame]:
    """Canonical frames, one per folder entry (or per row batch of a frame), merged into ``report``.
    With ``chunked``, a large Braintrust JSONL entry comes in chunks of whole traces
    (``sources.chunked``: may raise NotContiguous, then read again without)."""
    from ..loaders import UnreadableFile, load_logs_with_report

    if isinstance(source, pl.DataFrame):
        frame, sub = load_logs_with_report(source, fmt, strict=report.strict)
        report.merge(sub)
        report.format = sub.format
        for start in range(0, frame.height, FRAME_BATCH_ROWS):
            yield frame.slice(start, FRAME_BATCH_ROWS)
        return
    path = Path(source).expanduser()
    if not path.exists():
        raise LoadError(f"no such file or directory: {path}")
    entries = _entries(path, fmt, report)
    show = progress if progress is not None else len(entries) > 1
    with progress_bar(total=len(entries), desc=f"importing {path.name}", unit=" entries", disable=not show) as bar:
        for entry in entries:
            if chunked and not report.strict and chunkable(entry, fmt):
                yield from iter_chunks(entry, report, progress=False if show else progress)
                bar.update(1)
                continue
            try:
                frame, sub = load_logs_with_report(
                    entry, fmt, strict=report.strict, progress=False if show else progress
                )
            except UnreadableFile as exc:  # one corrupt file: reported, the rest of the folder imports
                sub = LoadReport(strict=report.strict)
                sub.records_read += 1
                sub.skip(None, str(exc), source=str(entry))
                frame = None
            if sub.format:
                report.format = sub.format if report.format in ("", sub.format) else "mixed"
            report.merge(sub)
            bar.update(1)
            if frame is not None:
                yield frame
                del frame  # not held while the next entry loads


def import_batches(
    source: str | Path | pl.DataFrame,
    fmt: str,
    result: ImportResult,
    next_row: int,
    insert: Callable[[pl.DataFrame, int], int],
    *,
    progress: bool | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    chunked: bool = False,
) -> None:
    """The import's loop, for every backend: each batch of ``iter_batches`` goes to
    ``insert(frame, next_row)`` (returns the spans it added, numbered from ``next_row``), then is
    counted in ``result`` and reported to ``on_batch(batches_done, spans_added)``."""
    for frame in iter_batches(source, fmt, result.report, progress=progress, chunked=chunked):
        added = insert(frame, next_row)
        del frame  # one batch in memory at a time
        next_row += added
        result.spans_added += added
        result.batches += 1
        if on_batch is not None:
            on_batch(result.batches, result.spans_added)


def skip_known(frame: pl.DataFrame, known: pl.Series, result: ImportResult) -> pl.DataFrame:
    """The spans of ``frame`` whose id is not in ``known`` (ids in the store before this import);
    the others are counted in ``result`` and the first ``SHOWN_DUPLICATES`` of them listed."""
    if not known.len():
        return frame
    repeated = frame.filter(pl.col("id").is_in(known.implode()))
    result.duplicates += repeated.height
    room = SHOWN_DUPLICATES - len(result.duplicate_ids)
    if room > 0:
        result.duplicate_ids.extend(repeated.get_column("id").head(room).to_list())
    return frame.filter(~pl.col("id").is_in(known.implode()).fill_null(False))


def numbered(frame: pl.DataFrame, next_row: int) -> pl.DataFrame:
    """The canonical columns of ``frame`` plus ``_row``, its load position from ``next_row`` on."""
    return frame.select(list(SCHEMA)).with_columns(
        pl.int_range(next_row, next_row + frame.height, dtype=pl.Int64).alias("_row")
    )


def _affected_traces_sql() -> str:
    """engine.py's traces SQL over the spans of the traces this import touched (``_affected``)."""
    body = re.sub(r"\blogs_rows\b", "_affected_rows", _TRACES_SQL.strip())
    assert body.startswith("WITH ")
    cte = (
        "_affected_rows AS (SELECT s.* FROM spans s SEMI JOIN _affected a "
        "ON s.root_span_id IS NOT DISTINCT FROM a.root_span_id)"
    )
    return "WITH " + cte + ", " + body[len("WITH ") :]


def _stage(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, existing: bool, next_row: int, result: ImportResult
) -> int:
    """Stage the spans of ``frame`` whose id is not in the store's ``spans`` (the rows before this
    import: the staged ones are not there yet) in one committed transaction; returns how many.
    Repeats within one import all load, as ``load_logs`` keeps them, so one import into an empty
    store holds exactly what ``load_logs`` returns."""
    if existing:
        con.register("_batch", frame.select("id").to_arrow(compat_level=pl.CompatLevel.newest()))
        try:
            # spans on the probe side, the batch's ids hashed: one scan of the id column per slice.
            dups = con.sql("SELECT DISTINCT s.id FROM spans s SEMI JOIN _batch b ON s.id = b.id").pl()
        finally:
            con.unregister("_batch")
        frame = skip_known(frame, dups.get_column("id"), result)
    if not frame.height:
        return 0
    rows = numbered(frame, next_row)
    con.register("_batch", rows.to_arrow(compat_level=pl.CompatLevel.newest()))
    try:
        con.begin()
        try:
            con.execute(f"INSERT INTO {STAGING} BY NAME SELECT * FROM _batch")
            con.commit()
        except BaseException:
            con.rollback()
            raise
    finally:
        con.unregister("_batch")
    return frame.height


def _stage_all(
    con: duckdb.DuckDBPyConnection,
    source: str | Path | pl.DataFrame,
    fmt: str,
    existing: bool,
    next_row: int,
    result: ImportResult,
    progress: bool | None,
    on_batch: Callable[[int, int], None] | None,
    *,
    chunked: bool,
) -> None:
    """Stage every batch of ``source`` into a fresh staging table, in slices of ``STAGE_ROWS``."""
    _create_staging(con)

    def stage(frame: pl.DataFrame, row: int) -> int:
        added = 0
        for start in range(0, frame.height, STAGE_ROWS):
            added += _stage(con, frame.slice(start, STAGE_ROWS), existing, row + added, result)
        return added

    import_batches(source, fmt, result, next_row, stage, progress=progress, on_batch=on_batch, chunked=chunked)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _create_staging(con: duckdb.DuckDBPyConnection) -> None:
    """A fresh staging table (what an interrupted import left is dropped), committed."""
    con.execute(f"DROP TABLE IF EXISTS {STAGING}")
    con.register("_loop_jupyter_empty", empty_frame().to_arrow())
    try:
        con.execute(f"CREATE TABLE {STAGING} AS SELECT *, 0::BIGINT AS _row FROM _loop_jupyter_empty LIMIT 0")
    finally:
        con.unregister("_loop_jupyter_empty")


def _drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute(f"DROP TABLE IF EXISTS {STAGING}")


def import_logs(
    source: str | Path | pl.DataFrame,
    to: str,
    *,
    format: str = "auto",
    strict: bool = False,
    progress: bool | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import logs into the store at URL ``to`` (created when missing): the spans are staged in
    committed slices, then moved into the store in one short transaction (see the module's doc).

    ``on_batch(batches_done, spans_added)`` is called after each batch is staged (progress, or
    a test's interruption). Raises StoreLockedError when another process has the store open.
    """
    started = time.monotonic()
    path = parse_url(to)
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = connect_file(path, read_only=False, memory_limit=IMPORT_MEMORY_LIMIT)
    except StoreError:
        if created:
            _remove(path)
        raise
    result = ImportResult(url=to, report=LoadReport(strict=strict))
    try:
        existing = is_store(con)
        if not created and not existing and _tables(con) - {STAGING}:
            raise StoreError(f"{path} is a DuckDB database but not a loop_jupyter store: refusing to write into it")
        if existing:
            check_version(con, path)
        first_row = int(con.execute("SELECT coalesce(max(_row) + 1, 0) FROM spans").fetchall()[0][0]) if existing else 0
        try:
            _stage_all(con, source, format, existing, first_row, result, progress, on_batch, chunked=True)
        except NotContiguous:  # a big JSONL file whose traces are apart: staged again, read whole
            result = ImportResult(url=to, report=LoadReport(strict=strict))
            _stage_all(con, source, format, existing, first_row, result, progress, on_batch, chunked=False)
        con.begin()
        try:
            if not existing:
                create_schema(con)
            # Staged in import order; DuckDB keeps insertion order, so spans stay in load order.
            con.execute(f"INSERT INTO spans BY NAME SELECT * FROM {STAGING}")
            con.execute(f"DROP TABLE {STAGING}")
            result.traces_updated = _update_traces(con, first_row)
            update_derived(con, first_row)  # vocabulary and stats (sources/derived.py)
            update_trace_rows(con, first_row)  # each trace's _row ranges (sources/trace_rows.py)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        con.execute("CHECKPOINT")  # fold the write-ahead log into the file: re-opening stays quick
        result.spans_total = int(con.execute("SELECT count(*) FROM spans").fetchall()[0][0])
        result.traces_total = int(con.execute("SELECT count(*) FROM traces").fetchall()[0][0])
    except BaseException:
        _drop_staging(con)
        con.close()
        if created:
            _remove(path)
        raise
    con.close()
    result.seconds = time.monotonic() - started
    return result


def _update_traces(con: duckdb.DuckDBPyConnection, first_row: int) -> int:
    """Recompute the traces rows of every trace that got spans (rows from ``first_row`` on)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _affected AS SELECT DISTINCT root_span_id FROM spans WHERE _row >= ?",
        [first_row],
    )
    affected = int(con.execute("SELECT count(*) FROM _affected").fetchall()[0][0])
    if affected:
        con.execute(
            "DELETE FROM traces t WHERE EXISTS "
            "(SELECT 1 FROM _affected a WHERE a.root_span_id IS NOT DISTINCT FROM t.root_span_id)"
        )
        con.execute(f"INSERT INTO traces BY NAME SELECT * FROM ({_affected_traces_sql()})")
        # Kept in the in-memory view's order, so `SELECT * FROM traces LIMIT n` reads the same rows.
        con.execute(
            'CREATE OR REPLACE TABLE traces AS SELECT * FROM traces ORDER BY "created" DESC NULLS LAST, root_span_id'
        )
    con.execute("DROP TABLE _affected")
    return affected


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
