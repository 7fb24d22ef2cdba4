"""What a store keeps beside its spans, derived from them at import (``import_logs`` calls
``update_derived`` inside its transaction): the vocabulary (``sources/vocab.py``) and the
counts ``stats()`` reads (``loop_jupyter_meta``). A store written before these existed still
opens and answers (the readers compute in SQL); ``loop-jupyter import`` into it, or
``upgrade_store`` (sources/upgrade.py), adds them.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb

from .vocab import has_vocab, update_vocab

META_TABLE = "loop_jupyter_meta"

#: Keys of ``loop_jupyter_meta`` holding ``stats()``: spans, traces, first and last ``created``.
STATS_KEYS = ("stats_spans", "stats_traces", "stats_first", "stats_last")


def update_stats(con: duckdb.DuckDBPyConnection) -> None:
    """Store ``stats()``'s figures in the meta table (one pass over ``created``, after an import)."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM spans)::BIGINT, (SELECT count(*) FROM traces)::BIGINT, "
        '(SELECT min("created") FROM spans), (SELECT max("created") FROM spans)'
    ).fetchall()[0]
    values = [str(row[0]), str(row[1]), *(v.isoformat() if isinstance(v, datetime) else "" for v in row[2:])]
    con.execute(f"DELETE FROM {META_TABLE} WHERE key IN ({', '.join('?' * len(STATS_KEYS))})", list(STATS_KEYS))
    for key, value in zip(STATS_KEYS, values, strict=True):
        con.execute(f"INSERT INTO {META_TABLE} VALUES (?, ?)", [key, value])


def read_stats(con: duckdb.DuckDBPyConnection) -> tuple[int, int, datetime | None, datetime | None] | None:
    """The stored ``stats()`` figures, or None for a store written before they were kept."""
    found = dict(
        con.execute(
            f"SELECT key, value FROM {META_TABLE} WHERE key IN ({', '.join('?' * len(STATS_KEYS))})", list(STATS_KEYS)
        ).fetchall()
    )
    if len(found) < len(STATS_KEYS):
        return None
    first, last = (_utc(datetime.fromisoformat(found[k])) if found[k] else None for k in STATS_KEYS[2:])
    return int(found["stats_spans"]), int(found["stats_traces"]), first, last


def _utc(value: datetime) -> datetime:
    """The same ``tzinfo`` as DuckDB's answer (``ZoneInfo('UTC')``, the connection's time zone)."""
    return value.astimezone(ZoneInfo("UTC")) if value.tzinfo is not None else value


def update_derived(con: duckdb.DuckDBPyConnection, first_row: int) -> None:
    """Bring what is derived up to date after spans from ``first_row`` on were added (in the
    caller's transaction); a table missing (an older store) is computed over every span."""
    update_vocab(con, first_row)
    update_stats(con)


def backfill(con: duckdb.DuckDBPyConnection) -> None:
    """Add what a store written by an older version lacks (in the caller's transaction)."""
    if not has_vocab(con):
        update_vocab(con, 0)
    update_stats(con)


__all__ = ["META_TABLE", "STATS_KEYS", "backfill", "read_stats", "update_derived", "update_stats"]
