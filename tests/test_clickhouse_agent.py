"""The offline agent on a chDB source answers as it does in memory (the differential of
tests/test_source_differential.py, on ClickHouse).

The demo logs (pinned clock) are written to JSONL, loaded into a frame and imported into chDB
(``import --to chdb:///``, the native schema); then ``Loop(frame)`` and ``Loop(chdb source)`` with
the offline planner get the README's and the bench's questions and must make the same tool calls
and give the same text, tables (row sets), filters (count and ids) and charts' data. ClickHouse
answers ``sum()`` of an integer column as Int64 where DuckDB gives a Decimal(38, 0): values are
compared, not types. The CLI's ``ask --logs chdb:///... --json`` must answer as ``--logs file.jsonl``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

pytest.importorskip("chdb")

import loop_jupyter as lj
from loop_jupyter.agent.scoped_code import scope_code
from loop_jupyter.agent.session import Loop
from loop_jupyter.artifacts import Chart, Code, Pending, SqlFilter, Table, TraceView
from loop_jupyter.clickhouse import ClickHouseLogs
from loop_jupyter.clickhouse.dialect import translate
from loop_jupyter.demo import write_demo_jsonl

from . import clickhouse_tables as ct

ROOT = Path(__file__).resolve().parents[1]
NOW, N_TRACES = ct.DEMO_NOW, ct.DEMO_TRACES  # the demo logs of the session's chDB database
#: The README's questions and the bench's (bench/bench_context.py), none relative to the clock.
QUESTIONS = [
    "What are the most common errors?",
    "Find requests that took longer than 20 seconds",
    "total tokens by model",
    "Only LLM spans",
    "Show me traces where users were frustrated",
    "rank tools by blast radius",
    "Show me LLM spans from user John Smith",
    "Which traces took longer than 60 seconds?",
    "How many tokens did each model use?",
    "logs where factuality score is less than 0.5",
    "What patterns do you see in high-latency requests?",
    "Describe the logs",
]
#: The README's questions about one trace (the explorer's scoped chat).
SCOPED = ["Summarize this trace", "where was the time spent?", "explain the tool calls"]


@pytest.fixture(scope="module")
def pair(chdb_tables: tuple[str, dict[str, pl.DataFrame], dict[str, int]]):
    """The session's chDB database (tests/conftest.py ``chdb_tables``): its ``loop_spans`` holds the
    demo logs (N_TRACES, seed 0, NOW) written by ``import --to chdb:///``; the frame is the file loaded."""
    path, frames, _counts = chdb_tables
    frame = frames["demo"]
    assert frame["root_span_id"].n_unique() == N_TRACES
    # A generous time limit: chDB plans slowly on a loaded 2-core machine.
    source = lj.connect(f"chdb:///{path}", timeout_s=300)
    assert isinstance(source, ClickHouseLogs) and source.schema_name == "native"
    yield frame, source
    source.close()


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return float(f"{value:.9g}")
    return value


def _rows(frame: pl.DataFrame) -> list[str]:
    """A table's rows as a set, Decimal sums as numbers, floats to 9 significant digits."""
    return sorted(repr(tuple(_value(v) for v in row)) for row in frame.rows())


def _figure_data(figure: Any) -> str:
    data = figure.to_plotly_json().get("data", [])
    return json.dumps(data, sort_keys=True, default=lambda v: _value(v) if isinstance(v, Decimal) else str(v))


def _comparable(artifact: Any) -> Any:
    if isinstance(artifact, Table):
        return ("table", artifact.title, artifact.frame.columns, _rows(artifact.frame))
    if isinstance(artifact, SqlFilter):
        return ("filter", artifact.sql, artifact.shape, artifact.count, sorted(artifact.ids))
    if isinstance(artifact, Chart):
        return ("chart", artifact.title, _figure_data(artifact.figure))
    if isinstance(artifact, Code):
        return ("code", artifact.source)
    if isinstance(artifact, TraceView):
        return ("trace", artifact.root_span_id, artifact.title)
    if isinstance(artifact, Pending):
        return ("pending", artifact.description, artifact.preview)
    return (type(artifact).__name__, artifact.title)


def _same_answer(got: Any, expected: Any, question: str) -> None:
    assert expected.error is None, (question, expected.error)
    assert got.error is None, (question, got.error)
    assert [c["name"] for c in got.tool_calls] == [c["name"] for c in expected.tool_calls], question
    assert [c.get("input") for c in got.tool_calls] == [c.get("input") for c in expected.tool_calls], question
    assert got.text == expected.text, question
    assert [_comparable(a) for a in got.artifacts] == [_comparable(a) for a in expected.artifacts], question


def test_questions_answer_the_same_on_chdb_and_in_memory(pair, tmp_path: Path) -> None:
    frame, source = pair
    on_frame = Loop(frame, model="offline", workdir=tmp_path / "frame")
    on_chdb = Loop(source, model="offline", workdir=tmp_path / "chdb")
    try:
        assert on_chdb.context().pushdown
        for question in QUESTIONS:
            expected, got = on_frame.ask(question), on_chdb.ask(question)
            assert expected.tool_calls, question  # the planner answered with tools, not a refusal
            _same_answer(got, expected, question)
        # A clarification lists the score keys (the planner's vocabulary, read by SQL): same order.
        expected, got = on_frame.ask("logs where score is below 0.5"), on_chdb.ask("logs where score is below 0.5")
        assert "Name one of: Factuality, helpfulness, tool_call_success" in expected.text
        _same_answer(got, expected, "logs where score is below 0.5")
    finally:
        on_frame.close()
        on_chdb.close()


def test_trace_scoped_questions_answer_the_same(pair, tmp_path: Path) -> None:
    frame, source = pair
    root = frame.group_by("root_span_id").len().sort(["len", "root_span_id"], descending=[True, False]).row(0)[0]
    on_frame = Loop(frame, model="offline", workdir=tmp_path / "frame")
    on_chdb = Loop(source, model="offline", workdir=tmp_path / "chdb")
    try:
        for loop in (on_frame, on_chdb):
            loop.scope_trace(root)
        for question in SCOPED:
            expected, got = on_frame.ask(question), on_chdb.ask(question)
            assert expected.tool_calls and root in json.dumps([c.get("input") for c in expected.tool_calls]), question
            # Reproduce cells read the trace's spans for logs in memory only (agent/scoped_code.py):
            # the frame's cells are the store's, scoped.
            scope_code(got.artifacts, root)
            _same_answer(got, expected, question)
    finally:
        on_frame.close()
        on_chdb.close()


def test_planner_vocabulary_sql_gives_duckdbs_answers(pair) -> None:
    """json_keys / json_type / unnest (the planner's vocabulary SQL) as DuckDB answers them,
    including json_type's NULL for a missing key and 'UBIGINT' / 'BIGINT' for integers; and
    rewrites inside rewritten functions (``median(scores.x)``, ``len(metadata.user)``)."""
    frame, source = pair
    memory = lj.sources.MemorySource(frame)
    queries = [
        "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs WHERE json_type(metadata) = 'OBJECT'",
        "SELECT DISTINCT unnest(json_keys(scores)) AS k FROM logs WHERE is_root AND json_type(scores) = 'OBJECT'",
        "SELECT json_type(metadata, '$.user') AS t, count(*) AS n FROM logs GROUP BY 1",
        "SELECT json_type(metrics, '$.tokens') AS t, json_type(scores) AS s, count(*) AS n FROM logs GROUP BY 1, 2",
        "SELECT count(*) AS n FROM logs WHERE json_type(metadata, '$.no_such_key') IS NULL",
        "SELECT " + ", ".join(f"json_type(j, '$.{k}') AS {k}" for k in "abcdefg") + ", json_type(j) AS j_type "
        'FROM (SELECT \'{"a": -3, "b": 2, "c": null, "d": [1], "e": true, "f": 1.5}\' AS j)',
        "SELECT len(json_keys(scores)) AS n, count(*) AS c FROM logs WHERE scores IS NOT NULL GROUP BY 1",
        "SELECT DISTINCT unnest(tags) AS t FROM logs WHERE NOT is_root",
        # Arguments of a rewritten function are rewritten too (sqlglot's transform skips them).
        "SELECT median(scores.Factuality) AS m, max(len(metadata.user)) AS n FROM logs",
    ]
    for query in queries:
        assert _rows(source.sql(query)) == _rows(memory.sql(query)), query


def test_json_type_with_a_computed_path_is_refused_not_mistranslated() -> None:
    with pytest.raises(lj.engine.QueryError, match="constant path"):
        translate("SELECT json_type(metadata, name) FROM logs", {"logs", "traces"})


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "loop_jupyter", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


def test_cli_ask_on_chdb_answers_as_on_the_file(tmp_path: Path) -> None:
    write_demo_jsonl(tmp_path / "demo.jsonl", 60, seed=1, now=NOW)
    done = _cli("import", "demo.jsonl", "--to", f"chdb:///{tmp_path}/db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for question in ("total tokens by model", "What are the most common errors?"):
        on_file = _cli("ask", question, "--logs", str(tmp_path / "demo.jsonl"), "--json", cwd=tmp_path)
        on_chdb = _cli("ask", question, "--logs", f"chdb:///{tmp_path}/db", "--json", cwd=tmp_path)
        assert on_file.returncode == 0, on_file.stderr
        assert on_chdb.returncode == 0, on_chdb.stderr
        expected, got = json.loads(on_file.stdout), json.loads(on_chdb.stdout)
        assert expected.get("error") is None and got.get("error") is None, (expected.get("error"), got.get("error"))
        assert re.sub(r"\s+", " ", got["text"]) == re.sub(r"\s+", " ", expected["text"]), question
        assert expected["text"].strip()


def test_a_refused_vocabulary_scan_leaves_the_question_answered(pair, tmp_path: Path, monkeypatch) -> None:
    """On a large OTel table ClickHouse's per-query memory limit refused the planner's metadata-key
    scan, and "What are the most common errors?" ended in an internal error. The planner now plans
    from the scans that answered: the same tool runs and answers as on the frame."""
    from loop_jupyter.sql_guard import QueryError

    frame, source = pair
    answer_sql = source.sql

    def refusing(query: str, *args: Any, **kwargs: Any) -> Any:
        if "json_keys(metadata)" in query:
            raise QueryError("query failed: Code: 241. DB::Exception: Query memory limit exceeded", query)
        return answer_sql(query, *args, **kwargs)

    monkeypatch.setattr(source, "sql", refusing)
    on_frame = Loop(frame, model="offline", workdir=tmp_path / "frame")
    on_chdb = Loop(source, model="offline", workdir=tmp_path / "chdb")
    try:
        question = "What are the most common errors?"
        expected, got = on_frame.ask(question), on_chdb.ask(question)
        assert got.error is None and [c["name"] for c in got.tool_calls] == ["common_errors"], got.text[:300]
        _same_answer(got, expected, question)
    finally:
        on_frame.close()
        on_chdb.close()
