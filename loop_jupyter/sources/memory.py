"""``MemorySource``: today's in-memory span frame behind the ``LogSource`` protocol (the default)."""

from __future__ import annotations

import polars as pl

from ..engine import engine_for
from ._sql import EngineSource
from .base import Shape, SourceStats


class MemorySource(EngineSource):
    """A canonical span frame and its cached ``LogEngine`` (the one ``lj.sql(frame, ...)`` uses).

    Filters go through ``LogEngine.filter`` exactly as ``lj.filter`` does; pages, samples and
    single traces run the shared SQL of ``loop_jupyter.sources._sql``, as on a store.
    """

    url = "memory:"

    def __init__(self, frame: pl.DataFrame) -> None:
        super().__init__(engine_for(frame))
        self.frame = frame

    def filter(self, where: str | None = None, *, shape: Shape = "spans", limit: int | None = None) -> pl.DataFrame:
        if where is None or not where.strip():
            rows = self.engine.traces if shape == "traces" else self.frame
        else:
            rows = self.engine.filter(where, shape=shape)
        return rows if limit is None else rows.head(limit)

    def count(self, where: str | None = None, *, shape: Shape = "spans") -> int:
        if where is None or not where.strip():
            return self.engine.traces.height if shape == "traces" else self.frame.height
        return self.engine.count(where, shape=shape)

    def trace(self, root_span_id: str) -> pl.DataFrame:
        return self.frame.filter(pl.col("root_span_id") == root_span_id)

    def stats(self) -> SourceStats:
        created = self.frame.get_column("created")
        return SourceStats(
            spans=self.frame.height,
            traces=self.frame.get_column("root_span_id").n_unique(),
            first=created.min(),  # type: ignore[arg-type]
            last=created.max(),  # type: ignore[arg-type]
        )

    def close(self) -> None:
        """Nothing to release: the frame belongs to the caller."""

    def __repr__(self) -> str:
        return f"MemorySource({self.frame.height:,} spans)"
