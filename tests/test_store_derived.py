"""What a store derives at import (issue 17, third round): the vocabulary the planner and the system
prompt read, the stored stats, the root-only narrowing of metadata conditions and the narrow
sample draw give the same answers as the frame; a store written before them still answers, and
``import`` / ``upgrade_store`` backfill them."""

from __future__ import annotations

import shutil
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.agent.planner.facts import facts_for
from loop_jupyter.sources import DuckDBStore, MemorySource
from loop_jupyter.sources import vocab as vocab_module
from loop_jupyter.sources.importer import import_logs
from loop_jupyter.sources.root_only import push_root_only
from loop_jupyter.sources.upgrade import upgrade_store
from loop_jupyter.sources.vocab import VOCAB_TABLE, has_vocab
from loop_jupyter.tools import ToolContext
from loop_jupyter.tools.core import schema_summary

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    frame = demo.demo_logs(300, seed=3, now=NOW)
    # A metadata key on root and child spans alike (not root-only), and one with many values.
    rest = pl.col("metadata").str.slice(1)
    has_keys = pl.col("metadata").str.starts_with('{"')
    return frame.with_columns(
        metadata=pl.when(has_keys & (pl.col("type") == "llm"))
        .then(pl.concat_str([pl.lit('{"region": "eu", "req": "'), pl.col("span_id"), pl.lit('", '), rest]))
        .when(has_keys & pl.col("is_root"))
        .then(pl.concat_str([pl.lit('{"region": "us", '), rest]))
        .otherwise(pl.col("metadata"))
    )


def _import_in_parts(frame: pl.DataFrame, path: Path) -> None:
    """Three appends, the second repeating spans of the first (skipped as duplicates)."""
    third = frame.height // 3
    import_logs(frame.head(third), f"duckdb:///{path}", progress=False)
    import_logs(frame.head(2 * third), f"duckdb:///{path}", progress=False)
    import_logs(frame, f"duckdb:///{path}", progress=False)


@pytest.fixture(scope="module")
def store_path(logs: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("derived") / "logs.duckdb"
    _import_in_parts(logs, path)
    return path


def _ctx(logs: Any) -> ToolContext:
    if isinstance(logs, pl.DataFrame):
        return ToolContext(logs=logs, workdir=Path("."), cache={})
    return ToolContext(source=logs, workdir=Path("."), cache={})


def _facts(logs: Any) -> dict[str, Any]:
    facts = facts_for(_ctx(logs))
    return {f.name: getattr(facts, f.name) for f in fields(facts) if not callable(getattr(facts, f.name))}


def _make_old(path: Path) -> None:
    """Turn a store into one written before the vocabulary and the stored stats."""
    con = duckdb.connect(str(path))
    con.execute(f"DROP TABLE {VOCAB_TABLE}")
    con.execute("DELETE FROM loop_jupyter_meta WHERE key LIKE 'stats_%'")
    con.close()


def test_the_stored_vocabulary_gives_the_frames_facts(logs: pl.DataFrame, store_path: Path) -> None:
    with DuckDBStore(store_path) as store:
        assert store.vocabulary() is not None
        expected = _facts(logs)
        assert _facts(store) == expected
        assert expected["meta_values"]["eu"] == ("region", "eu")  # read from the stored values
        assert "req" not in {key for key, _ in expected["meta_values"].values()}  # too many values
        assert "region" not in expected["root_only_keys"] and "user" in expected["root_only_keys"]
        assert schema_summary(_ctx(store)) == schema_summary(_ctx(logs))
        assert store.stats() == MemorySource(logs).stats()


def test_a_store_written_before_answers_and_is_backfilled(logs: pl.DataFrame, store_path: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    shutil.copyfile(store_path, old)
    _make_old(old)
    with DuckDBStore(old) as store:  # read-only: computed in SQL
        assert store.vocabulary() is None
        assert _facts(store) == _facts(logs)
        assert schema_summary(_ctx(store)) == schema_summary(_ctx(logs))
        assert store.stats() == MemorySource(logs).stats()
        assert store.count("metadata.user = 'John Smith'") == MemorySource(logs).count("metadata.user = 'John Smith'")
    upgrade_store(f"duckdb:///{old}")
    with DuckDBStore(old) as store:
        assert store.vocabulary() is not None
        assert _facts(store) == _facts(logs)
    # an import into an older store backfills it over every span, not only the new ones
    again = tmp_path / "again.duckdb"
    shutil.copyfile(store_path, again)
    _make_old(again)
    more = demo.demo_logs(20, seed=9, now=NOW)
    import_logs(more, f"duckdb:///{again}", progress=False)
    both = pl.concat([logs, more])
    with DuckDBStore(again) as store:
        con = store.engine._con
        assert has_vocab(con)
        assert _facts(store) == _facts(both)
        assert schema_summary(_ctx(store)) == schema_summary(_ctx(both))
        assert store.stats() == MemorySource(both).stats()


def test_a_kind_past_its_cap_is_asked_of_the_spans(
    logs: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vocab_module, "DEFAULT_CAP", 5)  # names, models, tags, keys: past 5 values
    path = tmp_path / "capped.duckdb"
    _import_in_parts(logs, path)
    with DuckDBStore(path) as store:
        vocab = store.vocabulary()
        assert vocab is not None and vocab.values("name") is None and vocab.values("meta_key") is None
        assert vocab.values("score_key") is not None  # 3 score keys: kept
        assert _facts(store) == _facts(logs)
        assert schema_summary(_ctx(store)) == schema_summary(_ctx(logs))


def test_root_only_keys_narrow_the_scan_not_the_answer(logs: pl.DataFrame, store_path: Path) -> None:
    memory = MemorySource(logs)
    with DuckDBStore(store_path) as store:
        assert "user" in store.engine.root_only_keys() and "region" not in store.engine.root_only_keys()
        narrowed = store.engine.where("metadata.user = 'John Smith' AND duration > 1")
        assert "is_root AND" in narrowed
        for where in (
            "metadata.user = 'John Smith'",
            "metadata.user IN ('John Smith', 'Maria Garcia') AND duration > 1",
            "metadata.user = 'John Smith' OR type = 'llm'",
            "metadata.region = 'eu'",
            "type = 'llm' AND root_span_id IN (SELECT root_span_id FROM logs WHERE metadata.user = 'John Smith')",
        ):
            assert store.count(where) == memory.count(where), where
            assert store.filter(where).equals(memory.filter(where)), where
        query = "SELECT count(*) AS n FROM logs WHERE metadata.user = 'John Smith'"
        assert store.sql(query).equals(memory.sql(query))


def test_push_root_only_adds_is_root_only_where_implied() -> None:
    keys = {"user"}
    eq = "SELECT * FROM logs WHERE JSON_EXTRACT_STRING(metadata, '$.\"user\"') = 'a' AND type = 'llm'"
    assert push_root_only(eq, keys).startswith("SELECT * FROM logs WHERE is_root AND (")
    for unchanged in (
        "SELECT * FROM logs WHERE JSON_EXTRACT_STRING(metadata, '$.\"user\"') = 'a' OR type = 'llm'",
        "SELECT * FROM logs WHERE JSON_EXTRACT_STRING(metadata, '$.\"user\"') IS NULL",
        "SELECT * FROM logs WHERE JSON_EXTRACT_STRING(metadata, '$.\"session\"') = 'a'",
        "SELECT * FROM traces WHERE JSON_EXTRACT_STRING(metadata, '$.\"user\"') = 'a'",
        "SELECT * FROM logs WHERE NOT JSON_EXTRACT_STRING(metadata, '$.\"user\"') = 'a'",
    ):
        assert push_root_only(unchanged, keys) == unchanged
    assert push_root_only(eq, set()) == eq


def _old_sample_sql(table: str, key: str, tie: str, n: int) -> str:
    """The draw before this round: whole rows ranked (the reference the narrow draw must match)."""
    draw = f"md5({key} || ':' || '0')"
    return f"""
    WITH s AS (SELECT *, {draw} AS _draw, date_trunc('day', "created") AS _day FROM {table}),
    ranked AS (SELECT *, row_number() OVER (PARTITION BY _day ORDER BY _draw, {tie}) AS _rank,
               count(*) OVER (PARTITION BY _day) AS _in_day FROM s),
    picked AS (SELECT * FROM ranked ORDER BY _rank > 1, _rank::DOUBLE / _in_day, _draw, {tie} LIMIT {n})
    SELECT {tie} FROM picked"""


@pytest.mark.parametrize("shape", ["traces", "spans"])
def test_the_narrow_sample_draws_the_rows_the_wide_one_drew(store_path: Path, shape: str) -> None:
    with DuckDBStore(store_path) as store:
        table, key, tie = (
            ("traces", "root_span_id", "root_span_id") if shape == "traces" else ("logs_rows", "id", "_row")
        )
        for n in (1, 40, 250):
            expected = store.engine._con.sql(_old_sample_sql(table, key, tie, n)).pl()
            got = store.sample(n, shape=shape, stratify_by_day=True)  # type: ignore[arg-type]
            column = "root_span_id" if shape == "traces" else "id"
            if shape == "spans":
                ids = store.engine._con.sql(
                    f"SELECT id FROM logs_rows WHERE _row IN ({', '.join(map(str, expected['_row']))})"
                ).pl()
                assert sorted(got[column].to_list()) == sorted(ids["id"].to_list())
            else:
                assert sorted(got[column].to_list()) == sorted(expected[tie].to_list())


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("common_errors", {}),
        ("slow_requests", {}),
        ("generate_filter", {"description": "John", "where": "metadata.user = 'John Smith'"}),
        ("generate_filter", {"description": "slow", "where": "duration > 20", "shape": "traces"}),
    ],
)
def test_conclusions_of_pushed_down_tools_count_every_trace_of_a_large_store(
    logs: pl.DataFrame, store_path: Path, tmp_path: Path, name: str, arguments: dict[str, Any]
) -> None:
    """The offline answer's opening sentence counted a large store's working sample ("of 20,000
    traces", drawing it first: most of the first question's time at 10M spans); it counts the store."""
    from loop_jupyter.agent.planner.conclusions import conclude
    from loop_jupyter.tools import load_all_tools

    tools = load_all_tools()
    call = {"name": name, "input": arguments}
    with DuckDBStore(store_path) as store:
        stored = ToolContext(source=store, workdir=tmp_path, sample_traces=10)
        text = conclude(call, tools[name].function(stored, **arguments).artifacts, stored)
        assert stored._working is None  # no sample drawn for the sentence
    frame = ToolContext(logs=logs, workdir=tmp_path)
    expected = conclude(call, tools[name].function(frame, **arguments).artifacts, frame)
    assert text and text == expected


def test_generate_filter_reads_the_shown_columns_of_a_store(
    logs: pl.DataFrame, store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole rows (every span's input/output text) passed the 20 s query limit at 10M spans for
    "Show me LLM spans from user John Smith"; the table and ids need a few columns."""
    from loop_jupyter.tools import load_all_tools

    tools = load_all_tools()
    whole: list[str] = []
    original = DuckDBStore.filter
    monkeypatch.setattr(DuckDBStore, "filter", lambda self, *a, **k: whole.append("filter") or original(self, *a, **k))
    where = "type = 'llm' AND root_span_id IN (SELECT root_span_id FROM logs WHERE metadata.user = 'John Smith')"
    for shape in ("spans", "traces"):
        arguments = {"description": "John's LLM spans", "where": where if shape == "spans" else "duration > 20",
                     "shape": shape}  # fmt: skip
        with DuckDBStore(store_path) as store:
            got = tools["generate_filter"].function(ToolContext(source=store, workdir=tmp_path), **arguments)
        expected = tools["generate_filter"].function(ToolContext(logs=logs, workdir=tmp_path), **arguments)
        assert not whole
        assert got.text == expected.text
        assert [a.frame.equals(b.frame) for a, b in zip(got.artifacts[1:2], expected.artifacts[1:2], strict=True)] == [
            True
        ]


def test_malformed_metadata_json_does_not_fail_an_import(tmp_path: Path) -> None:
    """DuckDB's JSON functions refuse a lone surrogate escape; the vocabulary skips such a value
    rather than rolling the import back."""
    frame = demo.demo_logs(5, seed=1, now=NOW)
    child = ~pl.col("is_root") & (pl.col("is_root").not_().cum_sum() == 1)  # the first child span
    # (a root span's metadata is parsed for the traces table's user column, and refused there already)
    frame = frame.with_columns(
        metadata=pl.when(child).then(pl.lit('{"k": "\\ud800"}')).otherwise(pl.col("metadata")),
        scores=pl.when(child).then(pl.lit('{"s": "\\ud800"}')).otherwise(pl.col("scores")),
    )
    path = tmp_path / "odd.duckdb"
    result = import_logs(frame, f"duckdb:///{path}", progress=False)
    assert result.spans_added == frame.height
    with DuckDBStore(path) as store:
        vocab = store.vocabulary()
        assert vocab is not None and "k" not in {c.value for c in vocab.values("meta_key") or []}
        assert store.stats().spans == frame.height
