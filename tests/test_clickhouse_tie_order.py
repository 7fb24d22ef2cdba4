"""The ClickHouse adapters give one answer whatever order the rows are read in.

``any()``, ``argMin`` with tied keys and ``groupArray`` answer in the order the threads happen to
read the rows, so two queries of one trace could disagree (its root, name, user; its scores'
JSON): a differential test failed once in a loaded run on it. Each table here holds the same rows
inserted in two orders, a part per row; the mapped spans must come out identical.
"""

from __future__ import annotations

import polars as pl
import pytest

import loop_jupyter as lj

_EVENTS = (
    "project_id, trace_id, trace_name, user_id, session_id, tags, event_ts, is_deleted, span_id, "
    "parent_span_id, start_time, end_time, name, type, is_app_root"
)
# Two app roots of one trace starting at the same instant, with different trace-level columns; b's
# project sorts first, so the table (ordered by project, ..., span id) stores b before a.
_ROWS = {
    "b": "('p-a', 't1', 'second', 'u2', 's2', ['two'], toDateTime64('2026-01-02 03:04:05', 6), 0, 'b', '', "
    "'2026-01-02 03:04:05', '2026-01-02 03:04:06', 'root b', 'SPAN', true)",
    "a": "('p-b', 't1', 'first', 'u1', 's1', ['one'], toDateTime64('2026-01-02 03:04:05', 6), 0, 'a', '', "
    "'2026-01-02 03:04:05', '2026-01-02 03:04:07', 'root a', 'SPAN', true)",
}
_SCORES = "id, timestamp, project_id, trace_id, observation_id, name, value, source, data_type, event_ts, is_deleted"
_SCORE_ROWS = {
    "x": "('x', '2026-01-02 03:04:09', 'p', 't1', '', 'zeta', 0.25, 'API', 'NUMERIC', '2026-01-02 03:04:09', 0)",
    "y": "('y', '2026-01-02 03:04:08', 'p', 't1', '', 'alpha', 1, 'API', 'NUMERIC', '2026-01-02 03:04:08', 0)",
    "z": "('z', '2026-01-02 03:04:10', 'p', 't1', '', 'alpha', 0.5, 'API', 'NUMERIC', '2026-01-02 03:04:10', 0)",
}


@pytest.fixture(scope="module")
def orders(chdb_tables) -> dict[str, str]:
    """The same rows in two insert orders, one table pair each; returns order -> connection string."""
    from loop_jupyter.clickhouse.backend import _Chdb

    path, _frames, _counts = chdb_tables
    conn = _Chdb(path, {"session_timezone": "UTC"})
    urls = {}
    try:
        for order, events, scores in (("ab", "ab", "xyz"), ("ba", "ba", "zyx")):
            conn.execute(f"CREATE TABLE IF NOT EXISTS events_tie_{order} AS events_full")
            conn.execute(f"CREATE TABLE IF NOT EXISTS scores_tie_{order} AS scores")
            # One INSERT per row: one part each, read in insert order (one part would be stored
            # sorted on the table's key whatever the insert order).
            for key in events:
                conn.execute(f"INSERT INTO events_tie_{order} ({_EVENTS}) VALUES {_ROWS[key]}")
            for key in scores:
                conn.execute(f"INSERT INTO scores_tie_{order} ({_SCORES}) VALUES {_SCORE_ROWS[key]}")
            urls[order] = (
                f"chdb:///{path}?schema=langfuse_v4&events_table=events_tie_{order}&scores_table=scores_tie_{order}"
            )
    finally:
        conn.close()
    return urls


def _read(url: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    with lj.connect(url, timeout_s=120) as source:
        return source.filter(), source.filter(shape="traces")


def test_langfuse_v4_trace_columns_do_not_follow_the_read_order(orders: dict[str, str]) -> None:
    spans_ab, traces_ab = _read(orders["ab"])
    spans_ba, traces_ba = _read(orders["ba"])
    assert spans_ab.equals(spans_ba)
    assert traces_ab.equals(traces_ba)
    # The earliest app root, ties on the span id: 'a', with the trace-level columns of its row.
    root = spans_ab.filter(pl.col("is_root")).row(0, named=True)
    assert root["id"] == "a"
    trace = traces_ab.row(0, named=True)
    assert trace["user"] == "u1"


def test_langfuse_scores_json_in_time_order(orders: dict[str, str]) -> None:
    spans, _traces = _read(orders["ba"])
    scores = spans.filter(pl.col("is_root")).get_column("scores").item()  # trace-level scores: the root's
    # Time order: alpha=1 (08), zeta (09), alpha=0.5 (10); a JSON reader keeps the last alpha.
    assert scores == '{"alpha":1,"zeta":0.25,"alpha":0.5}'
