"""``import PATH --to chdb:///dir``: load logs batch by batch into a ``native`` ClickHouse table.

The batches and their loop are the DuckDB import's (``sources.importer.import_batches``: one
folder entry, or one row batch of a frame, at a time), written to a MergeTree table of our canonical columns
(``adapters.NATIVE_DDL``) with ``_row``, the load position, so the spans read back in load order.
Spans whose ``id`` was in the table before the import are skipped, counted and listed, as in the
DuckDB import. ClickHouse has no transactions: an interrupted import keeps the batches inserted so
far, and importing the same logs again adds only what is missing (those ids are skipped).
A batch travels to chDB as a Parquet file in a private temporary directory (no copy in Python).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import polars as pl

from ..report import LoadReport
from ..schema import COLUMNS
from ..sources import CLICKHOUSE_EXTRA
from ..sources.duckdb_store import StoreError
from ..sources.importer import ImportResult, import_batches, numbered, skip_known
from .adapters import DEFAULT_TABLES, NATIVE_DDL, quote_name, sql_string, traces_sql
from .backend import _Chdb, chdb_path


def _target(url: str) -> tuple[str, str]:
    """(database directory, table) of ``chdb:///dir[?schema=native&table=T]``."""
    parsed = urlparse(url)
    if parsed.scheme != "chdb":
        raise StoreError(
            f"import writes a DuckDB store (duckdb:///...) or a chDB database (chdb:///dir), not {url!r}; "
            "to fill a ClickHouse server, import into chdb:/// and copy the table (docs/clickhouse.md)"
        )
    params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if params.get("schema", "native") != "native":
        raise StoreError(f"import writes the native schema (our columns), not schema={params['schema']!r}")
    try:
        return chdb_path(url), params.get("table", DEFAULT_TABLES["native"]["spans"])
    except ValueError as exc:
        raise StoreError(str(exc)) from None


def _count(conn: _Chdb, sql: str) -> int:
    return int(conn.execute(sql).strip() or 0)


def import_to_chdb(
    source: str | Path | pl.DataFrame,
    to: str,
    *,
    format: str = "auto",
    strict: bool = False,
    progress: bool | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import logs into the native table of the chDB database at ``to`` (created when missing)."""
    started = time.monotonic()
    path, table_name = _target(to)
    try:
        table = quote_name(table_name)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    try:  # before the directory is made: without the extra, nothing is written
        import chdb  # noqa: F401
    except ModuleNotFoundError:
        raise StoreError(f"import --to chdb:/// needs chdb: {CLICKHOUSE_EXTRA}") from None
    Path(path).mkdir(parents=True, exist_ok=True)
    try:
        conn = _Chdb(path, {"session_timezone": "UTC"})
    except RuntimeError as exc:  # chDB: another database directory is open in this process
        raise StoreError(str(exc)) from None
    result = ImportResult(url=to, report=LoadReport(strict=strict))
    try:
        conn.execute(NATIVE_DDL.format(table=table))
        first_row = _count(conn, f"SELECT if(count() = 0, 0, max(_row) + 1) FROM {table}")
        with tempfile.TemporaryDirectory(prefix="loop_jupyter_import_") as tmp:
            batch_file = Path(tmp) / "batch.parquet"
            import_batches(
                source,
                format,
                result,
                first_row,
                lambda frame, row: _insert(conn, table, frame, batch_file, first_row, row, result),
                progress=progress,
                on_batch=on_batch,
            )
        result.traces_updated = _count(
            conn, f"SELECT uniqExact(root_span_id) FROM {table} WHERE _row >= {int(first_row)}"
        )
        write_traces(conn, table_name)
        result.spans_total = _count(conn, f"SELECT count() FROM {table}")
        result.traces_total = _count(conn, f"SELECT uniqExact(root_span_id) FROM {table}")
    finally:
        conn.close()
    result.seconds = time.monotonic() - started
    return result


def traces_table(table_name: str) -> str:
    """The name of the ``traces`` table an import writes beside a native table."""
    return f"{table_name}_traces"


def write_traces(conn: _Chdb, table_name: str) -> None:
    """The ``traces`` view of the native table, computed once and stored beside it (as the DuckDB
    store keeps its ``traces`` table), replaced as a whole after each import. The backend reads it
    while its span count matches the native table's (spans written by other means: it recomputes)."""
    target, source = quote_name(traces_table(table_name)), quote_name(table_name)
    names = ", ".join(f"`{name}`" for name in COLUMNS)
    conn.execute(f"DROP TABLE IF EXISTS {target}")
    conn.execute(
        f"CREATE TABLE {target} ENGINE = MergeTree ORDER BY root_span_id AS "
        f"WITH _spans AS (SELECT {names} FROM {source}) {traces_sql('_spans')}"
    )


def _insert(
    conn: _Chdb, table: str, frame: pl.DataFrame, batch_file: Path, first_row: int, next_row: int, result: ImportResult
) -> int:
    """Insert the spans of ``frame`` whose id was not in the table before this import."""
    if first_row > 0 and frame.height:
        frame.select("id").write_parquet(batch_file)
        found = conn.execute(
            f"SELECT DISTINCT id FROM {table} WHERE _row < {int(first_row)} "
            f"AND id IN (SELECT id FROM file({sql_string(str(batch_file))}, Parquet))",
            "JSONCompactColumns",
        )
        columns = json.loads(found) if found.strip() else []  # no row found: chDB writes "[]"
        frame = skip_known(frame, pl.Series(columns[0] if columns else [], dtype=pl.String), result)
    if not frame.height:
        return 0
    rows = numbered(frame, next_row)
    rows.write_parquet(batch_file)
    del rows
    conn.execute(f"INSERT INTO {table} SELECT * FROM file({sql_string(str(batch_file))}, Parquet)")
    return frame.height
