"""What a log backend implements: the ``LogSource`` protocol (documented in docs/sources.md).

Every method hands out Polars frames bounded by what was asked for (a filter's rows, a page, a
sample, one trace), so a backend may hold far more spans than fit in memory. User-written SQL and
WHERE conditions go through the same sandbox as the in-memory engine (``loop_jupyter.sql_guard``):
one read-only SELECT over the views ``logs`` (spans) and ``traces`` (one row per trace).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

import polars as pl

Shape = Literal["spans", "traces"]

#: Rows a page may ask for at most (the explorer shows tens; a bigger slice is a filter).
MAX_PAGE_ROWS = 10_000


def check_page(offset: int, limit: int) -> None:
    """The page arguments every backend accepts (ValueError otherwise)."""
    if not 0 <= int(limit) <= MAX_PAGE_ROWS:
        raise ValueError(f"a page holds 0 to {MAX_PAGE_ROWS:,} rows, not {limit}")
    if int(offset) < 0:
        raise ValueError(f"offset must be 0 or more, not {offset}")


@dataclass(frozen=True)
class SourceStats:
    """How much a source holds: spans, traces and the time range of ``created``."""

    spans: int
    traces: int
    first: datetime | None
    last: datetime | None

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        for key in ("first", "last"):
            value = out[key]
            out[key] = value.isoformat() if isinstance(value, datetime) else None
        return out


@runtime_checkable
class LogSource(Protocol):
    """A place logs live: the in-memory frame (``MemorySource``) or a DuckDB file (``DuckDBStore``).

    ``where`` is a Braintrust-style WHERE condition (``scores.Factuality < 0.5``) checked by the
    sandbox; ``None`` means every row. ``shape`` picks spans (the ``logs`` view) or traces (the
    ``traces`` view). Spans come in load order; traces newest first (``created DESC NULLS LAST,
    root_span_id``), as the in-memory ``traces`` view orders them.
    """

    #: The connection string this source was opened from (``memory:`` for a frame).
    url: str

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """The span columns and their Polars types (the canonical schema, docs/schema.md)."""
        ...

    def stats(self) -> SourceStats:
        """Spans, traces and the time range, without loading the spans."""
        ...

    def sql(self, query: str, *, limit: int | None = None) -> pl.DataFrame:
        """One sandboxed read-only SELECT over ``logs`` and ``traces``; QueryError past ``limit`` rows."""
        ...

    def filter(self, where: str | None = None, *, shape: Shape = "spans", limit: int | None = None) -> pl.DataFrame:
        """The spans (or traces) matching ``where``, in the source's order; at most ``limit`` rows."""
        ...

    def count(self, where: str | None = None, *, shape: Shape = "spans") -> int:
        """How many spans (or traces) match ``where``."""
        ...

    def trace(self, root_span_id: str) -> pl.DataFrame:
        """Every span of one trace, in load order (empty when there is no such trace)."""
        ...

    def sample(
        self,
        n: int,
        *,
        where: str | None = None,
        shape: Shape = "traces",
        stratify_by_day: bool = False,
        seed: int = 0,
    ) -> pl.DataFrame:
        """At most ``n`` rows drawn without replacement, the same rows for the same seed and data.

        ``stratify_by_day``: one row from every day of ``created`` first (when ``n`` allows), the
        rest from each day in proportion to its rows.
        """
        ...

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
        """One page of rows for the explorer, sorted by a column of the shape (ties: the source order)."""
        ...

    def close(self) -> None:
        """Release the backend (a DuckDB file's lock); the source is unusable afterwards."""
        ...
