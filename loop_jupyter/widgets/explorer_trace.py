"""The open trace of the explorer: one trace's spans, indexed by parent for lazy tree paging.

Moved out of explorer.py (which reads the traces through a frame's engine or a store) unchanged.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import polars as pl

from ._base import RequestError

_NODE_COLUMNS = ["span_id", "parent_id", "name", "type", "start", "end", "error", "tokens", "cost", "model"]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _condition_of(sql: str) -> str:
    """The WHERE condition of a filter given as a condition or as ``SELECT ... WHERE cond``."""
    text = sql.strip().rstrip(";")
    if text[:6].lower() == "select":
        import sqlglot

        where = sqlglot.parse_one(text, read="duckdb").args.get("where")
        if where is None:
            raise RequestError("the filter has no WHERE condition")
        return where.this.sql(dialect="duckdb")
    return text


class _OpenTrace:
    """The spans of one trace, indexed by parent for lazy tree paging."""

    def __init__(self, logs: pl.DataFrame, root_span_id: str) -> None:
        spans = (
            logs.with_row_index("_row")
            .filter(pl.col("root_span_id") == root_span_id)
            .select(["_row", *_NODE_COLUMNS])
            .sort("start", nulls_last=True, maintain_order=True)
        )
        if spans.height == 0:
            raise RequestError(f"no trace with root_span_id {root_span_id!r}")
        self.root_span_id = root_span_id
        self.spans = spans
        starts = spans.get_column("start").drop_nulls()
        ends = spans.get_column("end").drop_nulls()
        self.t0: datetime | None = starts.min() if len(starts) else None  # type: ignore[assignment]
        t1 = ends.max() if len(ends) else None
        self.total_ms = (
            max((t1 - self.t0).total_seconds() * 1000, 0.0) if self.t0 is not None and t1 is not None else 0.0  # type: ignore[operator]
        )
        # Orphans (parent not in this trace) show at the top level rather than vanish. Grouped in
        # Polars, positions ascending in each group; a parent's positions become a list when its
        # children are paged (Python loops over the 100k spans of a trace were most of the open).
        parent, known = pl.col("parent_id"), spans.get_column("span_id").implode()
        groups = (
            spans.select(key=pl.when(parent.is_in(known)).then(parent).otherwise(pl.lit("")))
            .with_row_index("position")
            .group_by("key", maintain_order=True)
            .agg("position")
        )
        self._positions = groups.get_column("position")
        keys = groups.get_column("key").to_list()
        self._group = dict(zip(keys, range(len(keys)), strict=True))
        self._counts = dict(zip(keys, self._positions.list.len().to_list(), strict=True))

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """Each span id's position in ``spans`` (a repeated id: its last), built when first asked."""
        ids = self.spans.get_column("span_id").to_list()
        return dict(zip(ids, range(len(ids)), strict=True))

    def node(self, position: int, row: dict[str, Any]) -> dict[str, Any]:
        start, end = row["start"], row["end"]
        offset = (start - self.t0).total_seconds() * 1000 if start is not None and self.t0 is not None else None
        duration = (end - start).total_seconds() * 1000 if start is not None and end is not None else None
        return {
            "span_id": row["span_id"],
            "name": row["name"] or row["span_id"],
            "type": row["type"],
            "offset_ms": offset,
            "duration_ms": duration,
            "error": row["error"] is not None,
            "tokens": row["tokens"],
            "cost": row["cost"],
            "model": row["model"],
            "n_children": self._counts.get(row["span_id"], 0),
        }

    def page(self, parent: str, offset: int, limit: int) -> dict[str, Any]:
        group = self._group.get(parent)
        chosen = [] if group is None else self._positions[group].slice(offset, limit).to_list()
        rows = self.spans[chosen].to_dicts() if chosen else []
        return {
            "parent": parent,
            "offset": offset,
            "total": self._counts.get(parent, 0),
            "nodes": [self.node(p, r) for p, r in zip(chosen, rows, strict=True)],
        }
