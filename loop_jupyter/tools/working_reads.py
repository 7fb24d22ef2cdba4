"""Narrow reads of the working traces: what a text tool needs of them, not every span whole.

On a store past the sampling threshold the working frame (``ctx.logs``) holds every column of
every span of the sampled traces: at 10M spans, 372k spans and all their text, read to score the
root inputs of 20,000 traces. These helpers give a tool the same rows it would compute from that
frame, reading only what it uses:

- ``working_traces(ctx, columns)``: ``ctx.engine.traces.select(columns)`` (the traces view of the
  working frame), read from the store's ``traces`` table for the sampled ids: a trace's row depends
  on its own spans only, and the sample holds every span of each trace it draws;
- ``working_spans_of(ctx, ids, columns)``: ``ctx.logs`` of some working traces, those columns only.

When the frame is in memory already (a tool read ``ctx.logs``) or the logs are a frame, they read
it, as before; a sampled read marks the answer as sampled (its text starts with the note).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from .registry import ToolContext


def _narrow(ctx: ToolContext) -> bool:
    """True when the working traces are read from a store and their frame is not in memory."""
    if not ctx.pushdown or ctx._logs is not None:
        return False
    working = ctx.working()
    return working is not None and not working.frame_read


def _mark_sampled(ctx: ToolContext) -> None:
    """The answer is read from a sample: its text gets the note (``ctx.engine`` built earlier does
    not pass through ``ctx.logs``, which marks it otherwise)."""
    working = ctx._working
    if ctx.pushdown and working is not None and working.sampled:
        ctx._read_sample = True


def working_traces(ctx: ToolContext, columns: tuple[str, ...]) -> pl.DataFrame:
    """``ctx.engine.traces.select(columns)``, from a store without reading the sample's spans."""
    if not _narrow(ctx):
        traces = ctx.engine.traces.select(columns)
        _mark_sampled(ctx)
        return traces
    working = ctx.working()
    assert working is not None
    _mark_sampled(ctx)
    return working.traces(columns)


def working_spans_of(ctx: ToolContext, root_span_ids: pl.Series, columns: tuple[str, ...]) -> pl.DataFrame:
    """``columns`` of the working spans of those traces, in load order (``ctx.logs`` filtered)."""
    if not _narrow(ctx):
        return ctx.logs.filter(pl.col("root_span_id").is_in(root_span_ids.implode())).select(columns)
    working = ctx.working()
    assert working is not None
    _mark_sampled(ctx)
    return working.spans_of(root_span_ids, columns)


def working_trace_count(ctx: ToolContext) -> int:
    """``ctx.engine.traces.height`` without reading the working frame."""
    return working_traces(ctx, ("root_span_id",)).height


__all__ = ["working_spans_of", "working_trace_count", "working_traces"]
