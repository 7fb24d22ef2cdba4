"""The chat widget's sessions and branches, Python side: transcript rebuilt with cards and switchers,
an edit's started event carrying "2 of 2", the session list, open, save as, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter.agent.session import Loop
from loop_jupyter.demo import demo_logs
from loop_jupyter.widgets.chat import ChatWidget


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo_logs(n_traces=300, seed=5)


def _chat(loop: Loop) -> ChatWidget:
    chat = ChatWidget(loop)
    chat.threaded = False
    sent: list[dict[str, Any]] = []
    chat.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    chat.sent = sent  # type: ignore[attr-defined]
    return chat


def _request(chat: ChatWidget, **content: Any) -> dict[str, Any]:
    reply, _ = chat.handle({"id": 1, **content})
    assert reply is not None and reply["ok"], reply
    return reply


def _ask(chat: ChatWidget, question: str) -> str:
    run_id = _request(chat, type="ask", text=question)["run_id"]
    chat.loop.wait(run_id, timeout=60)
    return run_id


def test_edit_branches_and_the_transcript_follows(logs: pl.DataFrame, tmp_path: Path) -> None:
    chat = _chat(Loop(logs, model="offline", workdir=tmp_path, session="one"))
    assert chat.session == "one" and chat.branch == {"id": 1, "count": 1}
    first = _ask(chat, "LLM spans longer than 60 seconds")
    _ask(chat, "tool calls with errors")
    transcript = _request(chat, type="transcript")
    assert [r["question"] for r in transcript["runs"]] == ["LLM spans longer than 60 seconds", "tool calls with errors"]
    assert [c["kind"] for c in transcript["runs"][0]["artifacts"]][:2] == ["sql", "table"]
    assert transcript["runs"][0]["steps"] == [{"name": "generate_filter", "is_error": False}]
    assert transcript["runs"][0]["alternatives"] == {"index": 0, "position": 1, "count": 1, "branches": [1]}

    edited = _request(chat, type="edit", run_id=first, text="LLM spans longer than 90 seconds")["run_id"]
    chat.loop.wait(edited, timeout=60)
    started = next(m for m in chat.sent if m.get("run_id") == edited and m["event"] == "started")
    assert started["data"]["alternatives"] == {"index": 0, "position": 2, "count": 2, "branches": [1, 2]}
    assert chat.branch == {"id": 2, "count": 2}

    back = _request(chat, type="switch_branch", branch=1)
    assert [r["question"] for r in back["runs"]] == ["LLM spans longer than 60 seconds", "tool calls with errors"]
    assert back["branch"] == {"id": 1, "count": 2} and chat.branch == {"id": 1, "count": 2}
    page = _request(chat, type="page", artifact_id=back["runs"][0]["artifacts"][1]["artifact_id"], offset=0, limit=5)
    assert page["total_rows"] >= 0  # a rebuilt table card is paged like any other
    bad, _ = chat.handle({"id": 2, "type": "switch_branch", "branch": 9})
    assert bad is not None and not bad["ok"] and "no branch 9" in bad["error"]
    chat.loop.close()


def test_session_list_open_save_and_delete(logs: pl.DataFrame, tmp_path: Path) -> None:
    saved = Loop(logs, model="offline", workdir=tmp_path, session="saved")
    saved.ask("tool calls with errors")
    saved.close()
    chat = _chat(Loop(logs, model="offline", workdir=tmp_path))
    assert chat.session == ""
    listed = _request(chat, type="sessions")
    assert [s["name"] for s in listed["sessions"]] == ["saved"] and listed["current"] == ""
    opened = _request(chat, type="open_session", name="saved")
    assert [r["question"] for r in opened["runs"]] == ["tool calls with errors"] and chat.session == "saved"
    _ask(chat, "LLM spans longer than 60 seconds")  # continues the opened session, saved there
    assert Loop.sessions(tmp_path)[0]["questions"] == 2

    fresh = _chat(Loop(logs, model="offline", workdir=tmp_path))
    _ask(fresh, "LLM spans longer than 60 seconds")
    after = _request(fresh, type="save_session", name="mine")
    assert sorted(s["name"] for s in after["sessions"]) == ["mine", "saved"] and after["current"] == "mine"
    for hostile in ("../x", "a/b", ""):
        for kind in ("open_session", "save_session", "delete_session"):
            reply, _ = fresh.handle({"id": 3, "type": kind, "name": hostile})
            assert reply is not None and not reply["ok"] and "invalid session name" in reply["error"]
    gone = _request(fresh, type="delete_session", name="saved")
    assert [s["name"] for s in gone["sessions"]] == ["mine"]
    assert sorted(p.name for p in (tmp_path / ".loop" / "sessions").iterdir()) == ["mine.jsonl"]
    chat.loop.close()
    fresh.loop.close()


def test_actions_read_back_say_what_became_of_them(logs: pl.DataFrame, tmp_path: Path) -> None:
    first = Loop(logs, model="offline", workdir=tmp_path, session="acts")
    first.ask("save the error traces as a dataset")
    confirmed = first.pending()[0]
    first.confirm(confirmed.action_id)
    first.ask("build a dataset of the slow traces and save it")
    waiting = first.pending()[0]
    first.close()
    chat = _chat(Loop(logs, model="offline", workdir=tmp_path, session="acts"))
    cards = [c for r in _request(chat, type="transcript")["runs"] for c in r["artifacts"]]
    status = {c["action_id"]: c["status"] for c in cards if c["kind"] == "confirmation"}
    assert status == {confirmed.action_id: "confirmed", waiting.action_id: "expired"}
    assert [c["kind"] for c in cards].count("dataset") == 1  # what the confirmed one made, once
    reply, _ = chat.handle({"id": 5, "type": "confirm", "action_id": waiting.action_id})
    assert reply is not None and not reply["ok"]  # a proposal from before the restart cannot run
    chat.loop.close()


def test_a_table_read_back_says_it_is_a_preview(logs: pl.DataFrame, tmp_path: Path) -> None:
    first = Loop(logs, model="offline", workdir=tmp_path, session="big")
    answer = first.ask("tool calls with errors")
    total = next(a for a in answer.artifacts if a.kind == "table").frame.height
    first.close()
    assert total > 20  # the demo has more matching spans than a preview keeps
    chat = _chat(Loop(logs, model="offline", workdir=tmp_path, session="big"))
    table = next(c for r in _request(chat, type="transcript")["runs"] for c in r["artifacts"] if c["kind"] == "table")
    assert f"first 20 of {total:,} rows" in table["title"] and len(table["rows"]) == 10
    chat.loop.close()
