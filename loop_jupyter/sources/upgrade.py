"""``upgrade_store(path)``: add to a store written by an older version what this one derives at
import (the vocabulary, the stored stats: ``sources/derived.py``; each trace's row ranges:
``sources/trace_rows.py``), in one transaction. Reading
an older store needs none of it (the readers compute in SQL); it makes the store quick again."""

from __future__ import annotations

from pathlib import Path

from .derived import backfill
from .duckdb_store import check_version, connect_file, parse_url
from .trace_rows import is_current, update_trace_rows


def upgrade_store(target: str | Path) -> None:
    """Backfill the derived tables of the store at ``target`` (a path or a ``duckdb:///`` URL)."""
    path = parse_url(target) if isinstance(target, str) and target.startswith("duckdb:") else Path(target)
    con = connect_file(path, read_only=False)
    try:
        check_version(con, path)
        con.begin()
        try:
            backfill(con)
            if not is_current(con):  # each trace's _row ranges (sources/trace_rows.py)
                update_trace_rows(con, 0)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        con.execute("CHECKPOINT")
    finally:
        con.close()


__all__ = ["upgrade_store"]
