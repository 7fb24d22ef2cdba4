"""A chat scoped to one trace (the explorer's ✦) answers about that trace's spans, and the code it hands
back must reproduce that: "save the error traces as a dataset" proposed 0 rows (the trace had no errors)
while its "Reproduce" cell, run in the notebook, proposed all 800-odd error traces."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.agent.scoped_code import scope_code
from loop_jupyter.artifacts import Code, Pending

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return lj.demo_logs(n_traces=300, seed=7, now=NOW)


def _codes(answer) -> list[Code]:
    return [a for a in answer.artifacts if isinstance(a, Code) and a.language == "python"]


def test_a_scoped_dataset_cell_proposes_what_the_answer_proposed(
    logs: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    clean = lj.traces(logs).filter(pl.col("error_count") == 0)["root_span_id"][0]
    loop = lj.Loop(logs, workdir=tmp_path)
    loop.scope = clean
    answer = loop.ask("save the error traces as a dataset")
    (pending,) = [a for a in answer.artifacts if isinstance(a, Pending)]
    assert "0 rows" in pending.description
    (code,) = _codes(answer)
    namespace: dict = {"logs": logs}
    proposal = code.source.split("pending.action()")[0]  # up to the write: nothing is written
    exec(proposal, namespace)
    assert namespace["pending"].description == pending.description
    assert namespace["logs"] is logs  # the notebook's logs are left as they are
    assert not list(tmp_path.rglob("*.parquet"))


def test_unscoped_code_is_unchanged(logs: pl.DataFrame, tmp_path: Path) -> None:
    loop = lj.Loop(logs, workdir=tmp_path)
    answer = loop.ask("What are the most common errors?")
    assert _codes(answer) and not any("trace_logs" in c.source for c in _codes(answer))


def test_only_the_python_name_logs_is_renamed() -> None:
    source = 'import loop_jupyter as lj\n\nresult = lj.sql(logs, "SELECT count(*) FROM logs")  # logs\nresult'
    code, sql, other = Code(source), Code("SELECT * FROM logs", "sql"), Code("lj.demo_logs()")
    scope_code([code, sql, other], "abc'd")
    assert 'lj.sql(trace_logs, "SELECT count(*) FROM logs")  # logs' in code.source
    assert 'trace_logs = logs.filter(pl.col("root_span_id") == "abc\'d")' in code.source
    assert sql.source == "SELECT * FROM logs" and other.source == "lj.demo_logs()"
    frame = pl.DataFrame({"root_span_id": ["abc'd", "x"], "n": [1, 2]})
    namespace: dict = {"logs": frame, "lj": lj}
    runnable = code.source.replace("lj.sql", "(lambda frame, query: frame)")
    exec(runnable, namespace)
    assert namespace["result"].height == 1
