"""Differential tests: the same spans in DuckDB (lj.sql / lj.filter on the loaded frame) and in
ClickHouse (chDB, in-process) in each schema give the same answers; the sandbox refuses the hostile
corpus on ClickHouse too.

The ClickHouse tables come from the real DDL (tests/clickhouse_tables.py). Tests against a real
server run when CLICKHOUSE_URL is set (``clickhouse://user:password@host:8123/db?schema=otel``,
pointing at tables you filled yourself), and are skipped otherwise.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import polars as pl
import pytest

chdb = pytest.importorskip("chdb")

import loop_jupyter as lj  # noqa: E402
from loop_jupyter.clickhouse import connect  # noqa: E402
from loop_jupyter.clickhouse.dialect import translate  # noqa: E402
from loop_jupyter.engine import TRACE_COLUMNS  # noqa: E402
from loop_jupyter.schema import COLUMNS  # noqa: E402
from loop_jupyter.sql_guard import QueryError  # noqa: E402

from . import clickhouse_tables as ct  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> tuple[str, dict[str, pl.DataFrame]]:
    otel = pl.concat([lj.load_logs(p) for p in ct.otlp_files(fixtures_dir)])
    langfuse = pl.concat([lj.load_logs(p) for p in ct.langfuse_files(fixtures_dir)], how="vertical_relaxed")
    # Two fixture files hold the same trace: Langfuse's ReplacingMergeTree keeps one row per id.
    langfuse = langfuse.unique(subset="id", keep="first", maintain_order=True)
    path = str(tmp_path_factory.mktemp("chdb") / "db")
    counts = ct.build_database(path, fixtures_dir, {"otel": otel, "langfuse": langfuse})
    assert counts["otel_traces"] == otel.height == 55
    assert counts["traces"] + counts["observations"] == langfuse.height
    return path, {"otel": otel, "langfuse": langfuse}


CASES = {
    "otel": ("schema=otel", "otel"),
    "langfuse_v3": ("schema=langfuse_v3", "langfuse"),
    "native": ("schema=native&table=native_otel", "otel"),
}


@pytest.fixture(scope="module", params=list(CASES))
def pair(request: pytest.FixtureRequest, database: tuple[str, dict[str, pl.DataFrame]]):
    path, frames = database
    query, frame_name = CASES[request.param]
    with connect(f"chdb:///{path}?{query}", timeout_s=10) as db:
        yield request.param, db, frames[frame_name]


FILTERS = [
    "span_attributes.type = 'llm'",
    "type = 'tool'",
    "metadata.user IS NULL",  # '' from JSONExtractString would make this match nothing
    "metadata.user IS NOT NULL",
    "coalesce(metadata.session_id, 'none') = 'none'",
    "metrics.tokens > 1000",
    "tokens > 1000 AND model IS NOT NULL",
    "duration > 5",
    "model LIKE 'gpt%'",
    "is_root",
    "error IS NOT NULL",
    "depth >= 2",
    "name ILIKE '%chat%'",
    "metadata.trace_id IS NOT NULL",
]


@pytest.mark.parametrize("where", FILTERS)
def test_filters_select_the_same_spans(pair, where: str) -> None:
    _schema, db, frame = pair
    expected = sorted(lj.filter(frame, where)["id"].to_list())
    got = sorted(db.filter(where)["id"].to_list())
    assert got == expected
    assert db.count(where) == len(expected)


SQL = [
    "SELECT type, count(*) AS n FROM logs GROUP BY type",
    "SELECT model, count(*) AS n, sum(tokens) AS tokens, sum(prompt_tokens) AS p FROM logs WHERE model IS NOT NULL GROUP BY model",
    "SELECT metadata.user AS u, count(*) AS n FROM logs GROUP BY u",
    "SELECT coalesce(metadata.user, 'anonymous') AS u, count(*) AS n FROM logs GROUP BY 1",
    "SELECT root_span_id, span_count, error_count, llm_calls, tool_calls, total_tokens, max_depth, has_error, models FROM traces",
    "SELECT count(*) AS n FROM traces WHERE llm_calls > 0",
    "SELECT name, round(median(duration), 3) AS p50, round(quantile_cont(duration, 0.9), 3) AS p90 FROM logs GROUP BY name",
    "SELECT sum(len(span_parents)) AS parents, sum(length(name)) AS chars FROM logs",
    "SELECT count(*) FILTER (WHERE type = 'llm') AS llm, count(*) FILTER (WHERE is_root) AS roots FROM logs",
    "SELECT round(max(epoch(\"end\") - epoch(start)), 3) AS longest FROM logs",
    "SELECT depth, count(*) AS n FROM logs GROUP BY depth",
    "SELECT t.root_span_id, count(*) AS n FROM logs l JOIN traces t ON l.root_span_id = t.root_span_id WHERE t.llm_calls > 0 GROUP BY 1",
    "WITH llm AS (SELECT * FROM logs WHERE type = 'llm') SELECT root_span_id, count(*) AS n FROM llm GROUP BY 1",
    "SELECT name, count(*) AS n FROM logs WHERE 'production' IN tags GROUP BY name",
    "SELECT count(*) AS n FROM logs WHERE tags INCLUDES 'x'",
    "SELECT root_span_id, max(duration) AS d FROM logs GROUP BY root_span_id ORDER BY d DESC LIMIT 2",
]


def _normalized(frame: pl.DataFrame) -> list[tuple]:
    def value(v: object) -> object:
        if isinstance(v, float):
            return None if math.isnan(v) else round(v, 3)
        if isinstance(v, list):
            return tuple(v)
        return v

    return sorted((tuple(value(v) for v in row) for row in frame.rows()), key=repr)


@pytest.mark.parametrize("query", SQL)
def test_sql_examples_give_the_same_rows(pair, query: str) -> None:
    _schema, db, frame = pair
    expected = lj.sql(frame, query)
    got = db.sql(query)
    assert got.columns == expected.columns
    assert _normalized(got) == _normalized(expected)


def test_traces_view_matches(pair) -> None:
    schema, db, frame = pair
    got, expected = db.traces, lj.traces(frame)
    assert tuple(got.columns) == TRACE_COLUMNS
    assert got.height == expected.height
    same = ["root_span_id", "span_id", "span_count", "error_count", "has_error", "llm_calls", "tool_calls",
            "total_tokens", "total_prompt_tokens", "total_completion_tokens", "models", "max_depth", "name",
            "type", "user"]
    assert _normalized(got.select(same)) == _normalized(expected.select(same))
    assert _normalized(got.select("root_span_id", "duration")) == _normalized(expected.select("root_span_id", "duration"))


def test_logs_have_the_canonical_columns_and_one_trace_reads_in_order(pair) -> None:
    _schema, db, frame = pair
    logs = db.sql("SELECT * FROM logs")
    assert tuple(logs.columns) == COLUMNS
    assert logs.schema == lj.SCHEMA if hasattr(lj, "SCHEMA") else True
    root = frame.filter(pl.col("is_root"))["root_span_id"][0]
    spans = db.trace(root)
    assert sorted(spans["id"].to_list()) == sorted(frame.filter(pl.col("root_span_id") == root)["id"].to_list())
    assert spans["start"].is_sorted()


def test_missing_json_key_is_null_not_empty(pair) -> None:
    """The silent one: JSONExtractString gives '' for a missing key; we give NULL as DuckDB does."""
    _schema, db, _frame = pair
    row = db.sql("SELECT count(*) AS n, count(metadata.no_such_key) AS present, "
                 "count(*) FILTER (WHERE metadata.no_such_key = '') AS empty FROM logs")
    assert row.row(0) == (row["n"][0], 0, 0)


def _corpus(name: str) -> list[str]:
    lines = (DATA / name).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


CLICKHOUSE_HOSTILE = [
    "SELECT * FROM system.tables",
    "SELECT * FROM system.settings",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString', 's String')",
    "SELECT * FROM s3('https://bucket.s3.amazonaws.com/x.csv')",
    "SELECT * FROM remote('127.0.0.1', default.otel_traces)",
    "SELECT * FROM cluster('default', default, otel_traces)",
    "SELECT * FROM executable('cat /etc/passwd', 'TSV', 'x String')",
    "SELECT * FROM otel_traces",
    "SELECT * FROM observations",
    "SELECT * FROM default.traces",
    "SELECT * FROM logs UNION ALL SELECT * FROM system.users",
    "SELECT (SELECT count(*) FROM system.processes) FROM logs",
    "INSERT INTO logs SELECT * FROM logs",
    "SET readonly = 0",
    "SELECT * FROM logs; DROP TABLE otel_traces",
]


@pytest.mark.parametrize("query", CLICKHOUSE_HOSTILE)
def test_clickhouse_escapes_are_refused(database, query: str) -> None:
    path, _frames = database
    with connect(f"chdb:///{path}?schema=otel", timeout_s=5) as db:
        with pytest.raises(QueryError):
            db.sql(query)


def test_hostile_corpus_is_refused_on_chdb(database) -> None:
    path, _frames = database
    queries = _corpus("hostile_sql.txt")
    assert len(queries) > 100
    with connect(f"chdb:///{path}?schema=otel", timeout_s=5, row_limit=1000) as db:
        for query in queries:
            with pytest.raises(QueryError):
                db.sql(query)
        assert db.sql("SELECT count(*) AS n FROM logs").item() == 55  # still answering


def test_limits_then_readonly(database) -> None:
    path, _frames = database
    with connect(f"chdb:///{path}?schema=otel", row_limit=5) as db:
        with pytest.raises(QueryError, match="more than 5 rows"):
            db.sql("SELECT * FROM logs")
        assert db.sql("SELECT * FROM logs LIMIT 5").height == 5
        session = db._conn.session
        with pytest.raises(Exception, match="readonly"):
            session.query("INSERT INTO otel_traces (TraceId) VALUES ('x')")
        with pytest.raises(Exception, match="readonly"):
            session.query("SET max_result_rows = 0")
        settings = str(session.query(
            "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'max_execution_time', "
            "'result_overflow_mode') ORDER BY name", "CSV"))
        assert '"readonly","1"' in settings and '"result_overflow_mode","throw"' in settings


def test_translation_maps_the_silent_differences() -> None:
    _, sql = translate("SELECT metadata.user, len(tags), length(name), median(duration) FROM logs "
                       "WHERE scores.Factuality < 0.5 AND 'beta' IN tags", {"logs", "traces"})
    assert "JSONType" in sql and "nullIf" in sql  # NULL for a missing key, not ''
    assert "toFloat64OrNull" in sql  # numeric JSON fields
    assert "length(tags)" in sql.replace("LENGTH", "length") and "lengthUTF8(name)" in sql
    assert "quantileExactInclusive(0.5)" in sql
    assert "has(tags, 'beta')" in sql


@pytest.mark.skipif(not os.environ.get("CLICKHOUSE_URL"), reason="set CLICKHOUSE_URL to test a real server")
def test_real_server_answers_read_only() -> None:
    with connect(os.environ["CLICKHOUSE_URL"]) as db:
        n = db.sql("SELECT count(*) AS n FROM logs").item()
        assert n >= 0
        assert tuple(db.traces.columns) == TRACE_COLUMNS
        for query in CLICKHOUSE_HOSTILE:
            with pytest.raises(QueryError):
                db.sql(query)
