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
    """The working frame of a store and how it was drawn."""

    frame: pl.DataFrame
    traces_total: int
    traces_read: int

    @property
    def sampled(self) -> bool:
        return self.traces_read < self.traces_total

    def note(self) -> str:
        return f"sampled {self.traces_read:,} of {human_count(self.traces_total)} traces, stratified by day"


def working_set(source: Any, sample_traces: int = SAMPLE_TRACES) -> WorkingSet:
    """Every span of a small store; the spans of a day-stratified sample of traces of a large one
    (drawn once per session, under the source's longer time limit when it has one)."""
    budget = getattr(source, "longer_limit", None)
    with budget() if budget is not None else contextlib.nullcontext():
        return _draw(source, sample_traces)


def _draw(source: Any, sample_traces: int) -> WorkingSet:
    total = int(source.stats().traces)
    if total <= sample_traces:
        return WorkingSet(source.filter(), total, total)
    if hasattr(source, "sample_spans"):
        frame, read = source.sample_spans(sample_traces, stratify_by_day=True)
        return WorkingSet(frame, total, read)
    picked = source.sample(sample_traces, shape="traces", stratify_by_day=True)
    ids = ", ".join(literal(str(i)) for i in picked.get_column("root_span_id").to_list())
    return WorkingSet(source.filter(f"root_span_id IN ({ids})"), total, picked.height)


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
