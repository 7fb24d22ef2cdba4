"""ClickHouse as a ``LogSource``: the protocol on chDB against ``MemorySource`` (DuckDB) on the same
spans, in every schema; connection strings; ``import --to chdb:///``; the sandbox through the
protocol's methods.

Differential: for each schema the spans are read from chDB once (``filter()``, in the source's
order) and handed to a ``MemorySource``; then every documented SQL query and filter, the traces
view, pages, samples, counts, single traces and stats must come back identical from both (floats
to 9 significant digits: sums may add in another order). That the adapters' spans equal what the
loaders make of the same files is tests/test_clickhouse_chdb.py's part; for ``native`` the
imported demo logs must equal ``lj.load_logs`` of the file exactly.

Tests against a real server run when CLICKHOUSE_URL is set (see test_real_server_*), skipped otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("chdb")

import loop_jupyter as lj
from loop_jupyter.clickhouse import ClickHouseLogs
from loop_jupyter.clickhouse.importer import import_to_chdb
from loop_jupyter.engine import TRACE_COLUMNS, QueryError
from loop_jupyter.schema import SCHEMA
from loop_jupyter.sources import LogSource, MemorySource, StoreError

from .store_helpers import answer_documented_examples, documented_examples

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "otel": "schema=otel",
    "langfuse_v3": "schema=langfuse_v3",
    "langfuse_v4": "schema=langfuse_v4",
    "native_otel": "schema=native&table=native_otel",
    "native_demo": "schema=native",  # the demo logs, written by import --to chdb:///
}


@pytest.fixture(scope="module")
def database(chdb_tables: tuple[str, dict[str, pl.DataFrame], dict[str, int]]) -> tuple[str, dict[str, pl.DataFrame]]:
    """The session's chDB database (tests/conftest.py ``chdb_tables``, tests/clickhouse_tables.py)."""
    path, frames, _counts = chdb_tables
    return path, frames


@pytest.fixture(scope="module", params=list(CASES))
def pair(request: pytest.FixtureRequest, database: tuple[str, dict[str, pl.DataFrame]]):
    path, _frames = database
    # A generous time limit: the adapters are planned per query, slow on a loaded 2-core machine.
    source = lj.connect(f"chdb:///{path}?{CASES[request.param]}", timeout_s=300)
    assert isinstance(source, ClickHouseLogs)
    memory = MemorySource(source.filter())
    yield request.param, source, memory
    source.close()


def same(got: pl.DataFrame, expected: pl.DataFrame) -> bool:
    """Equal columns, types and rows in order; floats to 9 significant digits."""
    # DuckDB sums BIGINT into a HUGEINT (a Decimal with scale 0); ClickHouse answers Int64.
    huge = {
        name: pl.Int64 for name, dtype in expected.schema.items() if isinstance(dtype, pl.Decimal) and dtype.scale == 0
    }
    expected = expected.cast(huge)  # type: ignore[arg-type]
    if got.columns != expected.columns or got.dtypes != expected.dtypes or got.height != expected.height:
        return False
    floats = [name for name, dtype in got.schema.items() if dtype.is_float()]
    if floats:
        got = got.with_columns(pl.col(floats).round_sig_figs(9))
        expected = expected.with_columns(pl.col(floats).round_sig_figs(9))
    return got.equals(expected)


def test_the_protocol_and_its_url(pair) -> None:
    name, source, memory = pair
    assert isinstance(source, LogSource)
    assert source.schema == dict(SCHEMA) == memory.schema
    assert source.url.startswith("chdb:///") and CASES[name] in source.url
    assert source.stats() == memory.stats()
    assert source.stats().spans == memory.frame.height > 0
    assert source.filter().schema == SCHEMA


def test_native_import_reads_back_as_loaded(database) -> None:
    path, frames = database
    with lj.connect(f"chdb:///{path}?schema=native") as source:
        assert source.filter().equals(frames["demo"])  # every column, in load order
        assert source.count() == frames["demo"].height


def test_every_documented_example_answers_the_same(pair) -> None:
    name, source, memory = pair
    examples = documented_examples()
    assert len(examples["sql"]) >= 3 and len(examples["filter"]) >= 10, examples
    answered = answer_documented_examples(
        source,
        memory,
        examples,
        lambda got, expected: same(got.sort(got.columns), expected.sort(expected.columns)),
        same,
        name,
    )
    assert answered >= 15


def test_traces_view_is_identical(pair) -> None:
    _name, source, memory = pair
    got = source.filter(shape="traces")
    assert tuple(got.columns) == TRACE_COLUMNS
    assert same(got, memory.filter(shape="traces"))
    assert same(got, lj.traces(memory.frame))
    assert same(source.traces, got)


def test_pages_samples_counts_and_one_trace_are_identical(pair) -> None:
    _name, source, memory = pair
    assert source.count() == memory.count() and source.count(shape="traces") == memory.count(shape="traces")
    for kwargs in (
        {},
        {"order_by": "total_tokens", "descending": True, "limit": 7},
        {"order_by": "span_count", "offset": 1, "limit": 2},
        {"order_by": "name", "where": "span_count > 1", "limit": 4},
        {"shape": "spans", "order_by": "tokens", "descending": True, "limit": 9},
        {"shape": "spans", "offset": 10, "limit": 10},
    ):
        page = source.page(**kwargs)  # type: ignore[arg-type]
        assert same(page, memory.page(**kwargs)), kwargs  # type: ignore[arg-type]
        assert page.height > 0, kwargs
    for kwargs in (
        {},
        {"stratify_by_day": True},
        {"shape": "spans", "where": "type = 'llm'"},
        {"shape": "spans", "stratify_by_day": True},
        {"seed": 3},
    ):
        sample = source.sample(6, **kwargs)  # type: ignore[arg-type]
        assert sample.height == min(6, source.count(kwargs.get("where"), shape=kwargs.get("shape", "traces")))
        assert same(sample, memory.sample(6, **kwargs)), kwargs  # type: ignore[arg-type]
    roots = memory.sql("SELECT root_span_id FROM traces ORDER BY span_count DESC, root_span_id LIMIT 2")
    for root in roots["root_span_id"]:
        trace = source.trace(root)
        assert trace.height > 0 and same(trace, memory.trace(root))
    assert source.trace("no-such-trace").height == 0
    assert source.filter(limit=3).equals(memory.frame.head(3))


def test_samples_are_deterministic_and_seeded(database) -> None:
    path, _frames = database
    with lj.connect(f"chdb:///{path}?schema=native") as source:
        first = source.sample(40)
        assert first.equals(source.sample(40))
        assert not first.equals(source.sample(40, seed=1))
        days = source.sql("SELECT count(DISTINCT date_trunc('day', created)) AS n FROM traces").item()
        assert days > 1
        spread = source.sample(days, stratify_by_day=True)
        assert spread.get_column("created").dt.date().n_unique() == days  # one from every day


def test_page_checks_its_arguments(database) -> None:
    path, _frames = database
    with lj.connect(f"chdb:///{path}?schema=native") as source:
        with pytest.raises(ValueError, match="cannot sort"):
            source.page(order_by="created`; DROP TABLE loop_spans; --")
        with pytest.raises(ValueError):
            source.page(limit=10**9)
        with pytest.raises(ValueError):
            source.page(offset=-1)


def _hostile() -> list[str]:
    lines = (DATA / "hostile_sql.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


HOSTILE_CONDITIONS = [
    "1=1; DROP TABLE loop_spans",
    "1=1) UNION ALL SELECT * FROM system.tables --",
    "id IN (SELECT name FROM system.tables)",
    "id IN (SELECT * FROM file('/etc/passwd', 'LineAsString'))",
    "id IN (SELECT id FROM loop_spans)",
    "id IN (SELECT c1 FROM url('http://127.0.0.1:1/', 'CSV'))",
    "1=1 ORDER BY id",
    "1=1 LIMIT 1",
    "1=1 GROUP BY id",
]


def test_the_sandbox_holds_through_every_method(database) -> None:
    """The hostile corpus as SQL, and escapes as WHERE conditions of filter, count, page and sample."""
    path, _frames = database
    with lj.connect(f"chdb:///{path}?schema=native", timeout_s=5, row_limit=1000) as source:
        before = source.stats()
        queries = _hostile()
        assert len(queries) > 100
        for query in queries:
            with pytest.raises(QueryError):
                source.sql(query)
        for condition in HOSTILE_CONDITIONS:
            for call in (
                lambda c: source.filter(c),
                lambda c: source.count(c),
                lambda c: source.page(c),
                lambda c: source.sample(5, where=c),
                lambda c: source.filter(c, shape="traces"),
            ):
                with pytest.raises(QueryError):
                    call(condition)
        assert source.stats() == before
        with pytest.raises(QueryError, match="more than 1,000 rows"):
            source.sql("SELECT * FROM logs")
        assert source.sql("SELECT * FROM logs LIMIT 1500", limit=2000).height == 1500  # the limit is per call
        with pytest.raises(QueryError, match="more than 10 rows"):
            source.sql("SELECT id FROM logs", limit=10)


def test_connection_strings(database, tmp_path: Path) -> None:
    path, _frames = database
    # SQLAlchemy's convention: chdb:///relative (from the working directory), chdb:////absolute
    relative = os.path.relpath(path)
    with lj.connect(f"chdb:///{relative}?schema=native") as source:
        assert source.count() > 0
    assert path.startswith("/")
    with lj.connect(f"chdb:///{path}?schema=native") as source:  # chdb:/// + /abs: the 4th slash
        assert source.url == f"chdb:////{path.lstrip('/')}?schema=native"
    with lj.connect(f"chdb:///{path}") as source:  # no schema=: the table import --to writes is found
        assert source.schema_name == "native" and source.count() > 0
    with pytest.raises(StoreError, match="no chDB database"):
        lj.connect(f"chdb:///{tmp_path}/missing?schema=otel")
    with pytest.raises(StoreError, match="unknown schema"):
        lj.connect(f"chdb:///{path}?schema=mysql")
    with pytest.raises(StoreError, match="not a table name"):
        lj.connect(f"chdb:///{path}?schema=native&table=x;DROP")


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "chdb", None)  # import chdb fails as if it were not installed
    monkeypatch.setitem(sys.modules, "chdb.session", None)
    (tmp_path / "db").mkdir()
    with pytest.raises(StoreError, match=r"pip install 'loop_jupyter\[clickhouse\]'"):
        lj.connect(f"chdb:///{tmp_path}/db?schema=otel")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "loop_jupyter", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_cli_imports_and_queries_chdb(tmp_path: Path) -> None:
    """``import --to chdb:///``, then ``sql`` and ``filter`` with ``--logs chdb:///`` (another process:
    chDB opens one database per process)."""
    import json

    frame = lj.demo_logs(n_traces=30, seed=2)
    from loop_jupyter.demo import jsonl_text

    (tmp_path / "demo.jsonl").write_text(jsonl_text(frame))
    done = _cli("import", "demo.jsonl", "--to", "chdb:///db", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["spans_added"] == frame.height and result["report"]["rows_loaded"] == frame.height
    again = _cli("import", "demo.jsonl", "--to", "chdb:///db", "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["duplicates"] == frame.height  # nothing twice
    url = "chdb:///db?schema=native"
    sql = _cli("sql", "SELECT count(*) AS n FROM traces", "--logs", url, "--json", cwd=tmp_path)
    assert sql.returncode == 0, sql.stderr
    assert json.loads(sql.stdout)["rows"] == [[30]]
    condition = "has_error AND llm_calls > 1"
    filt = _cli("filter", condition, "--shape", "traces", "--logs", url, "--json", cwd=tmp_path)
    assert filt.returncode == 0, filt.stderr
    expected = lj.filter(frame, condition, shape="traces")["root_span_id"].to_list()
    assert json.loads(filt.stdout)["ids"] == expected
    shown = _cli("filter", condition, "--shape", "traces", "--logs", url, cwd=tmp_path)
    assert shown.returncode == 0 and f"-- {len(expected):,} traces" in shown.stdout


def test_import_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    frame = lj.demo_logs(n_traces=2, seed=1)
    with pytest.raises(StoreError, match="native schema"):
        import_to_chdb(frame, f"chdb:///{tmp_path}/db?schema=otel")
    with pytest.raises(StoreError, match="chdb:///"):
        import_to_chdb(frame, "clickhouse://localhost:8123/db")


@pytest.mark.skipif(not os.environ.get("CLICKHOUSE_URL"), reason="set CLICKHOUSE_URL to test a real server")
def test_real_server_follows_the_protocol() -> None:
    """CLICKHOUSE_URL='clickhouse://user:pw@host:8123/db?schema=otel' (tables you filled)."""
    with lj.connect(os.environ["CLICKHOUSE_URL"]) as source:
        stats = source.stats()
        memory = MemorySource(source.filter(limit=5000))
        assert stats.spans >= memory.frame.height
        if stats.spans <= 5000:
            assert same(source.filter(shape="traces"), memory.filter(shape="traces"))
            assert same(source.sample(10), memory.sample(10))
        assert source.page(limit=5).height <= 5
        for query in _hostile()[:50]:
            with pytest.raises(QueryError):
                source.sql(query)


def test_a_filter_that_matched_nothing_leaves_the_next_one_right(database) -> None:
    """ClickHouse 25's query condition cache answered has(tags, ..) over the traces view with no rows
    once a filter had matched none (chDB 4.4): the backend turns that cache off."""
    path, _frames = database
    with lj.connect(f"chdb:///{path}?schema=native") as source:
        expected = source.count("tags INCLUDES 'production'", shape="traces")
        assert expected > 0
        assert source.filter("type = 'no such type'", shape="traces").height == 0
        assert source.count("tags INCLUDES 'production'", shape="traces") == expected
        assert source.filter("'production' IN tags", shape="traces").height == expected


def test_langfuse_v4_trace_without_an_app_root_gets_one(database) -> None:
    """A v4 trace whose spans came without the trace's own app-root span (OTel ingestion): a root
    made of the trace-level columns, parentless spans under it; deleted rows are not read."""
    from loop_jupyter.clickhouse.backend import _Chdb

    path, _frames = database
    conn = _Chdb(path, {"session_timezone": "UTC"})
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS events_noroot AS events_full")
        common = "'p', 't1', 'chat', 'ann', 'sess', ['beta'], toDateTime64('2026-01-02 03:04:05', 6), 0"
        conn.execute(
            "INSERT INTO events_noroot (project_id, trace_id, trace_name, user_id, session_id, tags, event_ts, "
            "is_deleted, span_id, parent_span_id, start_time, end_time, name, type, usage_details) VALUES "
            f"({common}, 's1', '', '2026-01-02 03:04:05', '2026-01-02 03:04:07', 'llm call', 'GENERATION', "
            "map('input', 3, 'output', 4)), "
            f"({common}, 's2', 's1', '2026-01-02 03:04:06', '2026-01-02 03:04:06.5', 'lookup', 'TOOL', map())"
        )
        conn.execute(
            "INSERT INTO events_noroot (project_id, trace_id, span_id, parent_span_id, start_time, name, type, "
            "event_ts, is_deleted) VALUES ('p', 't1', 's3', '', '2026-01-02 03:04:05', 'gone', 'SPAN', "
            "toDateTime64('2026-01-02 03:04:06', 6), 1)"
        )
    finally:
        conn.close()
    with lj.connect(f"chdb:///{path}?schema=langfuse_v4&events_table=events_noroot", timeout_s=120) as source:
        spans = source.trace("t1")
        assert spans["id"].to_list() == ["s1", "t1", "s2"]  # start order (the root starts with s1), then id
        assert spans["parent_id"].to_list() == ["t1", None, "s1"]
        assert spans["depth"].to_list() == [1, 0, 2]
        assert spans["type"].to_list() == ["llm", "task", "tool"]
        assert spans["tokens"].to_list() == [7, None, None]
        root = source.filter("is_root").row(0, named=True)
        assert (root["name"], root["tags"], root["input"]) == ("chat", ["beta"], None)
        assert source.count("metadata.user = 'ann'") == 1  # the trace's user is on its root only
        trace = source.filter(shape="traces").row(0, named=True)
        assert (trace["user"], trace["span_count"], trace["duration"]) == ("ann", 3, 2.0)


def test_readme_clickhouse_lines_run_on_the_same_tables(database) -> None:
    """README's "Your traces are in ClickHouse": every connection string names a schema we read, and
    the lines under it answer on chDB tables built from that schema's real DDL (the server is the
    only part not run here)."""
    import re
    from urllib.parse import parse_qs, urlparse

    path, _frames = database
    section = (ROOT / "README.md").read_text().split("## Your traces are in ClickHouse", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2  # Langfuse, the OTel collector
    for block in blocks:
        (url,) = re.findall(r'lj\.connect\("([^"]+)"\)', block)
        parsed = urlparse(url)
        assert parsed.scheme == "clickhouse" and parsed.port == 8123
        schema = parse_qs(parsed.query)["schema"][0]
        calls = re.findall(r"^source\.(\w+)\((.*)\)", block, re.M)
        assert len(calls) == 2
        with lj.connect(f"chdb:///{path}?schema={schema}", timeout_s=120) as source:
            memory = MemorySource(source.filter())
            for method, args in calls:
                call = f"source.{method}({args})"
                got = eval(call, {"source": source})
                expected = eval(call, {"source": memory})
                if method == "sql":  # a GROUP BY's rows come in no set order
                    got, expected = (
                        got.sort(got.columns, nulls_last=True),
                        expected.sort(expected.columns, nulls_last=True),
                    )
                assert same(got, expected), call
                assert got.height > 0, call


def test_import_stores_the_traces_view_and_it_is_read_while_it_holds(database) -> None:
    """``import --to chdb:///`` stores the traces view beside the spans (the DuckDB store keeps a
    traces table too); a source reads it while it counts as many spans as the table holds."""
    from loop_jupyter.clickhouse.backend import _Chdb

    path, _frames = database
    frame = lj.demo_logs(n_traces=12, seed=5)
    result = import_to_chdb(frame, f"chdb:///{path}?table=extra", progress=False)
    assert result.spans_added == frame.height and result.traces_total == 12
    url = f"chdb:///{path}?schema=native&table=extra"
    with lj.connect(url) as source:
        assert "`extra_traces`" in source.traces_relation()
        assert same(source.filter(shape="traces"), lj.traces(frame))
    conn = _Chdb(path, {"session_timezone": "UTC"})
    try:  # a span written by other means: the stored view no longer holds, the view is computed
        conn.execute(
            "INSERT INTO extra SELECT * REPLACE ('x1' AS id, 'x1' AS root_span_id, 1000000 AS _row) FROM extra LIMIT 1"
        )
    finally:
        conn.close()
    with lj.connect(url) as source:
        assert "extra_traces" not in source.traces_relation()
        assert source.count(shape="traces") == 13


def test_import_appends_new_spans_to_a_table_that_holds_others(database) -> None:
    """A second import of other spans into the same table (the bench's per-file appends): no id was
    there before, chDB answers the duplicates query with an empty ``[]``; all spans are added."""
    path, _frames = database
    first, second = lj.demo_logs(n_traces=5, seed=21), lj.demo_logs(n_traces=4, seed=22)
    assert not set(first["id"]) & set(second["id"])
    url = f"chdb:///{path}?table=appended"
    assert import_to_chdb(first, url, progress=False).spans_added == first.height
    result = import_to_chdb(second, url, progress=False)
    assert (result.spans_added, result.duplicates) == (second.height, 0)
    assert (result.spans_total, result.traces_total) == (first.height + second.height, 9)
    with lj.connect(f"chdb:///{path}?schema=native&table=appended") as source:
        assert same(source.filter(), pl.concat([first, second]))
