"""The spans a tool reads when the logs live in a store (a ``LogSource`` other than the frame).

Tools ask the context for two kinds of data:

- **pushed down** (``ctx.sql``, ``ctx.rows``, ``ctx.count``, ``ctx.trace_spans``): SQL runs in the
  source, only its bounded result comes back (the query tool, filters, counts, aggregates, one trace);
- **the working frame** (``ctx.logs`` / ``ctx.engine``): spans in memory for the text-heavy tools
  (frustration, languages, intents, similar traces, root causes...). From a store holding at most
  ``sample_traces`` traces it is every span (the same answers as the frame); above that, the spans
  of a sample of traces drawn by ``LogSource.sample(..., stratify_by_day=True)``, and every tool
  that read it says so: "sampled 20,000 of 3.1M traces, stratified by day".
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..sources import MemorySource
from ..sources._sql import literal

#: Traces a store may hold and still be read whole into the working frame; above, a sample this big.
SAMPLE_TRACES = 20_000
#: The row limit of the narrow reads (a few columns per trace or span): no limit.
ALL_ROWS = 10**12
#: Rows of a filter fetched from a store for the person's table and the filter's id list (the count is exact).
FILTER_ROWS = 10_000


def pushes_down(source: Any) -> bool:
    """True for a source whose SQL runs outside this process's frame (a store)."""
    return source is not None and not isinstance(source, MemorySource)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def human_count(n: int) -> str:
    """``3.1M`` past a million, ``20,000`` below."""
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n:,}"


@dataclass
class WorkingSet:
    """The working traces of a store, how they were drawn, and their spans read on first use.

    Drawing the sample reads the traces' ids alone; ``frame`` (every column of every span of those
    traces) is read when a tool asks for ``ctx.logs``. Tools that need a few columns of the traces
    (the root's input, its scores...) read just those with ``traces`` and ``spans_of``
    (``tools/working_reads.py``): at 10M spans the whole frame was 372k spans of text.
    """

    traces_total: int
    traces_read: int
    #: The sampled traces' ``root_span_id`` (in the traces' order); None: every trace of the source.
    ids: pl.Series | None = None
    source: Any = None
    _frame: pl.DataFrame | None = None

    @property
    def sampled(self) -> bool:
        return self.traces_read < self.traces_total

    def note(self) -> str:
        return f"sampled {self.traces_read:,} of {human_count(self.traces_total)} traces, stratified by day"

    @property
    def frame_read(self) -> bool:
        """True once the whole span frame is in memory."""
        return self._frame is not None

    @property
    def frame(self) -> pl.DataFrame:
        """Every span of the working traces, in load order (read whole on first use)."""
        if self._frame is None:
            with _budget(self.source):
                self._frame = self._spans(self.ids, None)
        return self._frame

    @frame.setter
    def frame(self, value: pl.DataFrame) -> None:
        self._frame = value

    def traces(self, columns: tuple[str, ...]) -> pl.DataFrame:
        """Only ``columns`` of the working traces, in the traces view's order (as the frame's traces
        view has them: a trace's row depends on its spans only, and a sample holds them all)."""
        source = self.source
        with _budget(source):
            if self.ids is None:
                if hasattr(source, "select_columns"):
                    return source.select_columns(columns, shape="traces")
                return source.filter(shape="traces").select(columns)
            if hasattr(source, "traces_of"):
                return source.traces_of(self.ids, columns)
            return source.filter(_ids_condition(self.ids), shape="traces").select(columns)

    def spans_of(self, root_span_ids: pl.Series, columns: tuple[str, ...]) -> pl.DataFrame:
        """Only ``columns`` of the spans (in load order) of those working traces."""
        wanted = root_span_ids if self.ids is None else root_span_ids.filter(root_span_ids.is_in(self.ids.implode()))
        with _budget(self.source):
            return self._spans(wanted, columns)

    def _spans(self, ids: pl.Series | None, columns: tuple[str, ...] | None) -> pl.DataFrame:
        source = self.source
        if ids is None:
            if columns is not None and hasattr(source, "select_columns"):
                return source.select_columns(columns, shape="spans")
            frame = source.filter()
        elif hasattr(source, "spans_of"):
            return source.spans_of(ids, columns)
        else:
            frame = source.filter(_ids_condition(ids))
        return frame if columns is None else frame.select(columns)


def _budget(source: Any) -> Any:
    """The source's longer time limit for reading the working set, when it has one."""
    budget = getattr(source, "longer_limit", None)
    return budget() if budget is not None else contextlib.nullcontext()


def _ids_condition(ids: pl.Series) -> str:
    """``root_span_id IN (...)`` for a source with the protocol's reads only (a NULL id names none)."""
    listed = ", ".join(literal(str(i)) for i in ids.drop_nulls().to_list())
    return f"root_span_id IN ({listed})" if listed else "FALSE"


def working_set(source: Any, sample_traces: int = SAMPLE_TRACES) -> WorkingSet:
    """Every trace of a small store; a day-stratified sample of traces of a large one (drawn once
    per session, under the source's longer time limit when it has one). Only the ids are read here."""
    with _budget(source):
        return _draw(source, sample_traces)


def _draw(source: Any, sample_traces: int) -> WorkingSet:
    total = int(source.stats().traces)
    if total <= sample_traces:
        return WorkingSet(total, total, None, source)
    if hasattr(source, "sample_ids"):
        ids = source.sample_ids(sample_traces, stratify_by_day=True)
    else:
        ids = source.sample(sample_traces, shape="traces", stratify_by_day=True).get_column("root_span_id")
    return WorkingSet(total, ids.len(), ids, source)


__all__ = [
    "ALL_ROWS",
    "FILTER_ROWS",
    "SAMPLE_TRACES",
    "WorkingSet",
    "human_count",
    "pushes_down",
    "quote_ident",
    "working_set",
]
