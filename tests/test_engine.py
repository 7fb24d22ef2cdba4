from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.engine import LogEngine, QueryError

from .helpers import frame_of, span

DATA = Path(__file__).parent / "data"


def _corpus(name: str) -> list[str]:
    lines = (DATA / name).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    now = 1_760_000_000.0
    events = []
    for t in range(20):
        root = f"t{t}"
        user = "John Smith" if t % 5 == 0 else f"user{t % 3}"
        duration = 90.0 if t % 4 == 0 else 5.0
        events.append(
            span(
                root,
                root,
                name="turn",
                type="task",
                start=now + t * 100,
                end=now + t * 100 + duration,
                metadata={"user": user, "turns": t % 6},
                scores={"Factuality": (t % 10) / 10},
                tags=["production"] if t % 2 else ["staging"],
                input={"messages": [{"role": "user", "content": f"question {t}"}]},
            )
        )
        events.append(
            span(
                f"{root}-llm",
                root,
                root,
                name="chat",
                type="llm",
                start=now + t * 100 + 1,
                metadata={"model": "gpt-5.1" if t % 2 else "claude-4.5-sonnet"},
                metrics={"prompt_tokens": 100 * t, "completion_tokens": 10, "tokens": 100 * t + 10},
            )
        )
        events.append(
            span(
                f"{root}-tool",
                root,
                f"{root}-llm",
                name="query_database",
                type="tool",
                start=now + t * 100 + 2,
                error="syntax error at line 3" if t % 3 == 0 else None,
            )
        )
    return frame_of(events)


@pytest.fixture(scope="module")
def engine(logs: pl.DataFrame) -> LogEngine:
    return LogEngine(logs, timeout_s=2.0, row_limit=10_000)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("span_attributes.type = 'llm'", lambda f: f.filter(pl.col("type") == "llm")),
        (
            "scores.Factuality < 0.5",
            lambda f: f.filter(pl.col("scores").str.json_path_match("$.Factuality").cast(pl.Float64) < 0.5),
        ),
        ("metadata.user = 'John Smith'", lambda f: f.filter(pl.col("metadata").str.contains("John Smith"))),
        ("metrics.tokens > 1000", lambda f: f.filter(pl.col("tokens") > 1000)),
        ("metrics.end - metrics.start > 60", lambda f: f.filter(pl.col("duration") > 60)),
        ("'production' IN tags", lambda f: f.filter(pl.col("tags").list.contains("production"))),
        ("tags INCLUDES 'staging'", lambda f: f.filter(pl.col("tags").list.contains("staging"))),
        ("metadata.turns >= 4", lambda f: f.filter(pl.col("metadata").str.json_path_match("$.turns").cast(int) >= 4)),
        ("input ILIKE '%question 1%'", lambda f: f.filter(pl.col("input").str.contains("question 1"))),
        ("created > now() - interval 50000 day", lambda f: f),
        ("created >= '2100-01-01'", lambda f: f.head(0)),
        ("error IS NOT NULL", lambda f: f.filter(pl.col("error").is_not_null())),
    ],
)
def test_braintrust_filters_work_unchanged(engine: LogEngine, logs: pl.DataFrame, condition: str, expected) -> None:
    got = engine.filter(condition)
    want = expected(logs)
    assert sorted(got.get_column("id").to_list()) == sorted(want.get_column("id").to_list())
    assert got.schema == logs.schema


def test_traces_view_aggregates(engine: LogEngine, logs: pl.DataFrame) -> None:
    traces = engine.traces
    assert traces.height == 20
    t0 = traces.filter(pl.col("root_span_id") == "t0").row(0, named=True)
    assert t0["span_count"] == 3
    assert t0["error_count"] == 1 and t0["has_error"]
    assert t0["llm_calls"] == 1 and t0["tool_calls"] == 1
    assert t0["user"] == "John Smith"
    assert t0["duration"] == pytest.approx(90.0)
    assert t0["models"] == ["claude-4.5-sonnet"]
    expected_tokens = logs.filter(pl.col("root_span_id") == "t7").get_column("tokens").sum()
    assert traces.filter(pl.col("root_span_id") == "t7").get_column("total_tokens").item() == expected_tokens
    slow = engine.filter("duration > 60", shape="traces")
    assert slow.height == 5


def test_sql_returns_polars(engine: LogEngine) -> None:
    result = engine.sql("SELECT model, count(*) AS n FROM logs WHERE type = 'llm' GROUP BY model ORDER BY model")
    assert result.to_dicts() == [{"model": "claude-4.5-sonnet", "n": 10}, {"model": "gpt-5.1", "n": 10}]


@pytest.mark.parametrize("query", _corpus("hostile_sql.txt"))
def test_hostile_sql_is_refused(engine: LogEngine, query: str) -> None:
    with pytest.raises(QueryError) as info:
        engine.sql(query)
    assert info.value.reason
    assert engine.sql("SELECT count(*) AS n FROM logs").item() == 60


@pytest.mark.parametrize("query", _corpus("runaway_sql.txt"))
def test_runaway_sql_is_stopped(engine: LogEngine, query: str) -> None:
    with pytest.raises(QueryError, match=r"time limit|rows|memory"):
        engine.sql(query)
    assert engine.sql("SELECT count(*) AS n FROM logs").item() == 60


@pytest.mark.parametrize(
    "condition",
    [
        "1=1) UNION SELECT * FROM read_csv('/etc/passwd'",
        "1=1; DROP VIEW logs",
        "id IN (SELECT * FROM read_text('/etc/passwd'))",
        "1=1 GROUP BY id",
    ],
)
def test_filter_injection_is_refused(engine: LogEngine, condition: str) -> None:
    with pytest.raises(QueryError):
        engine.filter(condition)


def test_query_error_names_reason_and_sql(engine: LogEngine) -> None:
    with pytest.raises(QueryError) as info:
        engine.sql("SELECT nope FROM logs")
    assert "nope" in str(info.value) and "SQL:" in str(info.value)


def test_external_access_is_off_even_past_the_checker(engine: LogEngine) -> None:
    import duckdb

    with pytest.raises(duckdb.Error):
        engine._con.execute("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(duckdb.Error):
        engine._con.execute("SET enable_external_access = true")


def test_semicolon_inside_a_string_is_part_of_the_condition(engine: LogEngine, logs: pl.DataFrame) -> None:
    assert engine.count("input LIKE '%;%'") == logs.filter(pl.col("input").str.contains(";", literal=True)).height
    assert engine.count("id <> 'a;b'") == logs.height


def test_a_filter_cannot_be_a_union(engine: LogEngine) -> None:
    with pytest.raises(QueryError, match="single WHERE condition"):
        engine.where("1=1 UNION SELECT * FROM logs")
