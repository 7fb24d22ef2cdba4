"""Where each trace's spans lie in a store's ``spans`` table, so one trace is a point read.

``spans`` keeps its rows in load order (``_row``, ascending as inserted), so DuckDB's min/max
statistics of ``_row`` per row group let a condition ``_row BETWEEN lo AND hi`` skip every row
group outside the range. ``loop_jupyter_trace_rows`` keeps, per trace, the ranges of ``_row`` its
spans hold: one row per trace and block of ``BLOCK_ROWS`` load positions (the size of a DuckDB row
group), each the min and max ``_row`` of that trace's spans in that block. A trace loaded in one
piece is one range (two when it crosses a block edge); a trace that got late spans in a later
import gets a range there too. Reading a trace then scans the row groups of its ranges only,
instead of ``root_span_id`` of every span.

The table is sorted by ``root_span_id`` (its min/max statistics skip to the ranges of one trace),
written by each import for the rows it adds (``update_trace_rows``, in the import's
transaction), and backfilled for an older
store by ``upgrade_store``. ``loop_jupyter_meta``'s ``trace_rows_spans`` is the span count it
covers: a store appended by a version that does not keep the table reads as before (the
condition on ``root_span_id`` alone), never a stale range.
"""

from __future__ import annotations

import duckdb

from .derived import META_TABLE

TRACE_ROWS_TABLE = "loop_jupyter_trace_rows"
#: Load positions per block: DuckDB's row group size.
BLOCK_ROWS = 122_880
#: The meta key holding the span count the table covers.
COVERED_KEY = "trace_rows_spans"
#: At most this many ``_row`` ranges in one trace's condition (the nearest are merged past it).
MAX_RANGES = 64


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def has_trace_rows(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [TRACE_ROWS_TABLE]
    ).fetchall()
    return bool(found[0][0])


def update_trace_rows(con: duckdb.DuckDBPyConnection, first_row: int) -> None:
    """Add the ranges of the spans from ``first_row`` on (all of them for a store without the
    table), in the caller's transaction, and record the span count covered (meta table)."""
    if has_trace_rows(con) and _covered(con) != _count(con, f"_row < {int(first_row)}"):
        # Spans were appended by a version that does not keep the table: counted again, whole.
        con.execute(f"DROP TABLE {TRACE_ROWS_TABLE}")
    if not has_trace_rows(con):
        con.execute(
            f"CREATE TABLE {TRACE_ROWS_TABLE} (root_span_id VARCHAR NOT NULL, first_row BIGINT NOT NULL, "
            "last_row BIGINT NOT NULL)"
        )
        first_row = 0
    con.execute(
        f"INSERT INTO {TRACE_ROWS_TABLE} SELECT root_span_id, min(_row), max(_row) FROM spans "
        f"WHERE _row >= ? AND root_span_id IS NOT NULL GROUP BY root_span_id, _row // {BLOCK_ROWS}",
        [int(first_row)],
    )
    # Sorted by trace: one trace's ranges are in one or two row groups of this table.
    con.execute(
        f"CREATE OR REPLACE TABLE {TRACE_ROWS_TABLE} AS SELECT * FROM {TRACE_ROWS_TABLE} "
        "ORDER BY root_span_id, first_row"
    )
    con.execute(f"DELETE FROM {META_TABLE} WHERE key = ?", [COVERED_KEY])
    con.execute(f"INSERT INTO {META_TABLE} VALUES (?, ?)", [COVERED_KEY, str(_count(con))])


def _count(con: duckdb.DuckDBPyConnection, where: str = "TRUE") -> int:
    return int(con.execute(f"SELECT count(*) FROM spans WHERE {where}").fetchall()[0][0])


def _covered(con: duckdb.DuckDBPyConnection) -> int | None:
    """The span count the table was written for (None when not recorded)."""
    found = con.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", [COVERED_KEY]).fetchall()
    return int(found[0][0]) if found and str(found[0][0]).isdigit() else None


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the table exists and covers every span of the store (not appended past it)."""
    return has_trace_rows(con) and _covered(con) == _count(con)


def merge_ranges(ranges: list[tuple[int, int]], most: int = MAX_RANGES) -> list[tuple[int, int]]:
    """``ranges`` sorted, touching ones joined, and the closest joined until at most ``most`` remain
    (a joined range holds both and the rows between: the condition on ``root_span_id`` still applies)."""
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    while len(merged) > most:
        gap = min(range(len(merged) - 1), key=lambda i: merged[i + 1][0] - merged[i][1])
        merged[gap][1] = merged[gap + 1][1]
        del merged[gap + 1]
    return [(lo, hi) for lo, hi in merged]


def trace_condition(con: duckdb.DuckDBPyConnection, root_span_id: str) -> str:
    """The condition on ``logs_rows`` selecting the spans of one trace, its ``_row`` ranges first
    (``FALSE`` for a trace the store does not hold)."""
    ranges = con.execute(
        f"SELECT first_row, last_row FROM {TRACE_ROWS_TABLE} WHERE root_span_id = ?", [root_span_id]
    ).fetchall()
    if not ranges:
        return "FALSE"
    within = " OR ".join(f"_row BETWEEN {int(lo)} AND {int(hi)}" for lo, hi in merge_ranges(ranges))
    return f"({within}) AND root_span_id = {_literal(root_span_id)}"


__all__ = ["TRACE_ROWS_TABLE", "has_trace_rows", "is_current", "merge_ranges", "trace_condition", "update_trace_rows"]
