"""What keeps the ClickHouse adapters inside the sandbox's memory limit at 10M spans
(bench/RESULTS.md, "otel at 10M under the 4 GiB limit"): the depth walk on 16-byte keys, the
``otel`` walk by TraceId without a join per step, the traces view's hash table on its figures,
and GROUP BY / ORDER BY spilling to disk before the limit. The walk's answers are checked on a
small tree with its hard cases (an orphan, a cycle, one span id in two traces, a trace without a
parentless span) against depths computed here in Python."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from loop_jupyter.clickhouse.adapters import _otel_links, traces_sql
from loop_jupyter.clickhouse.backend import limit_settings
from loop_jupyter.clickhouse.schemas import logs_sql


def test_spilling_starts_below_the_memory_limit_and_readonly_comes_last() -> None:
    settings = limit_settings(timeout_s=5, row_limit=10, memory=4 * 1024**3, rows_to_read=100)
    names = list(settings)
    assert names[-1] == "readonly" and settings["max_memory_usage"] == 4 * 1024**3
    for name in ("max_bytes_before_external_group_by", "max_bytes_before_external_sort"):
        assert 0 < settings[name] < settings["max_memory_usage"]
        assert names.index(name) < names.index("readonly")


@pytest.mark.parametrize("schema", ["otel", "langfuse_v3", "langfuse_v4"])
def test_the_depth_walk_joins_and_groups_on_hashed_keys(schema: str) -> None:
    sql = logs_sql(schema)
    walk = sql[sql.index("_walk AS (") :]
    walk = walk[: walk.index("\nSELECT\n")]
    # The recursive step joins on one 16-byte key, not on (span id, root span id) strings.
    assert "ON c.pk = w.k" in walk
    assert "root_span_id" not in walk and "span_id" not in walk
    assert re.search(r"GROUP BY k\)", sql) and "GROUP BY span_id, root_span_id" not in sql
    assert "sipHash128(" in sql[: sql.index("_walk AS (")]


def test_the_otel_tree_reads_the_table_without_a_join() -> None:
    links = _otel_links({"spans": "otel_traces"})
    assert "JOIN" not in links.upper() and "GROUP BY" not in links.upper()
    assert "TraceId AS trace_id" in links


def test_the_traces_view_builds_its_hash_table_on_the_figures() -> None:
    sql = traces_sql("logs")
    # ClickHouse builds a hash join's table from its right side: the per-trace figures, not the
    # root rows with their text.
    right = sql[sql.index("RIGHT JOIN") :]
    assert "GROUP BY root_span_id" in right and "LIMIT 1 BY" not in right
    assert "LEFT JOIN" not in sql


# (TraceId, SpanId, ParentSpanId) of the hard cases; expected depth by walking parents in Python.
TREE = [
    ("t1", "a", ""),
    ("t1", "b", "a"),
    ("t1", "c", "b"),
    ("t1", "d", "missing"),  # orphan: no depth
    ("t2", "b", ""),  # the same span id in another trace, a root there
    ("t2", "x", "b"),
    ("t2", "y", "x"),
    ("t2", "z", "y"),
    ("t3", "e", "f"),  # a cycle, no parentless span: the TraceId stands in as root
    ("t3", "f", "e"),
]


def _expected() -> dict[tuple[str, str], int | None]:
    parents = {(t, s): p for t, s, p in TREE}
    depths: dict[tuple[str, str], int | None] = {}
    for trace, span, _ in TREE:
        depth, node, seen = 0, (trace, span), set()
        while parents[node]:
            seen.add(node)
            node = (trace, parents[node])
            if node not in parents or node in seen:
                depth = None
                break
            depth += 1
        depths[(trace, span)] = depth
    return depths


@pytest.fixture(scope="module")
def walk_table(chdb_tables, fixtures_dir):
    import loop_jupyter as lj
    from tests.clickhouse_tables import create_otel_table, insert_rows

    path, _frames, _counts = chdb_tables
    source = lj.connect(f"chdb:///{path}?schema=otel&table=otel_walk", timeout_s=300)
    session = source._conn.session
    session.query("DROP TABLE IF EXISTS otel_walk")
    create_otel_table(session, fixtures_dir, "otel_walk")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "Timestamp": (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
            "TraceId": trace,
            "SpanId": span,
            "ParentSpanId": parent,
            "SpanName": f"{trace}.{span}",
            "Duration": 1_000_000_000,
            "StatusCode": "Unset",
        }
        for i, (trace, span, parent) in enumerate(TREE)
    ]
    insert_rows(session, "otel_walk", rows)
    yield source
    source.close()


def test_depths_and_roots_of_the_hard_cases(walk_table) -> None:
    frame = walk_table.sql("SELECT name, root_span_id, depth FROM logs ORDER BY name")
    got = {tuple(row["name"].split(".")): (row["root_span_id"], row["depth"]) for row in frame.iter_rows(named=True)}
    expected = _expected()
    assert {key: depth for key, (_root, depth) in got.items()} == expected
    roots = {key: root for key, (root, _depth) in got.items()}
    assert {roots[("t1", s)] for s in "abcd"} == {"a"}
    assert {roots[("t2", s)] for s in "bxyz"} == {"b"}
    assert {roots[("t3", s)] for s in "ef"} == {"t3"}


def test_the_traces_view_of_the_hard_cases(walk_table) -> None:
    frame = walk_table.sql("SELECT root_span_id, span_count, max_depth, name FROM traces ORDER BY root_span_id")
    expected = _expected()
    by_trace = {
        trace: [d for (t, _s), d in expected.items() if t == trace and d is not None] for trace in ("t1", "t2", "t3")
    }
    assert frame.rows() == [
        ("a", 4, max(by_trace["t1"]), "t1.a"),
        ("b", 4, max(by_trace["t2"]), "t2.b"),
        ("t3", 2, None, None),  # no root row: the figures alone (the RIGHT JOIN keeps the trace)
    ]
