"""The ``otel`` adapter narrowed per read (loop_jupyter/clickhouse/pushdown.py): a span filter, one
trace and the first page map only the traces they need, and answer exactly as the whole mapping
(``source.pushdown = False``; test_clickhouse_sources.py holds the whole mapping to the same spans
in memory). The test table is small, so narrowing is forced (``pushdown = True``)."""

from __future__ import annotations

import polars as pl
import pytest

pytest.importorskip("chdb")

import loop_jupyter as lj
from loop_jupyter.clickhouse import pushdown

FILTERS = [
    "span_attributes.type = 'llm'",
    "type = 'tool'",
    "metadata.user IS NULL",
    "duration > 5",
    "is_root",
    "error IS NOT NULL",
    "name ILIKE '%chat%'",
    "metrics.tokens > 100",
    "depth >= 2",  # needs the whole trace: not narrowed
    "created > TIMESTAMP '2020-01-01' AND type = 'llm'",
]


@pytest.fixture(scope="module")
def otel(chdb_tables):
    path, _frames, _counts = chdb_tables
    with lj.connect(f"chdb:///{path}?schema=otel", timeout_s=300) as source:
        sent: list[str] = []
        run = source._run

        def recording(sql: str, *args, **kwargs):
            sent.append(sql)
            return run(sql, *args, **kwargs)

        source._run = recording  # type: ignore[method-assign]
        source.pushdown = True
        yield source, sent


def _reads(source) -> list[object]:
    """One read of each narrowed kind (each costs a query's planning: a few, not every filter)."""
    roots = source.sql("SELECT root_span_id FROM traces ORDER BY span_count DESC, root_span_id LIMIT 1")
    root = roots["root_span_id"][0]
    return [
        source.filter("span_attributes.type = 'llm'"),
        source.count("metadata.user IS NULL"),
        source.sample(3, where="duration > 5", shape="spans"),
        source.page("is_root", shape="spans", limit=4, offset=1),
        source.filter(limit=5),
        source.page(limit=2, offset=1),
        source.trace(root),
        source.trace("no-such-trace"),
    ]


def test_narrowed_reads_answer_as_the_whole_mapping(otel) -> None:
    source, sent = otel
    sent.clear()
    source.pushdown = True
    narrowed = _reads(source)
    mapped = [sql for sql in sent if "FROM `otel_traces` WHERE TraceId IN (" in sql or "`otel_traces` WHERE 0)" in sql]
    assert len(mapped) == len(narrowed)  # every read mapped only the traces it found
    source.pushdown = False
    try:
        whole = _reads(source)
    finally:
        source.pushdown = True
    for got, want in zip(narrowed, whole, strict=True):
        if isinstance(got, pl.DataFrame):
            assert got.equals(want), (got, want)
        else:
            assert got == want
    assert narrowed[0].height > 0 and narrowed[1] > 0 and narrowed[6].height > 1 and narrowed[7].height == 0


def test_what_is_narrowed_and_what_is_not(otel) -> None:
    source, sent = otel
    narrowed = {where: source._narrow("spans", source.condition(where)) for where in FILTERS}
    assert all(narrowed[where] for where in FILTERS if where != "depth >= 2")
    assert narrowed["depth >= 2"] is None  # depth needs the whole trace
    for where in ("rand() < 0.5", "id IN (SELECT id FROM logs WHERE type = 'llm')", "root_span_id = 'x'"):
        assert source._narrow("spans", source.condition(where)) is None, where
    assert source._narrow("traces", source.condition("duration > 1")) is None  # trace-level aggregates
    assert source._narrow("spans", "1") is None  # every span: the whole table
    assert "SpanId = 'ab\\'c' OR TraceId = 'ab\\'c'" in pushdown.trace_ids({"spans": "otel_traces"}, "ab'c")
    assert "`otel_traces` WHERE 0)" in source._narrow("spans", "1", trace="ab'c")  # no such trace: no rows
    sent.clear()
    assert (
        source.count("span_attributes.type = 'llm'")
        == source.sql("SELECT count(*) FROM logs WHERE span_attributes.type = 'llm'").item()
    )
    assert "WHERE TraceId IN (" in sent[1] and "WHERE TraceId IN (" not in sent[2]  # found, mapped; sql()


def test_a_broad_read_maps_the_whole_table(otel, monkeypatch: pytest.MonkeyPatch) -> None:
    source, _sent = otel
    traces = source.sql("SELECT count(DISTINCT root_span_id) AS n FROM logs WHERE type = 'llm'").item()
    assert traces > 1
    monkeypatch.setattr(pushdown, "MAX_TRACES", traces - 1)
    assert source._narrow("spans", source.condition("type = 'llm'")) is None
    monkeypatch.setattr(pushdown, "MAX_TRACES", traces)
    assert source._narrow("spans", source.condition("type = 'llm'")) is not None


def test_small_tables_and_other_schemas_are_not_narrowed(chdb_tables) -> None:
    path, _frames, _counts = chdb_tables
    with lj.connect(f"chdb:///{path}?schema=otel") as source:
        assert source.pushdown is None
        assert source._narrow("spans", source.condition("type = 'llm'")) is None  # 55 spans: mapped whole
        assert source.pushdown is False
    with lj.connect(f"chdb:///{path}?schema=native&table=native_otel") as source:
        assert source._narrow("spans", source.condition("type = 'llm'")) is None
    assert pushdown.per_span("(type = 'llm')") and not pushdown.per_span("(depth > 1)")
