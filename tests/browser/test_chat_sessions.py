"""Saved sessions and branches in the chat, in JupyterLab + chromium with the offline planner:
editing a question re-runs it in place with a "‹ 1/2 ›" switcher to the earlier branch, the
session list opens and deletes (after a confirmation) sessions, and a reload rebuilds the cards.

The lab fixture is test_lab.py's (browser and page: conftest.py); the notebook helpers test_chat_items.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import test_lab as _lab
from tests.browser.lab_server import REPO, open_and_run_all
from tests.browser.test_chat_items import _ask, _notebook
from tests.browser.test_lab import _rerun_cell, _shot, expect

pytestmark = pytest.mark.browser

lab = _lab.lab

HOSTILE = 'spans named <img src=x onerror="window.__pwned=1"> please'


def _setup(workdir: Path) -> str:
    return f"""import sys
sys.path.insert(0, {str(REPO)!r})
from loop_jupyter.demo import demo_logs
from loop_jupyter.agent.session import Loop
from loop_jupyter.widgets import ChatWidget
logs = demo_logs(n_traces=300, seed=5)
other = Loop(logs, model="offline", workdir={str(workdir)!r}, session="second")
other.ask({HOSTILE!r}); other.close()
loop = Loop(logs, model="offline", workdir={str(workdir)!r}, session="first")
chat = ChatWidget(loop)"""


def test_edit_in_place_branches_and_the_session_list(page, lab: dict, tmp_path: Path) -> None:
    work = tmp_path / "work"
    name = _notebook(lab, "sessions.ipynb", [_setup(work), "chat"])
    open_and_run_all(page, lab, name)
    chat = page.locator(".lj-chat")
    _ask(chat, "LLM spans longer than 60 seconds")
    _ask(chat, "tool calls with errors")
    users = chat.locator(".lj-user")
    expect(users).to_have_count(2)
    expect(chat.locator(".lj-session-chip")).to_have_text("first")

    # Edit the first question: the new answer takes its place, the later question goes with the
    # old branch, and the switcher says this is version 2 of 2.
    first = users.nth(0)
    first.hover()  # the Edit button shows on hover
    first.locator(".lj-edit").click()
    first.locator(".lj-edit-area").fill("LLM spans longer than 90 seconds")
    first.locator(".lj-edit-form .lj-btn-primary").click()
    expect(users).to_have_count(1)
    expect(users.nth(0).locator(".lj-user-text")).to_have_text("LLM spans longer than 90 seconds")
    answer = chat.locator(".lj-assistant").nth(0)
    expect(answer.locator(".lj-status")).to_contain_text("tokens sent", timeout=60_000)
    expect(answer.locator(".lj-card-sql")).to_contain_text("duration > 90")
    switch = users.nth(0).locator(".lj-branch-switch")
    expect(switch).to_be_visible()
    expect(switch.locator(".lj-branch-label")).to_have_text("2/2")
    expect(chat.locator(".lj-session-chip")).to_have_text("first · branch 2 of 2")
    _shot(page, "sessions-edited-in-place")

    # The earlier branch is one click away, whole: both questions and their cards.
    switch.locator(".lj-branch-prev").click()
    expect(users).to_have_count(2)
    expect(users.nth(0).locator(".lj-user-text")).to_have_text("LLM spans longer than 60 seconds")
    expect(users.nth(1).locator(".lj-user-text")).to_have_text("tool calls with errors")
    expect(users.nth(0).locator(".lj-branch-label")).to_have_text("1/2")
    expect(chat.locator(".lj-assistant").nth(0).locator(".lj-card-sql")).to_contain_text("duration > 60")
    expect(chat.locator(".lj-session-chip")).to_have_text("first · branch 1 of 2")

    # A new view of the chat (the cell run again) rebuilds the live branch from the kernel: cards
    # and switchers, not plain text.
    chat.evaluate("el => el.classList.add('lj-old-view')")
    _rerun_cell(page, 1)
    chat = page.locator(".lj-chat:not(.lj-old-view)")
    expect(chat).to_have_count(1, timeout=60_000)
    expect(chat.locator(".lj-user")).to_have_count(2, timeout=60_000)
    expect(chat.locator(".lj-assistant").nth(1).locator(".lj-card-sql")).to_have_count(1)
    expect(chat.locator(".lj-user").nth(0).locator(".lj-branch-label")).to_have_text("1/2")

    # The session list: both sessions; open the other one (its hostile question is text).
    chat.locator(".lj-sessions-btn").click()
    rows = chat.locator(".lj-session-row")
    expect(rows).to_have_count(2)
    expect(chat.locator(".lj-session-row[data-session='first']")).to_contain_text("(this chat)")
    chat.locator(".lj-session-row[data-session='second'] .lj-session-open").click()
    expect(chat.locator(".lj-user")).to_have_count(1)
    expect(chat.locator(".lj-user .lj-user-text")).to_have_text(HOSTILE)
    expect(chat.locator(".lj-session-chip")).to_have_text("second")
    _shot(page, "sessions-opened")

    # Delete "first": it asks, in place; "Keep" keeps it, "Delete" removes its file only.
    chat.locator(".lj-sessions-btn").click()
    row = chat.locator(".lj-session-row[data-session='first']")
    row.locator(".lj-session-delete").click()
    expect(row.locator(".lj-session-confirm")).to_contain_text("for good?")
    row.locator(".lj-session-delete-no").click()
    expect(row.locator(".lj-session-delete")).to_be_visible()
    assert (work / ".loop" / "sessions" / "first.jsonl").is_file()
    row.locator(".lj-session-delete").click()
    row.locator(".lj-session-delete-yes").click()
    expect(chat.locator(".lj-session-row")).to_have_count(1)
    expect(chat.locator(".lj-session-row[data-session='second']")).to_contain_text("(this chat)")
    assert not (work / ".loop" / "sessions" / "first.jsonl").exists()
    assert (work / ".loop" / "sessions" / "second.jsonl").is_file()
    _shot(page, "sessions-list")
    assert page.evaluate("() => window.__pwned") is None
    assert not page.errors, page.errors  # type: ignore[attr-defined]
