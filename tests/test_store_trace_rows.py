"""Each trace's ``_row`` ranges in a store (sources/trace_rows.py): reading a trace or a span by
them returns the frames the read by ``root_span_id`` alone returned, on a store appended in
parts (late spans of earlier traces, interleaved traces, repeated ids skipped), on a store whose
ranges fell behind (appended by a version that does not keep them), and after ``upgrade_store``."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from loop_jupyter import demo
from loop_jupyter.sources import DuckDBStore, MemorySource
from loop_jupyter.sources.derived import META_TABLE
from loop_jupyter.sources.importer import import_logs
from loop_jupyter.sources.trace_rows import (
    COVERED_KEY,
    TRACE_ROWS_TABLE,
    has_trace_rows,
    is_current,
    merge_ranges,
)
from loop_jupyter.sources.upgrade import upgrade_store
from loop_jupyter.widgets.explorer import TraceExplorer

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TREE = ("root_span_id", "span_id", "parent_id", "name", "type", "start", "end", "error", "tokens", "cost", "model")


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(120, seed=5, now=NOW)


def _parts(frame: pl.DataFrame) -> list[pl.DataFrame]:
    """Three imports: the first holds half the traces without the non-root spans of every third
    one (they come later); the second repeats spans of the first (skipped), adds those late spans
    and the other traces interleaved (rows reversed); the third repeats everything."""
    roots = frame.get_column("root_span_id").unique(maintain_order=True).to_list()
    first_half, late_roots = set(roots[: len(roots) // 2]), set(roots[: len(roots) // 2 : 3])
    late = pl.col("root_span_id").is_in(list(late_roots)) & ~pl.col("is_root")
    one = frame.filter(pl.col("root_span_id").is_in(list(first_half)) & ~late)
    rest = frame.filter(~pl.col("root_span_id").is_in(list(first_half)) | late).reverse()
    return [one, pl.concat([one.head(25), rest]), frame]


@pytest.fixture(scope="module")
def store_path(logs: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace_rows") / "logs.duckdb"
    for part in _parts(logs):
        import_logs(part, f"duckdb:///{path}", progress=False)
    return path


def _by_id(store: DuckDBStore) -> DuckDBStore:
    """The same store read as before the ranges: by ``root_span_id`` alone."""
    store._ranged = False
    return store


def _roots(logs: pl.DataFrame) -> list[str]:
    """Every third trace of the first half (those with late spans), every fifth other, and two
    that are not there."""
    roots = logs.get_column("root_span_id").unique(maintain_order=True).to_list()
    return [*dict.fromkeys([*roots[: len(roots) // 2 : 3], *roots[::5]]), "no-such-trace", "it's"]


def _assert_same_reads(ranged: DuckDBStore, plain: DuckDBStore, logs: pl.DataFrame) -> None:
    for root in _roots(logs):
        assert_frame_equal(ranged.trace(root), plain.trace(root))
        assert_frame_equal(ranged.select_trace(root, TREE), plain.select_trace(root, TREE))
        spans = logs.filter(pl.col("root_span_id") == root).get_column("span_id").to_list()
        for span in [*spans[:3], *spans[-2:], "no-such-span"]:
            assert_frame_equal(ranged.trace_span(root, span), plain.trace_span(root, span))


def test_trace_and_span_reads_by_ranges_equal_the_reads_by_id(logs: pl.DataFrame, store_path: Path) -> None:
    with DuckDBStore(store_path) as ranged, DuckDBStore(store_path) as plain:
        _by_id(plain)
        root = logs.get_column("root_span_id")[0]
        assert "_row BETWEEN" in ranged._trace_condition(root) and ranged._ranged is True
        assert "_row" not in plain._trace_condition(root)
        _assert_same_reads(ranged, plain, logs)
        # Every span once, as loaded (the late spans last): what the frame holds, trace by trace.
        memory = MemorySource(logs)
        for root in _roots(logs):
            assert sorted(ranged.trace(root).rows()) == sorted(memory.trace(root).rows())


def test_the_ranges_hold_every_span_of_their_trace_and_no_other_edge(store_path: Path) -> None:
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        assert is_current(con)
        outside = con.execute(
            f"SELECT count(*) FROM spans s WHERE NOT EXISTS (SELECT 1 FROM {TRACE_ROWS_TABLE} t WHERE "
            "t.root_span_id = s.root_span_id AND s._row BETWEEN t.first_row AND t.last_row)"
        ).fetchall()[0][0]
        assert outside == 0
        # Each range starts and ends on a span of its trace (tight), and the late spans of a trace
        # loaded in two imports make two ranges.
        loose = con.execute(
            f"SELECT count(*) FROM {TRACE_ROWS_TABLE} t WHERE NOT EXISTS (SELECT 1 FROM spans s WHERE "
            "s._row = t.first_row AND s.root_span_id = t.root_span_id) OR NOT EXISTS (SELECT 1 FROM spans s "
            "WHERE s._row = t.last_row AND s.root_span_id = t.root_span_id)"
        ).fetchall()[0][0]
        assert loose == 0
        split = con.execute(
            f"SELECT count(*) FROM (SELECT root_span_id FROM {TRACE_ROWS_TABLE} GROUP BY 1 HAVING count(*) > 1)"
        ).fetchall()[0][0]
        assert split > 0
        ordered = con.execute(f"SELECT root_span_id, first_row FROM {TRACE_ROWS_TABLE}").fetchall()
        assert ordered == sorted(ordered)
    finally:
        con.close()


def test_an_older_store_reads_by_id_then_upgrade_adds_the_ranges(
    logs: pl.DataFrame, store_path: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.duckdb"
    shutil.copyfile(store_path, old)
    con = duckdb.connect(str(old))
    con.execute(f"DROP TABLE {TRACE_ROWS_TABLE}")
    con.execute(f"DELETE FROM {META_TABLE} WHERE key = '{COVERED_KEY}'")
    con.close()
    with DuckDBStore(store_path) as current:
        with DuckDBStore(old) as before:
            assert "_row" not in before._trace_condition(logs.get_column("root_span_id")[0])
            _assert_same_reads(before, current, logs)
        upgrade_store(f"duckdb:///{old}")
        with DuckDBStore(old) as after:
            assert "_row BETWEEN" in after._trace_condition(logs.get_column("root_span_id")[0])
            _assert_same_reads(after, current, logs)


def test_ranges_behind_an_append_are_not_used_and_the_next_import_rebuilds_them(
    logs: pl.DataFrame, store_path: Path, tmp_path: Path
) -> None:
    """A version that does not keep the ranges appends spans (here: rows written straight into
    ``spans``, late spans of a trace included): the store reads by id, never a stale range."""
    path = tmp_path / "behind.duckdb"
    shutil.copyfile(store_path, path)
    root = logs.get_column("root_span_id")[0]
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO spans SELECT * REPLACE (id || '-late' AS id, span_id || '-late' AS span_id, "
        "_row + (SELECT max(_row) + 1 FROM spans) AS _row) FROM spans WHERE root_span_id = ?",
        [root],
    )
    con.close()
    with DuckDBStore(path) as behind:
        assert "_row" not in behind._trace_condition(root)
        late = behind.trace(root)
        assert (
            late.filter(pl.col("span_id").str.ends_with("-late")).height
            == logs.filter(pl.col("root_span_id") == root).height
        )
        late_frame = late
    extra = demo.demo_logs(5, seed=9, now=NOW)
    import_logs(extra, f"duckdb:///{path}", progress=False)
    with DuckDBStore(path) as rebuilt, DuckDBStore(path) as plain:
        assert "_row BETWEEN" in rebuilt._trace_condition(root)
        assert_frame_equal(rebuilt.trace(root), late_frame)
        _assert_same_reads(rebuilt, _by_id(plain), pl.concat([logs, extra]))


def test_an_import_of_repeats_only_keeps_the_ranges_current(
    logs: pl.DataFrame, store_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "repeats.duckdb"
    shutil.copyfile(store_path, path)
    result = import_logs(logs.head(40), f"duckdb:///{path}", progress=False)
    assert result.spans_added == 0 and result.duplicates == 40
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert has_trace_rows(con) and is_current(con)
    finally:
        con.close()


def test_merge_ranges_joins_touching_then_nearest() -> None:
    assert merge_ranges([(10, 12), (0, 4), (5, 6), (20, 30)]) == [(0, 6), (10, 12), (20, 30)]
    assert merge_ranges([(0, 1), (3, 4), (100, 101), (104, 110)], most=2) == [(0, 4), (100, 110)]
    assert merge_ranges([(0, 9), (2, 3)]) == [(0, 9)]
    assert merge_ranges([]) == []


def test_the_explorer_opens_a_trace_of_an_appended_store_as_on_the_frame(logs: pl.DataFrame, store_path: Path) -> None:
    """The late spans of a trace (a second range) show in its tree and open, as on the frame."""
    roots = logs.get_column("root_span_id").unique(maintain_order=True).to_list()
    late_root = roots[0]  # its non-root spans came in the second import
    with DuckDBStore(store_path) as store:
        on_store, on_frame = TraceExplorer(store, page_size=10), TraceExplorer(logs, page_size=10)
        for widget in (on_store, on_frame):
            widget.threaded = False
        for root in (late_root, roots[1], roots[-1]):
            opened = on_store.handle({"id": 1, "type": "open", "root_span_id": root})[0]
            assert opened == on_frame.handle({"id": 1, "type": "open", "root_span_id": root})[0]
            spans = logs.filter(pl.col("root_span_id") == root).get_column("span_id").to_list()
            for span in spans[:2] + spans[-2:]:
                request = {"id": 2, "type": "span", "span_id": span}
                assert on_store.handle(request)[0] == on_frame.handle(request)[0]
