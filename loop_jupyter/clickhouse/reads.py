"""The ``LogSource`` reads of a ClickHouse source: filter, count, trace, sample, page, stats.

The same statements as ``sources/_sql.py`` (the DuckDB backends), written in ClickHouse's
dialect around the user's WHERE condition (checked and translated by :mod:`.dialect`), so the
rows, their order and a seed's sample are the ones ``MemorySource`` gives on the same spans:

- spans in source order: ``_row`` (the load position a ``native`` table written by ``import --to``
  keeps), then ``start, span_id`` (the order of tables with no load position: ``otel``,
  ``langfuse_v3``, ``langfuse_v4``, whose ``_row`` is 0); traces newest first
  (``created DESC NULLS LAST, root_span_id``);
- a sample ranks rows by ``md5(key || ':' || seed)`` (a hash both engines compute alike).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ..schema import SCHEMA
from ..sources._sql import page_order, sample_sql
from ..sources.base import SourceStats, check_page
from .adapters import sql_string

SPAN_ORDER = "_row, start, span_id"
TRACE_ORDER = "created DESC NULLS LAST, root_span_id"
_RELATION = {"spans": "_lj_rows AS logs", "traces": "_lj_traces AS traces"}


def _order(shape: str) -> str:
    return TRACE_ORDER if shape == "traces" else SPAN_ORDER


def as_canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Spans with the canonical column types and order (no ``_row``)."""
    frame = frame.drop("_row", strict=False)
    if list(frame.columns) == list(SCHEMA) and all(frame.schema[n] == t for n, t in SCHEMA.items()):
        return frame
    return frame.select(list(SCHEMA)).cast(dict(SCHEMA))


class ProtocolReads:
    """Mixed into ``ClickHouseLogs``: needs ``_internal(sql, original, max_rows)`` (our SQL behind
    the adapter's CTEs) and ``condition(where, shape)`` (a checked WHERE condition as ClickHouse SQL)."""

    def _internal(
        self, sql: str, original: str, max_rows: int | None = None, logs: str | None = None
    ) -> pl.DataFrame:  # pragma: no cover
        raise NotImplementedError

    def _narrow(self, shape: str, condition: str, rows: int | None = None, trace: str | None = None) -> str | None:
        """The adapter's spans narrowed to the traces that can answer (None: all of them)."""
        return None

    def condition(self, where: str | None, shape: str = "spans") -> str:  # pragma: no cover
        raise NotImplementedError

    def _finish(self, frame: pl.DataFrame, shape: str) -> pl.DataFrame:
        return as_canonical(frame) if shape == "spans" else frame

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """The canonical span columns and their Polars types."""
        return dict(SCHEMA)

    def stats(self) -> SourceStats:
        frame = self._internal(
            "SELECT toInt64(count()) AS spans, toInt64(uniqExact(root_span_id)) AS traces, "
            "min(created) AS first, max(created) AS last FROM _lj_logs",
            "stats",
        )
        row = frame.row(0, named=True)
        return SourceStats(int(row["spans"]), int(row["traces"]), row["first"], row["last"])

    def filter(self, where: str | None = None, *, shape: str = "spans", limit: int | None = None) -> pl.DataFrame:
        """The spans (or traces) matching ``where``, in source order; at most ``limit`` rows."""
        condition = self.condition(where, shape)
        sql = f"SELECT * FROM {_RELATION[shape]} WHERE {condition} ORDER BY {_order(shape)}"
        if limit is not None:
            sql += f" LIMIT {max(0, int(limit))}"
        rows = None if limit is None else max(0, int(limit))
        return self._finish(self._internal(sql, where or "TRUE", logs=self._narrow(shape, condition, rows)), shape)

    def count(self, where: str | None = None, *, shape: str = "spans") -> int:
        condition = self.condition(where, shape)
        sql = f"SELECT toInt64(count()) AS n FROM {_RELATION[shape]} WHERE {condition}"
        return int(self._internal(sql, where or "TRUE", logs=self._narrow(shape, condition)).item())

    def trace(self, root_span_id: str) -> pl.DataFrame:
        """Every span of one trace, in source order (empty when there is no such trace)."""
        sql = f"SELECT * FROM _lj_rows WHERE root_span_id = {sql_string(str(root_span_id))} ORDER BY {SPAN_ORDER}"
        narrowed = self._narrow("spans", "1", trace=str(root_span_id))
        return self._finish(self._internal(sql, f"trace {root_span_id}", logs=narrowed), "spans")

    def sample(
        self,
        n: int,
        *,
        where: str | None = None,
        shape: str = "traces",
        stratify_by_day: bool = False,
        seed: int = 0,
    ) -> pl.DataFrame:
        """At most ``n`` rows without replacement, the same rows as ``MemorySource.sample``."""
        body = self.condition(where, shape)
        tie = "root_span_id" if shape == "traces" else SPAN_ORDER
        sql = sample_sql("clickhouse", _RELATION[shape], body, shape, tie, _order(shape), n, seed, stratify_by_day)
        return self._finish(self._internal(sql, where or "TRUE", logs=self._narrow(shape, body)), shape)

    def page(
        self,
        where: str | None = None,
        *,
        shape: str = "traces",
        order_by: str | None = None,
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> pl.DataFrame:
        """One page for the explorer, sorted by a column of the shape (ties in source order)."""
        check_page(offset, limit)
        order = page_order(shape, _order(shape), order_by, descending, lambda name: f"`{name}`")
        condition = self.condition(where, shape)
        sql = f"SELECT * FROM {_RELATION[shape]} WHERE {condition} ORDER BY {order} LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = int(offset) + int(limit) if order_by is None else None  # the first rows in source order
        return self._finish(self._internal(sql, where or "TRUE", logs=self._narrow(shape, condition, rows)), shape)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # type: ignore[attr-defined]
