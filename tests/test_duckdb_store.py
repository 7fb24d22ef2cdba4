"""The DuckDB store against the in-memory source: identical answers, the sandbox, re-opening.

Differential: every SQL query and filter written in README.md and docs/, the traces view, pages,
samples and single traces give the same rows from ``MemorySource`` (today's engine over the frame)
and from ``DuckDBStore`` (the same logs imported into a DuckDB file).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.engine import QueryError
from loop_jupyter.schema import SCHEMA
from loop_jupyter.sources import DuckDBStore, LogSource, MemorySource, StoreError, parse_url
from loop_jupyter.sources.importer import import_logs

from .store_helpers import answer_documented_examples, documented_examples, rows

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[MemorySource, DuckDBStore]:
    from loop_jupyter.demo import write_demo_jsonl

    folder = tmp_path_factory.mktemp("store")
    write_demo_jsonl(folder / "demo.jsonl", n_traces=400, seed=7)
    memory = MemorySource(lj.load_logs(folder / "demo.jsonl"))
    result = import_logs(folder / "demo.jsonl", f"duckdb:///{folder}/demo.duckdb", progress=False)
    assert result.report.ok and result.spans_added == memory.frame.height
    store = lj.connect(f"duckdb:///{folder}/demo.duckdb")
    assert isinstance(store, DuckDBStore)
    yield memory, store
    store.close()


def test_both_sources_follow_the_protocol(demo_files: tuple[MemorySource, DuckDBStore]) -> None:
    for source in demo_files:
        assert isinstance(source, LogSource)
        assert source.schema == dict(SCHEMA)


def test_every_documented_example_answers_the_same(demo_files: tuple[MemorySource, DuckDBStore]) -> None:
    memory, store = demo_files
    examples = documented_examples()
    # The extraction must find the docs' examples, or this test would compare nothing.
    assert len(examples["sql"]) >= 3 and len(examples["filter"]) >= 10, examples
    answered = answer_documented_examples(
        store, memory, examples, lambda got, expected: rows(got) == rows(expected), pl.DataFrame.equals
    )
    assert answered >= 15


def test_traces_view_is_identical(demo_files: tuple[MemorySource, DuckDBStore]) -> None:
    memory, store = demo_files
    expected = memory.sql("SELECT * FROM traces")
    got = store.sql("SELECT * FROM traces")
    assert got.schema == expected.schema
    assert rows(got) == rows(expected)
    # In the same order as the in-memory view (newest first) when asked for every trace.
    assert store.filter(shape="traces").equals(lj.traces(memory.frame))


def test_spans_pages_samples_and_one_trace_are_identical(demo_files: tuple[MemorySource, DuckDBStore]) -> None:
    memory, store = demo_files
    assert store.filter().equals(memory.frame)
    assert store.stats() == memory.stats()
    assert store.stats().spans == memory.frame.height
    for kwargs in (
        {},
        {"order_by": "total_tokens", "descending": True, "limit": 25},
        {"order_by": "duration", "offset": 40, "limit": 10, "where": "has_error"},
        {"shape": "spans", "order_by": "tokens", "descending": True, "limit": 30},
    ):
        page = store.page(**kwargs)  # type: ignore[arg-type]
        assert page.equals(memory.page(**kwargs)), kwargs  # type: ignore[arg-type]
        assert page.height > 0
    for kwargs in ({}, {"stratify_by_day": True}, {"shape": "spans", "where": "type = 'llm'"}, {"seed": 3}):
        sample = store.sample(60, **kwargs)  # type: ignore[arg-type]
        assert sample.height == 60
        assert sample.equals(memory.sample(60, **kwargs)), kwargs  # type: ignore[arg-type]
    assert not store.sample(60).equals(store.sample(60, seed=3))
    longest = memory.sql("SELECT root_span_id FROM traces ORDER BY span_count DESC, root_span_id LIMIT 1").item()
    trace = store.trace(longest)
    assert trace.equals(memory.trace(longest))
    assert trace.height == memory.frame.filter(pl.col("root_span_id") == longest).height > 1
    assert store.trace("no-such-trace").height == 0


def test_stratified_sample_draws_from_every_day(demo_files: tuple[MemorySource, DuckDBStore]) -> None:
    _, store = demo_files
    days = store.sql("SELECT count(DISTINCT date_trunc('day', created)) AS n FROM traces").item()
    sample = store.sample(days * 2, stratify_by_day=True)
    picked = sample.get_column("created").dt.date().value_counts(name="n")
    assert picked.height == days  # every day is represented
    # the rest in proportion: the busiest day gives more rows than the quietest
    per_day = store.sql("SELECT date_trunc('day', created)::DATE AS created, count(*) AS n FROM traces GROUP BY 1")
    joined = per_day.join(picked, on="created", suffix="_picked").sort("n")
    assert joined.get_column("n_picked")[-1] > joined.get_column("n_picked")[0]


def test_page_refuses_an_unknown_sort_column(demo_files: tuple[MemorySource, DuckDBStore]) -> None:
    _, store = demo_files
    with pytest.raises(ValueError, match="cannot sort"):
        store.page(order_by='created"; DROP TABLE spans; --')
    with pytest.raises(ValueError):
        store.page(limit=10**9)


def _hostile() -> list[str]:
    lines = (DATA / "hostile_sql.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")][:80]


def test_the_sandbox_holds_on_the_store(demo_files: tuple[MemorySource, DuckDBStore]) -> None:
    _, store = demo_files
    before = store.stats()
    store_specific = [
        "SELECT * FROM spans",
        "SELECT * FROM logs_rows",
        "SELECT * FROM loop_jupyter_meta",
        "SELECT * FROM main.spans",
        "DELETE FROM traces",
        "DROP TABLE spans",
        "INSERT INTO spans SELECT * FROM spans",
        "ATTACH 'other.duckdb' AS other",
        "SELECT * FROM duckdb_tables()",
    ]
    for query in [*store_specific, *_hostile()]:
        with pytest.raises(QueryError):
            store.sql(query)
    with pytest.raises(QueryError):
        store.filter("1=1; DROP TABLE spans")
    assert store.stats() == before
    assert store.sql("SELECT count(*) AS n FROM logs").item() == before.spans


def test_reopening_beside_an_open_reader(demo_files: tuple[MemorySource, DuckDBStore], tmp_path: Path) -> None:
    # How quick is bench/bench_store.py's job (a wall-clock bound here is at the mercy of CI load).
    _, store = demo_files
    again = DuckDBStore(store.path)  # a second read-only open beside the first: readers share the file
    stats = again.stats()
    again.close()
    assert stats == store.stats()


def test_connection_strings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_url("duckdb:///relative/logs.duckdb") == Path("relative/logs.duckdb")
    assert parse_url("duckdb:////absolute/logs.duckdb") == Path("/absolute/logs.duckdb")
    for bad in ("duckdb://", "duckdb:///", "duckdb:///:memory:", "duckdb:///x.duckdb?mode=rw", "sqlite:///x.db"):
        with pytest.raises(StoreError):
            parse_url(bad)
    with pytest.raises(StoreError, match=r"no store at .*loop-jupyter import"):
        lj.connect(f"duckdb:///{tmp_path}/missing.duckdb")
    with pytest.raises(StoreError, match="unknown connection string scheme"):
        lj.connect("sqlite:///logs.db")
    with pytest.raises(StoreError, match=r"cannot open clickhouse://u:\*\*\*@127\.0\.0\.1:1/db"):
        lj.connect("clickhouse://u:secret@127.0.0.1:1/db?schema=otel")  # ClickHouse: issue 18
    not_a_store = tmp_path / "plain.duckdb"
    import duckdb

    con = duckdb.connect(str(not_a_store))
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    with pytest.raises(StoreError, match="not a loop_jupyter store"):
        lj.connect(f"duckdb:///{not_a_store}")
    with pytest.raises(StoreError, match="not a loop_jupyter store"):
        import_logs(DATA / "hostile_sql.txt", f"duckdb:///{not_a_store}")
    # a relative URL is relative to the working directory
    monkeypatch.chdir(tmp_path)
    frame = lj.demo_logs(n_traces=5, seed=1)
    import_logs(frame, "duckdb:///rel/logs.duckdb", progress=False)
    with lj.connect("duckdb:///rel/logs.duckdb") as store:
        assert store.stats().spans == frame.height
    assert isinstance(lj.connect(frame), MemorySource)


@pytest.mark.parametrize(
    "folder",
    ["langfuse-framework-traces", "agent-prism", "tielec-ai-workflow"],
)
def test_a_real_fixture_folder_imports_as_it_loads(fixtures_dir: Path, tmp_path: Path, folder: str) -> None:
    path = fixtures_dir / folder
    frame, report = lj.load_logs_with_report(path)
    result = import_logs(path, f"duckdb:///{tmp_path}/fixture.duckdb", progress=False)
    assert result.report.rows_loaded == report.rows_loaded == frame.height > 0
    assert len(result.report.skipped) == len(report.skipped)
    assert result.report.format == report.format
    with lj.connect(f"duckdb:///{tmp_path}/fixture.duckdb") as store:
        assert store.filter().equals(frame)
        assert rows(store.sql("SELECT * FROM traces")) == rows(lj.traces(frame))
        root = frame.get_column("root_span_id")[0]
        assert store.trace(root).equals(frame.filter(pl.col("root_span_id") == root))
