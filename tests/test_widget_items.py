"""Issue 14's widget items, Python side, with the offline planner on the demo logs: one card per
action, Generate with the user's words, a trace scope that holds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter.agent.session import Loop
from loop_jupyter.demo import demo_logs
from loop_jupyter.widgets.chat import ChatWidget
from loop_jupyter.widgets.explorer import TraceExplorer
from loop_jupyter.widgets.messages import MODEL_NOTES


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo_logs(n_traces=300, seed=5)


def _chat(logs: pl.DataFrame, workdir: Path, **kwargs: Any) -> ChatWidget:
    chat = ChatWidget(Loop(logs, model="offline", workdir=workdir, **kwargs))
    chat.threaded = False
    sent: list[dict[str, Any]] = []
    chat.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    chat.sent = sent  # type: ignore[attr-defined]
    return chat


def _run(chat: ChatWidget, question: str) -> tuple[str, list[dict[str, Any]]]:
    reply, _ = chat.handle({"id": 1, "type": "ask", "text": question})
    chat.loop.wait(reply["run_id"], timeout=60)
    return reply["run_id"], [m for m in chat.sent if m.get("run_id") == reply["run_id"]]


def _cards(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["artifact"]["kind"] for e in events if e["event"] in ("artifact", "confirmation")]


def _shown(text: str) -> str:
    for pattern in MODEL_NOTES:
        text = re.sub(pattern, "", text)
    return text


def test_auto_accepted_dataset_shows_each_card_once(logs: pl.DataFrame, tmp_path: Path) -> None:
    chat = _chat(logs, tmp_path, auto_accept=True)
    _, events = _run(chat, "save a dataset of slow traces")
    assert sorted(_cards(events)) == ["code", "dataset", "table"]
    done = next(e for e in events if e["event"] == "done")["data"]["text"]
    assert "Auto-accepted" in done  # what the planner echoes ...
    assert "Auto-accepted" not in _shown(done) and "Waiting for the user" not in _shown(done)  # ... not shown
    chat.loop.close()


def test_confirmed_dataset_adds_the_dataset_not_a_second_code_card(logs: pl.DataFrame, tmp_path: Path) -> None:
    chat = _chat(logs, tmp_path)
    run_id, events = _run(chat, "save a dataset of slow traces")
    assert sorted(_cards(events)) == ["code", "confirmation", "table"]
    done = next(e for e in events if e["event"] == "done")["data"]["text"]
    assert "NOT been executed" in done and "NOT been executed" not in _shown(done)
    action = next(e for e in events if e["event"] == "confirmation")["data"]["artifact"]["action_id"]
    before = len(chat.sent)
    reply, _ = chat.handle({"id": 2, "type": "confirm", "action_id": action})
    assert reply["ok"] and sorted(reply["produced"]) == ["code", "dataset"]
    after = [m for m in chat.sent[before:] if m.get("run_id") == run_id]
    assert _cards(after) == ["dataset"]
    assert list(tmp_path.rglob("*.parquet"))
    chat.loop.close()


def test_generate_reads_the_description_and_leaves_the_chat_alone(logs: pl.DataFrame, tmp_path: Path) -> None:
    chat = _chat(logs, tmp_path)
    explorer = TraceExplorer(logs, chat=chat)
    # A week, not a day: the demo follows the clock, and a Sunday night's last day can hold no error.
    where = explorer.generate_filter("errors from the last week")
    assert "root_span_id IN (SELECT root_span_id FROM logs WHERE" in where  # a spans filter, as traces
    total = explorer.set_filter(where)
    assert 0 < total < explorer.total_traces
    assert explorer.generate_filter("traces longer than 10 seconds") == "duration > 10"
    assert chat.loop.history == [] and not chat.sent
    chat.loop.close()


def test_a_trace_scope_holds_for_the_next_question(logs: pl.DataFrame, tmp_path: Path) -> None:
    chat = _chat(logs, tmp_path)
    sizes = logs.group_by("root_span_id").len().sort("len", descending=True)
    root, spans = sizes.item(0, "root_span_id"), sizes.item(0, "len")
    chat.ask_scoped(root, "Summarize this trace")
    question = "What was the total latency and where was time spent?"
    run_id, events = _run(chat, question)
    started = next(e for e in events if e["event"] == "started")
    assert started["data"]["scope"] == root
    answer = chat.loop.wait(run_id)
    table = next(a for a in answer.artifacts if a.kind == "table")
    assert table.frame.item(0, "n") == spans  # that trace's spans, not the log's
    chat.handle({"id": 3, "type": "scope", "root_span_id": None})
    answer = chat.loop.ask(question)
    table = next(a for a in answer.artifacts if a.kind == "table")
    assert table.frame.item(0, "n") == logs.height
    chat.loop.close()
