"""Log sources: where logs live, behind one protocol (docs/sources.md).

``lj.connect(...)`` opens one:

- a Polars frame (``lj.load_logs(...)``, ``lj.demo_logs()``) -> ``MemorySource`` (today's engine);
- ``"duckdb:///relative/logs.duckdb"`` or ``"duckdb:////absolute/logs.duckdb"`` -> ``DuckDBStore``,
  a persisted DuckDB file written by ``loop-jupyter import PATH --to duckdb:///...``;
- any other path -> loaded with ``load_logs`` into a ``MemorySource``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from .base import MAX_PAGE_ROWS, LogSource, Shape, SourceStats
from .duckdb_store import DuckDBStore, StoreError, StoreLockedError, parse_url
from .memory import MemorySource

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def is_store_url(target: object) -> bool:
    """True for a ``duckdb:`` connection string."""
    return isinstance(target, str) and target.lower().startswith("duckdb:")


def connect(target: str | Path | pl.DataFrame | LogSource, *, format: str = "auto", **options: Any) -> LogSource:
    """Open logs as a ``LogSource``: a frame, a ``duckdb:///path`` store, or a log file/folder.

    ``options`` go to the backend (``row_limit``, ``timeout_s``, ``memory_limit`` for a store).
    """
    if isinstance(target, pl.DataFrame):
        return MemorySource(target)
    if isinstance(target, MemorySource | DuckDBStore):
        return target
    if is_store_url(target):
        return DuckDBStore(parse_url(str(target)), **options)
    if (
        isinstance(target, str)
        and _SCHEME.match(target)
        and not Path(target).exists()
        and len(target.split(":")[0]) > 1
    ):
        scheme = target.split(":", 1)[0]
        raise StoreError(f"unknown connection string scheme {scheme!r}: supported are duckdb:///path and log files")
    from ..loaders import load_logs

    return MemorySource(load_logs(target, format))


__all__ = [
    "MAX_PAGE_ROWS",
    "DuckDBStore",
    "LogSource",
    "MemorySource",
    "Shape",
    "SourceStats",
    "StoreError",
    "StoreLockedError",
    "connect",
    "is_store_url",
    "parse_url",
]
