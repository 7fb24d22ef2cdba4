"""The protocol's reads written once in SQL, for any engine with the views the sandbox knows.

Both backends give their engine the same views: ``logs_rows`` (every span plus ``_row``, its load
position), ``logs`` (the spans) and ``traces`` (one row per trace, engine.py's definition). So the
same statements answer on the in-memory frame and on a DuckDB file, and the differential test can
hold them to identical results. User text (WHERE conditions, SQL) is checked by the sandbox
(``LogEngine.where`` / ``LogEngine.sql``); what is built here around it is fixed SQL with quoted
literals and column names checked against the schema.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import polars as pl
import pyarrow as pa

from ..engine import TRACE_COLUMNS, LogEngine
from ..schema import SCHEMA
from .base import Shape, SourceStats, check_page

#: The order rows come in: spans as loaded, traces newest first (engine.py's traces view order).
SOURCE_ORDER = {"spans": "_row", "traces": '"created" DESC NULLS LAST, root_span_id'}
_UNBOUNDED = 10**12
#: Time allowed to draw a tool's working sample (once per session), against a query's 20 s.
SAMPLE_TIMEOUT_S = 300.0


def literal(text: str) -> str:
    """``text`` as a SQL string literal (DuckDB strings have no backslash escapes)."""
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def columns_of(shape: str) -> tuple[str, ...]:
    return TRACE_COLUMNS if shape == "traces" else tuple(SCHEMA)


def _known(columns: tuple[str, ...], shape: str) -> tuple[str, ...]:
    """``columns``, each a column of the shape (ValueError otherwise)."""
    unknown = [c for c in columns if c not in columns_of(shape)]
    if unknown:
        raise ValueError(f"no column {', '.join(unknown)} in {shape}")
    return columns


def as_canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Spans with the canonical column types (a DuckDB round trip can widen a type)."""
    if all(frame.schema.get(name) == dtype for name, dtype in SCHEMA.items()):
        return frame
    return frame.cast({name: dtype for name, dtype in SCHEMA.items() if name in frame.columns})


def page_order(
    shape: str, order: str, order_by: str | None, descending: bool, quote: Callable[[str], str] = _ident
) -> str:
    """The ORDER BY of an explorer page: ``order_by`` (a column of the shape, else ValueError; NULLs
    last), then the source's ``order`` for ties; ``quote`` quotes the column in the engine's SQL."""
    if order_by is None:
        return order
    if order_by not in columns_of(shape):
        raise ValueError(f"cannot sort {shape} by {order_by!r}: not one of {', '.join(columns_of(shape))}")
    return f"{quote(order_by)} {'DESC' if descending else 'ASC'} NULLS LAST, {order}"


#: What the sample's SQL says in each engine that uses it. DuckDB's store draws the same rows by a
#: narrower statement of its own (``EngineSource.sample``: ranks ids only, then reads the picked rows).
_SAMPLE_DIALECTS = {
    # MD5 is a binary string in ClickHouse: as lowercase hex it is DuckDB's md5 text.
    "clickhouse": {
        "draw": "lower(hex(MD5(concat({key}, ':', {seed}))))",
        "day": "toStartOfDay(created)",
        "count": "count()",
        "share": "_rank / _in_day",
        "except": "EXCEPT",
    },
}


def sample_sql(
    dialect: str,
    relation: str,
    body: str,
    shape: str,
    tie: str,
    order: str,
    n: int,
    seed: int,
    stratify_by_day: bool = False,
) -> str:
    """The statement of ``sample`` in ClickHouse's SQL: at most ``n`` rows of
    ``relation`` matching ``body`` (a checked condition), ranked by the MD5 of the row's key and the
    seed (which both engines compute alike, so they draw the same rows), ties by ``tie``; returned
    in ``order``. ``stratify_by_day``: each day's rows ranked by the draw, first one row of every
    day (when ``n`` allows), then the smallest rank/rows-in-day first, which gives each day a share
    in proportion to its rows."""
    words = _SAMPLE_DIALECTS[dialect]
    key = "root_span_id" if shape == "traces" else "id"
    draw = words["draw"].format(key=key, seed=literal(str(int(seed))))
    n, drop = max(0, int(n)), words["except"]
    if not stratify_by_day:
        return f"""
SELECT * {drop} (_draw) FROM (
  SELECT *, {draw} AS _draw FROM {relation} WHERE {body} ORDER BY _draw, {tie} LIMIT {n}
) ORDER BY {order}"""
    return f"""
SELECT * {drop} (_draw, _day, _rank, _in_day) FROM (
  SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY _day ORDER BY _draw, {tie}) AS _rank,
           {words["count"]} OVER (PARTITION BY _day) AS _in_day
    FROM (SELECT *, {draw} AS _draw, {words["day"]} AS _day FROM {relation} WHERE {body})
  ) ORDER BY _rank > 1, {words["share"]}, _draw, {tie} LIMIT {n}
) ORDER BY {order}"""


class EngineSource:
    """The shared implementation of ``LogSource`` over a sandboxed ``LogEngine``."""

    url: str = ""

    def __init__(self, engine: LogEngine) -> None:
        self.engine = engine

    def close(self) -> None:
        """Release what the backend holds (nothing for a frame)."""

    def __enter__(self) -> EngineSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------
    def _fetch(self, sql: str, original: str, limit: int | None = None) -> pl.DataFrame:
        """Run SQL built here (user parts already checked) under the engine's lock and time limit."""
        frame, _ = self.engine._run(sql, original, _UNBOUNDED if limit is None else limit, time.monotonic())
        return frame

    def _body(self, where: str | None, shape: Shape) -> str:
        """The checked, rewritten WHERE condition (``TRUE`` for every row)."""
        if where is None or not where.strip():
            return "TRUE"
        select = self.engine.where(where, shape=shape)
        # In parentheses: the reads put more conditions after it (``sample``: ``AND EXISTS``), and
        # ``a OR b AND EXISTS (...)`` would keep every row matching ``a``.
        return f"({select.split(' WHERE ', 1)[1]})"

    @staticmethod
    def _table(shape: Shape) -> str:
        return "traces" if shape == "traces" else "logs_rows"

    def _finish(self, frame: pl.DataFrame, shape: Shape) -> pl.DataFrame:
        if shape == "spans":
            return as_canonical(frame.drop("_row", strict=False))
        return frame

    # -- the protocol --------------------------------------------------------------------------
    @property
    def schema(self) -> dict[str, pl.DataType]:
        return dict(SCHEMA)

    def sql(self, query: str, *, limit: int | None = None) -> pl.DataFrame:
        return self.engine.sql(query, limit=limit)

    def filter(self, where: str | None = None, *, shape: Shape = "spans", limit: int | None = None) -> pl.DataFrame:
        body = self._body(where, shape)
        sql = f"SELECT * FROM {self._table(shape)} WHERE {body} ORDER BY {SOURCE_ORDER[shape]}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._finish(self._fetch(sql, where or "TRUE"), shape)

    def count(self, where: str | None = None, *, shape: Shape = "spans") -> int:
        body = self._body(where, shape)
        frame = self._fetch(f"SELECT count(*)::BIGINT AS n FROM {self._table(shape)} WHERE {body}", where or "TRUE")
        return int(frame.item())

    def _trace_condition(self, root_span_id: str) -> str:
        """The condition on ``logs_rows`` selecting one trace's spans (a store narrows it to the
        trace's rows first: ``DuckDBStore``)."""
        return f"root_span_id = {literal(str(root_span_id))}"

    def _in_load_order(self, columns: str, condition: str, original: str) -> pl.DataFrame:
        """``columns`` and ``_row`` of the spans matching ``condition``, sorted by ``_row`` in Polars:
        DuckDB's ORDER BY sorted the whole wide rows (most of the CPU of reading a 100k-span trace)."""
        frame = self._fetch(f"SELECT {columns}, _row FROM logs_rows WHERE {condition}", original)
        return frame.sort("_row")

    def trace(self, root_span_id: str) -> pl.DataFrame:
        frame = self._in_load_order("* EXCLUDE (_row)", self._trace_condition(root_span_id), f"trace {root_span_id}")
        return self._finish(frame, "spans")

    def select_trace(self, root_span_id: str, columns: tuple[str, ...]) -> pl.DataFrame:
        """Only ``columns`` of one trace's spans, in load order (``select_columns`` of that trace)."""
        unknown = [c for c in columns if c not in SCHEMA]
        if unknown:
            raise ValueError(f"no column {', '.join(unknown)} in spans")
        listed = ", ".join(_ident(c) for c in columns)
        frame = self._in_load_order(listed, self._trace_condition(root_span_id), f"trace {root_span_id}")
        frame = frame.drop("_row")
        return frame.cast({c: SCHEMA[c] for c in columns if frame.schema[c] != SCHEMA[c]})

    def trace_span(self, root_span_id: str, span_id: str) -> pl.DataFrame:
        """The whole rows of the spans ``span_id`` of one trace (a span id may repeat), in load order."""
        condition = f"{self._trace_condition(root_span_id)} AND span_id = {literal(str(span_id))}"
        return self._finish(self._in_load_order("* EXCLUDE (_row)", condition, f"span {span_id}"), "spans")

    def stats(self) -> SourceStats:
        sql = (
            "SELECT (SELECT count(*) FROM logs_rows)::BIGINT AS spans, "
            "(SELECT count(*) FROM (SELECT DISTINCT root_span_id FROM logs_rows))::BIGINT AS traces, "
            '(SELECT min("created") FROM logs_rows) AS first, (SELECT max("created") FROM logs_rows) AS last'
        )
        row = self._fetch(sql, "stats").row(0, named=True)
        return SourceStats(int(row["spans"]), int(row["traces"]), row["first"], row["last"])

    def _picked(self, n: int, body: str, shape: Shape, stratify_by_day: bool, seed: int) -> tuple[str, str]:
        """The statement ranking ``shape``'s rows for a sample (on their key, draw and day only) and
        the column it returns (the tie-breaker: ``root_span_id`` for traces, ``_row`` for spans)."""
        n = max(0, int(n))  # an integer in the statement, whatever the caller passed
        table = self._table(shape)
        # The draw hashes the row's id with the seed: MD5, which ClickHouse computes alike (the
        # ClickHouse backend draws the same rows); ties in load order. The rows are ranked on
        # their key, draw and day only, then read whole (ranking whole rows sorted their text:
        # minutes on 537,630 traces of a 10M-span store).
        key, tie = ("root_span_id", "root_span_id") if shape == "traces" else ("id", "_row")
        draw = f"md5({key} || ':' || {literal(str(int(seed)))})"
        narrow = f"SELECT {_ident(key) if key == tie else f'{key}, {tie}'}, {draw} AS _draw"
        if stratify_by_day:
            # Each day's rows ranked by the draw: first one row of every day (when n allows), then
            # the smallest rank/rows-in-day first, which gives each day a share in proportion to its rows.
            picked = f"""
            WITH s AS (
              {narrow}, date_trunc('day', "created") AS _day FROM {table} WHERE {body}
            ), ranked AS (
              SELECT *, row_number() OVER (PARTITION BY _day ORDER BY _draw, {tie}) AS _rank,
                     count(*) OVER (PARTITION BY _day) AS _in_day FROM s
            )
            SELECT {tie} FROM ranked ORDER BY _rank > 1, _rank::DOUBLE / _in_day, _draw, {tie} LIMIT {n}"""
        else:
            picked = f"SELECT {tie} FROM ({narrow} FROM {table} WHERE {body}) ORDER BY _draw, {tie} LIMIT {n}"
        return picked, tie

    def sample(
        self,
        n: int,
        *,
        where: str | None = None,
        shape: Shape = "traces",
        stratify_by_day: bool = False,
        seed: int = 0,
    ) -> pl.DataFrame:
        body = self._body(where, shape)
        picked, tie = self._picked(n, body, shape, stratify_by_day, seed)
        # A trace's root_span_id may be NULL (one traces row for the spans without one).
        sql = (
            f"SELECT * FROM {self._table(shape)} t WHERE {body} AND EXISTS (SELECT 1 FROM ({picked}) p "
            f"WHERE p.{tie} IS NOT DISTINCT FROM t.{tie}) ORDER BY {SOURCE_ORDER[shape]}"
        )
        return self._finish(self._fetch(sql, where or "TRUE"), shape)

    def sample_ids(
        self, n: int, *, where: str | None = None, stratify_by_day: bool = False, seed: int = 0
    ) -> pl.Series:
        """The ``root_span_id`` of the traces ``sample(n, shape="traces", ...)`` draws, in the traces'
        order, read alone (the sample's rows are not read)."""
        body = self._body(where, "traces")
        picked, _tie = self._picked(n, body, "traces", stratify_by_day, seed)
        sql = (
            f"SELECT root_span_id FROM traces t WHERE {body} AND EXISTS (SELECT 1 FROM ({picked}) p "
            f"WHERE p.root_span_id IS NOT DISTINCT FROM t.root_span_id) ORDER BY {SOURCE_ORDER['traces']}"
        )
        return self._fetch(sql, where or "TRUE").get_column("root_span_id")

    def page(
        self,
        where: str | None = None,
        *,
        shape: Shape = "traces",
        order_by: str | None = None,
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> pl.DataFrame:
        check_page(offset, limit)
        order = page_order(shape, SOURCE_ORDER[shape], order_by, descending)
        body = self._body(where, shape)
        sql = (
            f"SELECT * FROM {self._table(shape)} WHERE {body} ORDER BY {order} LIMIT {int(limit)} OFFSET {int(offset)}"
        )
        return self._finish(self._fetch(sql, where or "TRUE"), shape)

    @contextlib.contextmanager
    def longer_limit(self, timeout_s: float = SAMPLE_TIMEOUT_S) -> Iterator[None]:
        """Queries in this block (on this thread; others wait) get ``timeout_s``, at least the
        engine's limit: a tool's working sample is drawn once per session, and ranking every trace
        of a 10M-span store takes longer than one query may."""
        with self.engine._lock:
            limit = self.engine.timeout_s
            self.engine.timeout_s = max(limit, timeout_s)
            try:
                yield
            finally:
                self.engine.timeout_s = limit

    def sample_spans(
        self, n: int, *, where: str | None = None, stratify_by_day: bool = False, seed: int = 0
    ) -> tuple[pl.DataFrame, int]:
        """The spans (in load order) of the traces ``sample(n, shape="traces", ...)`` draws, and how many traces."""
        ids = self.sample_ids(n, where=where, stratify_by_day=stratify_by_day, seed=seed)
        return self.spans_of(ids), ids.len()

    def _of_ids(self, ids: pl.Series, sql: str) -> pl.DataFrame:
        """Run ``sql`` (built here) with the table ``_loop_jupyter_ids`` (column ``root_span_id``) registered."""
        with self.engine._lock:
            self.engine._prepare(sql)  # the frame's traces view is built on first use
            con = self.engine._con
            con.register("_loop_jupyter_ids", pl.DataFrame({"root_span_id": ids.cast(pl.String)}).to_arrow())
            try:
                table = con.sql(sql).arrow()
                table = table if isinstance(table, pa.Table) else table.read_all()
            finally:
                con.unregister("_loop_jupyter_ids")
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def spans_of(self, ids: pl.Series, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
        """The spans (in load order) of the traces ``ids`` names, only ``columns`` (every column for
        None). A NULL id names no span (as ``IN`` compares)."""
        listed = "*" if columns is None else ", ".join(_ident(c) for c in _known(columns, "spans"))
        # Their rows' positions first (two narrow columns), then those rows: joining every span's
        # whole row to the ids read all the text of all the spans.
        frame = self._of_ids(
            ids,
            f"SELECT {listed} FROM logs_rows WHERE _row IN (SELECT _row FROM logs_rows WHERE root_span_id IN "
            f"(SELECT root_span_id FROM _loop_jupyter_ids)) ORDER BY _row",
        )
        if columns is None:
            return self._finish(frame, "spans")
        return frame.cast({c: SCHEMA[c] for c in columns if frame.schema[c] != SCHEMA[c]})

    def traces_of(self, ids: pl.Series, columns: tuple[str, ...]) -> pl.DataFrame:
        """Only ``columns`` of the traces ``ids`` names, in the traces' order (a NULL id names none)."""
        listed = ", ".join(_ident(c) for c in _known(columns, "traces"))
        sql = (
            f"SELECT {listed} FROM traces WHERE root_span_id IN (SELECT root_span_id FROM _loop_jupyter_ids) "
            f"ORDER BY {SOURCE_ORDER['traces']}"
        )
        return self._of_ids(ids, sql)

    def select_columns(
        self, columns: tuple[str, ...], where: str | None = None, *, shape: Shape = "spans", limit: int | None = None
    ) -> pl.DataFrame:
        """Only ``columns`` of the rows matching ``where``, in the source's order (narrow reads for
        tools); the first ``limit`` of them."""
        _known(columns, shape)
        body = self._body(where, shape)
        listed = ", ".join(_ident(c) for c in columns)
        sql = f"SELECT {listed} FROM {self._table(shape)} WHERE {body} ORDER BY {SOURCE_ORDER[shape]}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        frame = self._fetch(sql, where or "TRUE")
        if shape == "spans":
            frame = frame.cast({c: SCHEMA[c] for c in columns if frame.schema[c] != SCHEMA[c]})
        return frame
