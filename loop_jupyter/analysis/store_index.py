"""The similar-traces index persisted in a DuckDB store, beside the data.

``loop-jupyter import`` builds it after the spans are in (``update_store_index``): one row per
trace in the table ``similar_index`` (root span id, the normalised embedding as ``FLOAT[256]``, the
text embedded, span names, tools, error kinds, and the trace's user and logged intent), computed by
the same code as the in-memory index (``embeddings.trace_documents``), trace by trace, so its rows
equal what ``build_index`` gives for the whole frame. ``loop_jupyter_meta`` records how many spans
rows (``_row``) the index has seen (``similar_index_rows``) and the index format: an append only
re-embeds the traces it touched (their spans from that row on), and a reader uses the index only
when the watermark equals the store's rows (an index left behind by an import that has not updated
it is never read; the tool then falls back to the in-memory index of its working frame).

Memory is bounded: traces are embedded in hash partitions of ``CHUNK_TRACES``, each committed.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from ..embeddings import DIM, INDEX_FORMAT, MODEL_NAME, TraceIndex, _document_text, embed, trace_documents
from ..sources.duckdb_store import META_TABLE, DuckDBStore, check_version, connect_file, parse_url
from ..sources.importer import IMPORT_MEMORY_LIMIT
from ..tools.text import error_kind

INDEX_TABLE = "similar_index"
ROWS_KEY = "similar_index_rows"
FORMAT_KEY = "similar_index_format"
FORMAT = f"{INDEX_FORMAT}|{MODEL_NAME}|{DIM}"
#: Traces embedded per committed step (about 50 MB of vectors and texts).
CHUNK_TRACES = 20_000
#: The columns read per trace: the roots' input and output only (``trace_documents`` reads no other).
_SPAN_COLUMNS = (
    "root_span_id, span_id, is_root, CASE WHEN is_root THEN input END AS input, "
    "CASE WHEN is_root THEN output END AS output, error, name, type"
)
_INDEX_SCHEMA = {
    "root_span_id": pl.String,
    "vector": pl.Array(pl.Float32, DIM),
    "text": pl.String,
    "span_names": pl.List(pl.String),
    "tools": pl.List(pl.String),
    "errors": pl.List(pl.String),
    "user": pl.String,
    "intent": pl.String,
}


def _meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", [key]).fetchall()
    return row[0][0] if row else None


def _set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(f"DELETE FROM {META_TABLE} WHERE key = ?", [key])
    con.execute(f"INSERT INTO {META_TABLE} VALUES (?, ?)", [key, value])


def _rows(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT coalesce(max(_row) + 1, 0) FROM spans").fetchall()[0][0])


def _has_table(con: duckdb.DuckDBPyConnection) -> bool:
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return INDEX_TABLE in names


def _attributes(traces: pl.DataFrame) -> pl.DataFrame:
    """root_span_id, user and intent as ``_similar_shared`` computes them from the traces view."""
    return traces.select(
        "root_span_id",
        pl.col("user").cast(pl.String),
        pl.col("metadata").str.json_path_match("$.intent").alias("intent"),
    )


def index_rows(spans: pl.DataFrame, traces: pl.DataFrame) -> pl.DataFrame:
    """The index rows of the traces whose spans are in ``spans`` (every span of each of them, in load
    order), with ``traces`` their rows of the traces view (for user and intent)."""
    docs = trace_documents(spans)
    names = docs.get_column("span_names").to_list()
    texts = [
        _document_text(i, o, n)
        for i, o, n in zip(docs.get_column("input"), docs.get_column("output"), names, strict=True)
    ]
    errors = [sorted(set(filter(None, (error_kind(e) for e in errs)))) for errs in docs.get_column("errors").to_list()]
    vectors = embed(texts)
    frame = pl.DataFrame(
        {
            "root_span_id": docs.get_column("root_span_id"),
            "vector": pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, DIM)),
            "text": texts,
            "span_names": docs.get_column("span_names"),
            "tools": docs.get_column("tools"),
            "errors": errors,
        },
        schema={k: v for k, v in _INDEX_SCHEMA.items() if k not in ("user", "intent")},
    )
    return frame.join(_attributes(traces), on="root_span_id", how="left", nulls_equal=True, maintain_order="left")


def _create_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {INDEX_TABLE} (root_span_id VARCHAR, vector FLOAT[{DIM}], text VARCHAR, "
        "span_names VARCHAR[], tools VARCHAR[], errors VARCHAR[], user VARCHAR, intent VARCHAR)"
    )


def update_store_index(target: str | Path, *, progress: bool = False) -> dict[str, Any]:
    """Build or bring up to date the similar-traces index of the store at ``target`` (a
    ``duckdb:///`` URL or a path); needs the store writable (no other process has it open)."""
    started = time.monotonic()
    path = parse_url(target) if isinstance(target, str) and target.startswith("duckdb:") else Path(target)
    # DuckDB's buffer pool caches what it scans up to its limit: kept to the import's (flat peak).
    con = connect_file(path, read_only=False, memory_limit=IMPORT_MEMORY_LIMIT)
    try:
        check_version(con, path)
        rows = _rows(con)
        seen = _meta(con, ROWS_KEY)
        fresh_format = _meta(con, FORMAT_KEY) == FORMAT and _has_table(con)
        since = int(seen) if (seen is not None and fresh_format) else 0
        if since == rows and fresh_format:
            return {"traces_embedded": 0, "traces_indexed": _count(con), "seconds": time.monotonic() - started}
        con.begin()
        if since == 0:
            con.execute(f"DROP TABLE IF EXISTS {INDEX_TABLE}")
        _create_table(con)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT root_span_id FROM spans WHERE _row >= ?", [since]
        )
        con.execute(
            f"DELETE FROM {INDEX_TABLE} i WHERE EXISTS "
            "(SELECT 1 FROM _touched t WHERE t.root_span_id IS NOT DISTINCT FROM i.root_span_id)"
        )
        con.commit()
        touched = int(con.execute("SELECT count(*) FROM _touched").fetchall()[0][0])
        parts = max(1, math.ceil(touched / CHUNK_TRACES))
        for part in _progress(range(parts if touched else 0), progress and parts > 1):
            pick = f"SELECT root_span_id FROM _touched WHERE coalesce(hash(root_span_id), 0) % {parts} = {part}"
            spans = con.sql(
                f"SELECT {_SPAN_COLUMNS} FROM spans s SEMI JOIN ({pick}) t "
                "ON s.root_span_id IS NOT DISTINCT FROM t.root_span_id ORDER BY _row"
            ).pl()
            traces = con.sql(
                "SELECT root_span_id, user, metadata FROM traces s SEMI JOIN "
                f"({pick}) t ON s.root_span_id IS NOT DISTINCT FROM t.root_span_id"
            ).pl()
            frame = index_rows(spans, traces)
            del spans, traces
            con.register("_index_rows", frame.to_arrow())
            try:
                con.execute(f"INSERT INTO {INDEX_TABLE} BY NAME SELECT * FROM _index_rows")
            finally:
                con.unregister("_index_rows")
        con.begin()
        _set_meta(con, ROWS_KEY, str(rows))
        _set_meta(con, FORMAT_KEY, FORMAT)
        con.commit()
        con.execute("DROP TABLE _touched")
        con.execute("CHECKPOINT")
        return {"traces_embedded": touched, "traces_indexed": _count(con), "seconds": time.monotonic() - started}
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute(f"SELECT count(*) FROM {INDEX_TABLE}").fetchall()[0][0])


def _progress(parts: range, show: bool) -> Any:
    if not show:
        return parts
    from ..progress import progress_bar

    bar = progress_bar(total=len(parts), desc="similar-traces index", unit=" parts")

    def steps() -> Any:
        for part in parts:
            yield part
            bar.update(1)
        bar.close()

    return steps()


_LOADED: dict[tuple[str, int], TraceIndex] = {}


def load_store_index(source: Any) -> TraceIndex | None:
    """The persisted index of a ``DuckDBStore`` when it is up to date with its spans, else None.
    Loaded once per process per store state."""
    if not isinstance(source, DuckDBStore):
        return None
    engine = source.engine
    with engine._lock:
        con = engine._con
        if not _has_table(con) or _meta(con, FORMAT_KEY) != FORMAT:
            return None
        rows = _rows(con)
        if _meta(con, ROWS_KEY) != str(rows):
            return None
        key = (str(source.path.resolve()), rows)
        if key in _LOADED:
            return _LOADED[key]
        table = con.sql(f"SELECT * FROM {INDEX_TABLE} ORDER BY root_span_id NULLS FIRST").arrow()
    if not isinstance(table, pa.Table):
        table = table.read_all()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    vectors = frame.get_column("vector").to_numpy().reshape(-1, DIM).astype(np.float32, copy=False)
    index = TraceIndex(
        key=f"store:{key[0]}:{rows}",
        root_span_ids=frame.get_column("root_span_id").to_list(),
        vectors=np.ascontiguousarray(vectors),
        texts=frame.get_column("text").to_list(),
        span_names=[frozenset(s) for s in frame.get_column("span_names").to_list()],
        tools=[frozenset(s) for s in frame.get_column("tools").to_list()],
        errors=[frozenset(s) for s in frame.get_column("errors").to_list()],
        attributes=frame.select("root_span_id", "user", "intent"),
    )
    if len(_LOADED) >= 2:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[key] = index
    return index


__all__ = ["INDEX_TABLE", "index_rows", "load_store_index", "update_store_index"]
