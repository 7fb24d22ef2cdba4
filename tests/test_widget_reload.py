"""Issue 14 item 4, Python side: a view rendered later (a reloaded page) gets the transcript it
would have been shown live, with artifact cards, and an action's card in its state now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter.agent.session import Loop
from loop_jupyter.demo import demo_logs
from loop_jupyter.widgets.chat import ChatWidget
from loop_jupyter.widgets.transcript import KEEP_RUNS, TranscriptLog


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo_logs(n_traces=300, seed=5)


def _chat(logs: pl.DataFrame, workdir: Path) -> ChatWidget:
    chat = ChatWidget(Loop(logs, model="offline", workdir=workdir))
    chat.threaded = False
    sent: list[dict[str, Any]] = []
    chat.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    chat.sent = sent  # type: ignore[attr-defined]
    return chat


def _ask(chat: ChatWidget, question: str) -> str:
    reply, _ = chat.handle({"id": 1, "type": "ask", "text": question})
    chat.loop.wait(reply["run_id"], timeout=60)
    return reply["run_id"]


def _history(chat: ChatWidget) -> dict[str, Any]:
    reply, _ = chat.handle({"id": 9, "type": "history"})
    assert reply["ok"], reply
    return reply


def _kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["artifact"]["kind"] for e in events if "artifact" in e["data"]]


def test_history_replays_the_cards_and_the_pending_action(logs: pl.DataFrame, tmp_path: Path) -> None:
    chat = _chat(logs, tmp_path)
    chart_run = _ask(chat, "What are users trying to do?")
    action_run = _ask(chat, "save a dataset of slow traces")
    live = [m for m in chat.sent if "id" not in m and m["event"] != "queued"]
    history = _history(chat)
    events = history["events"]
    assert history["seq"] == max(m["seq"] for m in events)
    # The same cards, in the order the live view got them.
    assert _kinds(events) == _kinds(live)
    assert {"chart", "table", "confirmation"} <= set(_kinds(events))
    assert {e["run_id"] for e in events} == {chart_run, action_run}
    # Text pieces are merged, and say what the live pieces said.
    for run in (chart_run, action_run):
        replayed = "".join(e["data"]["text"] for e in events if e["run_id"] == run and e["event"] == "text_delta")
        streamed = "".join(m["data"]["text"] for m in live if m["run_id"] == run and m["event"] == "text_delta")
        assert replayed == streamed and replayed
    # A table card keeps its id, so paging works in the reloaded view.
    table = next(e["data"]["artifact"] for e in events if _kinds([e]) == ["table"])
    page, _ = chat.handle({"id": 3, "type": "page", "artifact_id": table["artifact_id"], "offset": 0, "limit": 5})
    assert page["ok"] and page["rows"]

    # The pending action is still pending after the reload, and Confirm from it works.
    card = next(e["data"]["artifact"] for e in events if e["event"] == "confirmation")
    assert card["status"] == "pending"
    reply, _ = chat.handle({"id": 4, "type": "confirm", "action_id": card["action_id"]})
    assert reply["ok"] and "dataset" in reply["produced"]
    assert list(tmp_path.rglob("*.parquet"))
    again = _history(chat)["events"]
    card = next(e["data"]["artifact"] for e in again if e["event"] == "confirmation")
    assert card["status"] == "confirmed"  # a second reload shows it done, without a Confirm button
    assert _kinds(again)[-1] == "dataset"  # what the confirmed action made is part of the transcript
    chat.loop.close()


def test_history_of_a_new_chat_is_empty(logs: pl.DataFrame, tmp_path: Path) -> None:
    chat = _chat(logs, tmp_path)
    history = _history(chat)
    assert history["events"] == [] and history["messages"] == [] and history["seq"] == 0
    chat.loop.close()


def test_transcript_log_is_bounded_by_runs() -> None:
    log = TranscriptLog()
    for i in range(KEEP_RUNS + 5):
        log.record({"type": "event", "event": "started", "run_id": f"r{i}", "data": {}})
        log.record({"type": "event", "event": "text_delta", "run_id": f"r{i}", "data": {"text": "a"}})
        log.record({"type": "event", "event": "text_delta", "run_id": f"r{i}", "data": {"text": "b"}})
    replay = log.replay(lambda card: None)
    assert {m["run_id"] for m in replay} == {f"r{i}" for i in range(5, KEEP_RUNS + 5)}
    assert [m["data"]["text"] for m in replay if m["event"] == "text_delta"][:1] == ["ab"]
    assert [m["seq"] for m in replay] == sorted(m["seq"] for m in replay)
