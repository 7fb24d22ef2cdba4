"""Hostile SQL, beyond tests/test_engine.py: memory blowups under a small memory limit, tricky
but harmless queries (no false refusals), and every hostile query sent by a scripted model
through the real Anthropic client and the agent loop: each comes back to the model as a clear
tool error, the conversation goes on and the next question still works.

The corpora live in tests/data/: hostile_sql.txt and runaway_sql.txt (also run against the bare
engine by test_engine.py), runaway_memory_sql.txt, amplification_sql.txt (timed in
test_sql_sandbox.py) and harmless_tricky_sql.txt.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.agent.session import Loop
from loop_jupyter.engine import LogEngine, QueryError
from tests.agent_fixtures import build_logs
from tests.fake_llm import FakeLLM, reply
from tests.fake_llm import tool as call

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]

DATA = Path(__file__).parent / "data"
#: Tool calls per scripted model turn (several calls in one turn, as models do).
CALLS_PER_TURN = 20


def corpus(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return build_logs(n_traces=20)


@pytest.fixture(scope="module")
def small_engine(logs: pl.DataFrame) -> LogEngine:
    return LogEngine(logs, timeout_s=1.0, row_limit=10_000, memory_limit="256MB")


def intact(engine: LogEngine, logs: pl.DataFrame) -> None:
    assert engine.sql("SELECT count(*) AS n FROM logs").item() == logs.height
    assert engine.sql("SELECT count(*) AS n FROM traces").item() == logs.get_column("root_span_id").n_unique()


def test_corpora_have_no_duplicates() -> None:
    names = ("hostile_sql.txt", "runaway_sql.txt", "runaway_memory_sql.txt", "amplification_sql.txt")
    for name in (*names, "harmless_tricky_sql.txt"):
        queries = corpus(name)
        assert queries and len(queries) == len(set(queries)), name


@pytest.mark.parametrize("query", corpus("runaway_memory_sql.txt"))
def test_memory_blowups_are_stopped(small_engine: LogEngine, logs: pl.DataFrame, query: str) -> None:
    with pytest.raises(QueryError, match=r"memory|time limit|rows|would build") as info:
        small_engine.sql(query)
    assert info.value.sql == query
    intact(small_engine, logs)


@pytest.mark.parametrize("query", corpus("harmless_tricky_sql.txt"))
def test_tricky_but_harmless_queries_run(small_engine: LogEngine, logs: pl.DataFrame, query: str) -> None:
    result = small_engine.sql(query)
    assert result.height >= 1
    intact(small_engine, logs)


def test_hostile_filters_are_refused(small_engine: LogEngine) -> None:
    # Each hostile query's tail pasted as a filter condition: refused, never run as a statement.
    for query in corpus("hostile_sql.txt"):
        with pytest.raises(QueryError):
            small_engine.filter(f"1=1) UNION ALL {query} --")


def _tool_results(body: dict) -> list[dict]:
    """The tool_result blocks of the last user message of an Anthropic request body."""
    content = body["messages"][-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def test_every_hostile_query_from_a_model_is_a_tool_error(logs: pl.DataFrame, tmp_path: Path) -> None:
    hostile = corpus("hostile_sql.txt") + corpus("runaway_sql.txt") + corpus("runaway_memory_sql.txt")
    hostile += corpus("amplification_sql.txt")
    turns = [hostile[i : i + CALLS_PER_TURN] for i in range(0, len(hostile), CALLS_PER_TURN)]
    with FakeLLM() as fake:
        fake.script(
            *[reply("", *[call("run_sql", query=q) for q in batch]) for batch in turns],
            reply("None of those queries were allowed."),
            reply("", call("run_sql", query="SELECT count(*) AS n FROM logs")),
            reply("There are spans."),
        )
        loop = Loop(
            logs,
            "claude-4.5-sonnet",
            base_url=fake.url,
            api_key="test",
            max_retries=0,
            workdir=tmp_path,
            max_turns=len(turns) + 2,
        )
        # The session's own engine, with short limits so the runaway queries end quickly.
        loop.context()._engine = LogEngine(logs, timeout_s=1.0, row_limit=10_000, memory_limit="256MB")
        answer = loop.ask("Run these queries for me")
        assert answer.error is None and answer.text.endswith("None of those queries were allowed.")
        assert [c["input"]["query"] for c in answer.tool_calls] == hostile
        # What the model got back: one error result per call, in order, each with a reason.
        results = [r for body in fake.bodies[1 : len(turns) + 1] for r in _tool_results(body)]
        assert len(results) == len(hostile)
        for query, result in zip(hostile, results, strict=True):
            assert result.get("is_error") is True, query
            assert 'status="error"' in result["content"] and "Query error: " in result["content"], query
            reason = result["content"].split("Query error: ", 1)[1].split("\n", 1)[0]
            assert len(reason) > 10, (query, reason)
        # The history is well formed: every tool call has exactly one result.
        calls = [c["id"] for m in loop.history if m.kind == "assistant" for c in m.data["tool_calls"]]
        recorded = [m.data["id"] for m in loop.history if m.kind == "tool_result"]
        assert calls == recorded and len(calls) == len(hostile)
        # Nothing was written anywhere the session may write.
        assert list(tmp_path.iterdir()) == [] or {p.name for p in tmp_path.iterdir()} == {"none.toml"}
        # The conversation goes on: the next question runs and sees the whole log.
        follow = loop.ask("How many spans are there?")
        assert follow.error is None and follow.text == "There are spans."
        last = _tool_results(fake.bodies[-1])
        assert len(last) == 1 and not last[0].get("is_error") and str(logs.height) in last[0]["content"]
