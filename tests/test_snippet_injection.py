"""Reproduce snippets are code a person runs: values a model chose must land in them as literals.

Every registered tool is called with hostile values in each of its parameters (a model steered by a
log line chooses them); every snippet it returns is compiled and run in a cell-like namespace, and
the payloads, which write a marker file if they ever execute, must not.
"""

from __future__ import annotations

import ast
import contextlib
import io
from typing import Any

import polars as pl
import pytest

from loop_jupyter import embeddings
from loop_jupyter.analysis.scorers import create_scorer
from loop_jupyter.analysis.trace import summarize_trace, trace_view
from loop_jupyter.artifacts import Code, Pending, Scorer, SqlFilter, Table, TraceView
from loop_jupyter.snippet import keyword_args, literal
from loop_jupyter.tools import ToolContext, load_all_tools
from loop_jupyter.tools.core import generate_filter, read_field, run_sql
from tests._analysis_logs import run_code

#: Names a snippet never needs; a payload that escapes its literal calls them.
FORBIDDEN_NAMES = {"open", "__import__", "exec", "eval", "compile", "getattr", "globals"}


#: Parameters that take SQL: a payload inside a SQL string literal is valid SQL.
SQL_PARAMETERS = {
    "where": "coalesce(input, '') <> '{}'",
    "query": "SELECT count(*) AS n FROM logs WHERE coalesce(input, '') <> '{}'",
    "sql": "SELECT * FROM logs WHERE coalesce(input, '') <> '{}'",
}


def payloads(mark: str) -> list[str]:
    write = f"open({mark!r}, 'w').write('p')"
    return [
        f'"); {write}; ("',
        f"'); {write}; ('",
        f'"+str({write})+"',
        f"'+str({write})+'",
        f"x' OR id = '\"+str({write})+\"",
        f"'''); {write}; ('''",
        f'"""); {write}; ("""',
        f"x\n__import__('builtins').{write}\n",
        f"x\\'); {write}; #",
        "trailing backslash \\",
        "nul\x00 line\u2028sep para\u2029 nel\x85 half\ud83d emoji\U0001f600",
    ]


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    from datetime import UTC, datetime

    from loop_jupyter.demo import demo_logs

    # Pinned: 30 traces of the clock's demo may hold no context overflow (its rows shift with now).
    return demo_logs(n_traces=30, seed=0, now=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def cell(tmp_path, monkeypatch):
    """A notebook-like working directory with a saved scorer ``s1``; returns (ctx, marker path)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOP_JUPYTER_CACHE", str(tmp_path / "cache"))
    embeddings._MEMORY.clear()
    return tmp_path / "pwned"


def _ctx(logs: pl.DataFrame, workdir) -> ToolContext:
    ctx = ToolContext(logs=logs, workdir=workdir)
    pending = create_scorer(ctx, name="s1", kind="code", pattern="error").first(Pending)
    pending.action()
    return ctx


def _benign(logs: pl.DataFrame) -> dict[str, dict[str, Any]]:
    span_id = logs.get_column("id")[1]
    root = logs.get_column("root_span_id")[0]
    return {
        "run_sql": {"query": "SELECT type, count(*) AS n FROM logs GROUP BY type ORDER BY type"},
        "generate_filter": {"description": "errors", "where": "error IS NOT NULL"},
        "read_field": {"span_id": span_id, "field": "input", "offset": 3, "length": 50},
        "grep_field": {"pattern": "the"},
        "search_docs": {"question": "how do I load OTLP logs?"},
        "summarize_trace": {"root_span_id": root},
        "trace_view": {"root_span_id": root, "view": "waterfall"},
        "similar_traces": {"trace_ids": [root]},
        "create_dataset": {"name": "ds", "where": "true"},
        "create_scorer": {"name": "s2", "pattern": "timeout"},
        "run_scorer": {"name_or_path": "s1"},
        "root_causes": {"where": "has_error"},
        "annotate": {"label": "needs review", "span_id": root},
    }


def _snippets(result: Any) -> list[str]:
    return [a.source for a in result.artifacts if isinstance(a, Code | Scorer)]


def _check(source: str, mark, logs: pl.DataFrame) -> None:
    tree = ast.parse(source)  # a value that broke out of its literal would most often not parse
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & FORBIDDEN_NAMES, source
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(tree, "<snippet>", "exec"), {"logs": logs})
    except Exception:
        pass
    assert not mark.exists(), source


def test_every_tool_quotes_hostile_values_in_its_snippets(logs, cell) -> None:
    ctx = _ctx(logs, cell.parent)
    benign = _benign(logs)
    checked: dict[str, int] = {}
    for name, spec in sorted(load_all_tools().items()):
        for parameter, schema in spec.parameters["properties"].items():
            for payload in payloads(str(cell)):
                value = [payload] if schema.get("type") == "array" else payload
                if parameter in SQL_PARAMETERS:  # also as valid SQL: the tool then runs it and emits code
                    value = SQL_PARAMETERS[parameter].format(payload.replace("'", "''"))
                kwargs = {**benign.get(name, {}), parameter: value}
                try:
                    result = spec.function(ctx, **kwargs)
                except Exception:
                    continue
                for source in _snippets(result):
                    _check(source, cell, logs)
                    checked[name] = checked.get(name, 0) + 1
    # The tools that take a free value a model chooses all produced snippets that were checked.
    for name in ("run_sql", "generate_filter", "read_field", "grep_field", "search_docs",
                 "similar_traces", "create_dataset", "run_scorer", "common_errors",
                 "classify_intents", "non_english_traces", "root_causes", "trace_view"):  # fmt: skip
        assert checked.get(name), f"{name} produced no snippet to check: {checked}"


def test_well_formed_values_give_snippets_that_run(logs, cell) -> None:
    ctx = _ctx(logs, cell.parent)
    benign = _benign(logs)
    for name, spec in sorted(load_all_tools().items()):
        result = spec.function(ctx, **benign.get(name, {}))
        assert not result.is_error, (name, result.text)
        if result.first(Pending) is not None:  # a proposal's snippet runs what it saved: confirm it first
            result.first(Pending).action()
        for source in [a.source for a in result.artifacts if isinstance(a, Code)]:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(source, {"logs": logs})
            except Exception as exc:
                raise AssertionError(f"the snippet of {name} does not run:\n{source}") from exc
    assert not cell.exists()


def test_snippets_reproduce_the_result_for_hostile_but_valid_values(logs, cell) -> None:
    ctx = ToolContext(logs=logs, workdir=cell.parent)
    # A span id with quotes, backslashes and a newline: the snippet finds the same span.
    odd_id = "a'b\"c\\d\n'''e"
    odd = logs.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit(odd_id)).otherwise(pl.col("id")).alias("id")
    )
    odd_ctx = ToolContext(logs=odd, workdir=cell.parent)
    result = read_field(odd_ctx, odd_id, "input", offset=2, length=40)
    assert not result.is_error, result.text
    assert run_code(result.first(Code).source, odd) == result.text
    root = logs.get_column("root_span_id")[0]
    odd = logs.with_columns(pl.col("root_span_id").replace(root, odd_id))
    odd_ctx = ToolContext(logs=odd, workdir=cell.parent)
    result = summarize_trace(odd_ctx, odd_id)
    assert not result.is_error, result.text
    assert run_code(result.first(Code).source, odd) == result.text
    result = trace_view(odd_ctx, odd_id, view="errors")
    assert not result.is_error, result.text
    assert run_code(result.first(Code).source, odd).html == result.first(TraceView).html
    text = "it's a \"quote\" \\ and '''"
    query = "SELECT " + "'" + text.replace("'", "''") + "' AS t"
    result = run_sql(ctx, query)
    assert run_code(result.first(Code).source, logs).equals(result.first(Table).frame)
    assert result.first(Table).frame.item() == text
    where = "coalesce(input, '') NOT LIKE '%it''s \"q\" \\ \n%'"
    result = generate_filter(ctx, "odd", where)
    assert not result.is_error, result.text
    count = result.first(SqlFilter).count
    assert count > 0 and run_code(result.first(Code).source, logs).height == count
    assert not cell.exists()


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "quote ' and \" and ''' and \"\"\"",
        "back\\slash\\",
        "nul\x00\u2028\u2029\x85\ud83d\U0001f600",
        -3,
        2.5,
        float("inf"),
        float("nan"),
        True,
        None,
        ["a'", ("b", 1), {"k'": [None, False]}],
        ("one",),
    ],
)
def test_literal_evaluates_back_to_the_value(value) -> None:
    back = eval(literal(value), {})
    if isinstance(value, float) and value != value:
        assert back != back
    else:
        assert back == value and type(back) is type(value)


def test_literal_never_uses_a_subclass_repr() -> None:
    class Sneaky(str):
        def __repr__(self) -> str:
            return "__import__('os')"

    assert eval(literal(Sneaky("x")), {}) == "x"
    assert keyword_args({"a": 1, "b": None, "c": "x'"}) == 'a=1, c="x\'"'
    with pytest.raises(ValueError):
        keyword_args({"a=1); import os; (": 1})


def test_an_empty_answer_gives_a_snippet_that_runs(logs, cell) -> None:
    """No trace over the threshold: the snippet must still run (it once read `.first(Table)` of nothing)."""
    from loop_jupyter.analysis.latency import slow_requests

    result = slow_requests(_ctx(logs, cell.parent), threshold_s=1e9)
    assert result.first(Table) is None
    (source,) = [a.source for a in result.artifacts if isinstance(a, Code)]
    namespace: dict[str, Any] = {"logs": logs}
    exec(compile(source, "<snippet>", "exec"), namespace)
    assert "No trace takes over" in eval(source.splitlines()[-1], namespace)
