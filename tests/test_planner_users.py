"""The offline planner on users and other trace-level attributes, on the demo logs.

Names of several words are read whole from the values present in the logs ("From user John Smith",
the Loop documentation's example filter), and a span filter on an attribute recorded on root spans
only (the demo's user and tags) reaches the spans of those traces, and the answer says so. Expected
rows are computed here with Polars, not with the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter.agent.planner import plan
from loop_jupyter.agent.session import Loop, load_tools
from loop_jupyter.core_tools import generate_filter
from loop_jupyter.demo import demo_logs
from loop_jupyter.tools import ToolContext

load_tools()
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # as tests/test_demo.py: the frame is the same on every run


@pytest.fixture(scope="module")
def demo() -> pl.DataFrame:
    return demo_logs(2000, seed=0, now=NOW)


def root_meta(logs: pl.DataFrame, key: str) -> pl.DataFrame:
    return logs.filter(pl.col("is_root")).select(
        "root_span_id", value=pl.col("metadata").str.json_path_match(f"$.{key}")
    )


def spans_of_user(logs: pl.DataFrame, user: str) -> pl.DataFrame:
    roots = root_meta(logs, "user").filter(pl.col("value") == user)["root_span_id"]
    return logs.filter(pl.col("root_span_id").is_in(roots.implode()))


def filter_ids(question: str, logs: pl.DataFrame) -> tuple[set[str], dict]:
    ctx = ToolContext(logs=logs)
    planned = plan(question, ctx)
    assert not planned.message, planned.message
    assert [c["name"] for c in planned.tool_calls] == ["generate_filter"], planned.tool_calls
    call = planned.tool_calls[0]["input"]
    result = generate_filter(ctx, **call)
    assert not result.is_error, result.text
    return set(result.artifacts[0].ids), call


def test_demo_records_the_user_on_root_spans_only(demo: pl.DataFrame) -> None:
    """The premise of the cases below, checked on the frame itself."""
    user = pl.col("metadata").str.json_path_match("$.user")
    assert demo.filter(~pl.col("is_root") & user.is_not_null()).height == 0
    assert demo.filter(pl.col("is_root") & user.is_not_null()).height == demo.filter(pl.col("is_root")).height


@pytest.mark.parametrize("question", ["From user John Smith", "from user john smith", "spans from user John Smith"])
def test_from_user_john_smith(demo: pl.DataFrame, question: str) -> None:
    ids, call = filter_ids(question, demo)
    want = set(spans_of_user(demo, "John Smith")["id"])
    assert want and ids == want
    assert call["shape"] == "spans"


def test_every_multi_word_user_of_the_demo_is_read_whole(demo: pl.DataFrame) -> None:
    """Every user name of several words in the demo ("Maria Garcia", "Fatima Al-Sayed", ...)."""
    users = sorted(set(root_meta(demo, "user")["value"].drop_nulls()))
    several = [u for u in users if " " in u]
    assert len(several) >= 20, users
    for user in several:
        ids, _ = filter_ids(f"From user {user}", demo)
        assert ids == set(spans_of_user(demo, user)["id"]), user


def test_a_name_that_starts_like_a_user_is_not_read_as_one(demo: pl.DataFrame) -> None:
    """The whole value must be there: "John Smithson" is no user of the demo."""
    planned = plan("From user John Smithson", ToolContext(logs=demo))
    assert planned.tool_calls == []
    assert "Smithson" in planned.message


def test_llm_spans_from_john_smith_reach_the_spans_of_his_traces(demo: pl.DataFrame) -> None:
    ids, call = filter_ids("LLM spans from John Smith", demo)
    want = set(spans_of_user(demo, "John Smith").filter(pl.col("type") == "llm")["id"])
    assert len(want) > 100 and ids == want
    assert "root_span_id IN (SELECT root_span_id FROM logs WHERE metadata.user = 'John Smith')" in call["where"]


def test_traces_from_a_user_stay_a_traces_view_condition(demo: pl.DataFrame) -> None:
    ids, call = filter_ids("traces from user Maria Garcia", demo)
    assert call["shape"] == "traces" and call["where"] == "\"user\" = 'Maria Garcia'"
    assert ids == set(root_meta(demo, "user").filter(pl.col("value") == "Maria Garcia")["root_span_id"])


def test_llm_spans_with_a_root_only_tag_reach_the_trace(demo: pl.DataFrame) -> None:
    tagged = demo.filter(pl.col("tags").list.contains("staging"))
    assert tagged.height and tagged["is_root"].all(), "the demo tags root spans only"
    ids, _ = filter_ids("llm spans tagged staging", demo)
    want = set(
        demo.filter(pl.col("root_span_id").is_in(tagged["root_span_id"].implode()) & (pl.col("type") == "llm"))["id"]
    )
    assert want and ids == want


def test_the_answer_says_the_filter_reached_the_traces(demo: pl.DataFrame, tmp_path) -> None:
    loop = Loop(demo, model="offline", workdir=tmp_path)
    answer = loop.ask("LLM spans from John Smith")
    count = spans_of_user(demo, "John Smith").filter(pl.col("type") == "llm").height
    assert f"{count:,} spans match" in answer.text
    assert "every span of the traces with user John Smith (recorded on root spans only)" in answer.text
    # A traces question needs no such note.
    assert "recorded on root spans only" not in loop.ask("traces from user John Smith").text
