"""A session's logs when they live in a store (issue 17): opening them, and the ToolContext over them.

A frame keeps today's path (session.py). A store (``"duckdb:///..."`` or a ``LogSource``) stays
where it is: the context pushes SQL into it and draws a working frame on demand
(``loop_jupyter/tools/working_set.py``); a chat scoped to one trace reads that trace alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ..sources import LogSource, MemorySource, connect
from ..tools import ToolContext


def open_logs(logs: pl.DataFrame | LogSource | str | Path) -> tuple[pl.DataFrame | LogSource, bool]:
    """The frame or store a session reads, and whether the session opened it (and closes it)."""
    owns = False
    if isinstance(logs, str | Path):
        logs, owns = connect(logs), True  # a duckdb:/// store read-only, or a log file loaded
    if isinstance(logs, MemorySource):
        return logs.frame, False
    return logs, owns and not isinstance(logs, pl.DataFrame)


def as_source(logs: pl.DataFrame | LogSource) -> LogSource:
    return MemorySource(logs) if isinstance(logs, pl.DataFrame) else logs


def store_context(
    source: LogSource, others: dict[str, Any], workdir: Path, cache: dict[str, Any], scope: str | None
) -> ToolContext:
    """The ToolContext over a store; scoped to one trace, that trace's spans (the store stays reachable)."""
    ctx = ToolContext(source=source, sources=others, workdir=workdir, cache=cache)
    if scope:
        spans = source.trace(scope)
        scoped_cache = cache.setdefault(f"scope:{scope}", {})
        ctx = ToolContext(logs=spans, sources=others, workdir=workdir, cache=scoped_cache, unscoped=ctx)
    return ctx


__all__ = ["as_source", "open_logs", "store_context"]
