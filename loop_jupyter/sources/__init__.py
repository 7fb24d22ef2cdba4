"""Log sources: where logs live, behind one protocol (docs/sources.md).

``lj.connect(...)`` opens one:

- a Polars frame (``lj.load_logs(...)``, ``lj.demo_logs()``) -> ``MemorySource`` (today's engine);
- ``"duckdb:///relative/logs.duckdb"`` or ``"duckdb:////absolute/logs.duckdb"`` -> ``DuckDBStore``,
  a persisted DuckDB file written by ``loop-jupyter import PATH --to duckdb:///...``;
- ``"chdb:///relative/dir?schema=otel"``, ``"chdb:////absolute/dir?schema=..."`` (chDB, ClickHouse
  in-process) or ``"clickhouse://user@host:8123/db?schema=..."`` (a server) -> ``ClickHouseLogs``
  (docs/clickhouse.md; needs ``pip install 'loop_jupyter[clickhouse]'``);
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


CLICKHOUSE_SCHEMES = ("chdb", "clickhouse", "clickhouses", "clickhouse+http", "clickhouse+https")
CLICKHOUSE_EXTRA = "pip install 'loop_jupyter[clickhouse]'"


def is_store_url(target: object) -> bool:
    """True for a ``duckdb:`` connection string."""
    return isinstance(target, str) and target.lower().startswith("duckdb:")


def is_clickhouse_url(target: object) -> bool:
    """True for a ``chdb:`` or ``clickhouse:`` connection string."""
    return isinstance(target, str) and target.split(":", 1)[0].lower() in CLICKHOUSE_SCHEMES and ":" in target


def is_source_url(target: object) -> bool:
    """True for any connection string ``connect`` opens without loading logs into memory."""
    return is_store_url(target) or is_clickhouse_url(target)


def open_clickhouse(url: str, **options: Any) -> LogSource:
    """A ``ClickHouseLogs`` (imported here: chDB and clickhouse-connect are an optional extra)."""
    from ..clickhouse.backend import ClickHouseLogs

    try:
        return ClickHouseLogs(url, **options)
    except ModuleNotFoundError as exc:
        if exc.name in ("chdb", "clickhouse_connect"):
            raise StoreError(f"{url.split(':', 1)[0]}: connections need {exc.name}: {CLICKHOUSE_EXTRA}") from None
        raise
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    except RuntimeError as exc:  # chDB: one database directory per process
        raise StoreError(str(exc)) from None
    except Exception as exc:  # a server that cannot be reached, refused credentials
        from ..clickhouse.backend import masked

        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"cannot open {masked(url)}: {first[:300]}") from None


def connect(target: str | Path | pl.DataFrame | LogSource, *, format: str = "auto", **options: Any) -> LogSource:
    """Open logs as a ``LogSource``: a frame, a ``duckdb:///path`` store, ClickHouse
    (``chdb:///dir?schema=...``, ``clickhouse://user@host:8123/db?schema=...``), or a log file/folder.

    ``options`` go to the backend (``row_limit``, ``timeout_s``, ``memory_limit``).
    """
    if isinstance(target, pl.DataFrame):
        return MemorySource(target)
    if not isinstance(target, str | Path) and isinstance(target, LogSource):
        return target
    if is_store_url(target):
        return DuckDBStore(parse_url(str(target)), **options)
    if is_clickhouse_url(target):
        return open_clickhouse(str(target), **options)
    if (
        isinstance(target, str)
        and _SCHEME.match(target)
        and not Path(target).exists()
        and len(target.split(":")[0]) > 1
    ):
        scheme = target.split(":", 1)[0]
        raise StoreError(
            f"unknown connection string scheme {scheme!r}: supported are duckdb:///path, "
            "chdb:///path?schema=..., clickhouse://host/db?schema=... and log files"
        )
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
    "is_clickhouse_url",
    "is_source_url",
    "is_store_url",
    "open_clickhouse",
    "parse_url",
]
