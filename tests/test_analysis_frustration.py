from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.analysis import frustration
from loop_jupyter.analysis.frustration import frustrated_users, message_signals
from loop_jupyter.artifacts import Code, SqlFilter, Table
from loop_jupyter.engine import engine_for

from ._analysis_logs import demo, frame, run_code, span  # noqa: F401

CHATS = {
    # string input, claimed-done complaint
    "claimed": {
        "messages": [
            {"role": "user", "content": "deploy the app to staging"},
            {"role": "assistant", "content": "Done!"},
            {"role": "user", "content": "You said it was done but nothing is deployed"},
        ]
    },
    # a list of chat messages asking the same thing twice
    "repeat": [
        {"role": "user", "content": "export my monthly report as pdf please"},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": [{"type": "text", "text": "export my monthly report as a pdf please"}]},
    ],
    "shout": "THIS IS STILL NOT WORKING!!!",
    "wrong": "this is wrong, wtf",
    # one weak signal only: not frustrated
    "excited": "Great, thanks!!",
    # "wrong" in a neutral question: not frustrated
    "question": "What's wrong with my SQL query? It returns no rows.",
    "plain": "How do I reset my password?",
    "feedback": "ok",
}


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    events = [
        span(
            name,
            name,
            input=text,
            metadata={"user": "u1" if name in ("shout", "wrong") else "u2"},
            scores={"user_feedback": 0.0, "Factuality": 0.1} if name == "feedback" else {"Factuality": 0.0},
        )
        for name, text in CHATS.items()
    ]
    return frame(events)


def test_scores_and_signals(logs: pl.DataFrame) -> None:
    result = frustrated_users(logs)
    table = result.first(Table).frame
    scores = dict(table.select("root_span_id", "score").iter_rows())
    assert scores == {"shout": 4.5, "wrong": 4.0, "claimed": 3.0, "feedback": 3.0, "repeat": 2.0}
    signals = dict(table.select("root_span_id", "signals").iter_rows())
    assert signals["shout"] == ["still not working", "ALL CAPS", "many exclamation marks"]
    assert signals["feedback"] == ["negative feedback (user_feedback)"]  # Factuality is not feedback
    assert table["root_span_id"][0] == "shout"
    users = result.frames[1]
    assert dict(users.select("user", "frustrated_traces").iter_rows()) == {"u1": 2, "u2": 3}
    sql = result.first(SqlFilter)
    assert engine_for(logs).count(sql.sql, shape="traces") == 5
    assert run_code(result.first(Code).source, logs).equals(table)


def test_single_weak_signal_is_not_enough() -> None:
    assert sum(message_signals(["Great, thanks!!"]).values()) < 2
    assert message_signals(["What's wrong with my SQL query?"]) == {}
    assert frustration.repeated_asks(["a b c d", "something else entirely", "a b c d"]) == 1


def test_demo_rate_close_to_generated(demo: pl.DataFrame) -> None:  # noqa: F811
    from loop_jupyter import demo as demo_module

    table = frustrated_users(demo, limit=100_000).first(Table).frame
    n = demo.filter(pl.col("is_root")).height
    # Frustration is planted in FRUSTRATED_RATE of traces; negative feedback and repeats add a few.
    assert 0.7 * demo_module.FRUSTRATED_RATE * n <= table.height <= 1.6 * demo_module.FRUSTRATED_RATE * n
    caps = demo.filter(pl.col("is_root") & pl.col("input").str.contains(r"[A-Z]{4,} [A-Z]{4,} [A-Z]{3,}"))
    flagged = set(table["root_span_id"])
    assert len(set(caps["root_span_id"]) & flagged) >= 0.9 * caps.height
