"""Issue 14's widget items in JupyterLab + chromium, with the offline planner (what a user without a
key gets) and the scripted model: each test failed on the code before its fix.

The lab, browser and page fixtures and the notebook helpers are test_lab.py's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser import test_lab as _lab
from tests.browser.test_lab import REPO, _cell, _menu, _shot, expect

pytestmark = pytest.mark.browser

# test_lab's fixtures, used here by name (a lab of this module's own).
lab = _lab.lab
browser = _lab.browser
page = _lab.page


def _notebook(lab: dict, name: str, cells: list[str]) -> str:
    notebook = {
        "cells": [_cell(c) for c in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab["nb_dir"] / name).write_text(json.dumps(notebook))
    return name


def _open_and_run_all(page, lab: dict, name: str) -> None:
    """test_lab's helper, waiting for this notebook's own kernel: a second notebook in the same lab
    shows "| Idle" before its kernel is connected, and Run All then is lost."""
    page.goto(f"{lab['base']}/lab/tree/{name}?token={lab['token']}")
    n_code = sum(c["cell_type"] == "code" for c in json.loads((lab["nb_dir"] / name).read_text())["cells"])
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell")
    expect(cells).to_have_count(n_code, timeout=60_000)
    status = page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"ipykernel\) \| Idle"))
    expect(status.first).to_be_visible(timeout=90_000)
    _menu(page, "Run", "Run All Cells")
    for i in range(n_code):
        expect(cells.nth(i).locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=180_000)


def _setup(workdir: Path, *, auto_accept: bool = False) -> str:
    return f"""import sys
sys.path.insert(0, {str(REPO)!r})
from loop_jupyter.demo import demo_logs
from loop_jupyter.agent.session import Loop
from loop_jupyter.widgets import ChatWidget, TraceExplorer
logs = demo_logs(n_traces=300, seed=5)
loop = Loop(logs, model="offline", workdir={str(workdir)!r}, auto_accept={auto_accept!r})
chat = ChatWidget(loop)
explorer = TraceExplorer(logs, chat=chat, page_size=10)"""


def _ask(chat, question: str):
    before = chat.locator(".lj-assistant").count()
    chat.locator(".lj-ask").fill(question)
    chat.locator(".lj-ask").press("Enter")
    expect(chat.locator(".lj-assistant")).to_have_count(before + 1)
    answer = chat.locator(".lj-assistant").last
    expect(answer).not_to_have_class(re.compile(r"lj-running"), timeout=60_000)
    expect(answer.locator(".lj-status")).to_contain_text("tokens sent", timeout=60_000)
    return answer


def test_action_card_text_follows_its_state(page, lab: dict, tmp_path: Path) -> None:
    """Item 6: after Confirm nothing still says "NOT been executed"; one card per action."""
    name = _notebook(lab, "actions.ipynb", [_setup(tmp_path / "manual"), "chat"])
    _open_and_run_all(page, lab, name)
    chat = page.locator(".lj-chat")
    answer = _ask(chat, "save a dataset of slow traces")
    card = answer.locator(".lj-card-confirmation")
    expect(card).to_have_count(1)
    expect(card.locator(".lj-action-note")).to_contain_text("Nothing has been written yet")
    card.locator(".lj-confirm").click()
    expect(card.locator(".lj-pending-status")).to_have_text("confirmed")
    expect(card.locator(".lj-action-note")).to_contain_text("Done:")
    expect(answer.locator(".lj-card-dataset")).to_have_count(1)
    text = answer.inner_text()
    for stale in ("NOT been executed", "Waiting for the user", "waiting for the person"):
        assert stale not in text, (stale, text)
    # The dataset's "Reproduce" code was already shown with the proposal: one code card.
    expect(answer.locator(".lj-card-code")).to_have_count(1)
    assert list((tmp_path / "manual").rglob("*.parquet"))
    _shot(page, "action-confirmed")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_auto_accepted_action_shows_once_and_says_done(page, lab: dict, tmp_path: Path) -> None:
    """Item 6 with auto-accept: no "Waiting...", no "(Auto-accepted ...)" note, each card once."""
    name = _notebook(lab, "auto.ipynb", [_setup(tmp_path / "auto", auto_accept=True), "chat"])
    _open_and_run_all(page, lab, name)
    chat = page.locator(".lj-chat")
    answer = _ask(chat, "save a dataset of slow traces")
    expect(answer.locator(".lj-card-dataset")).to_have_count(1)
    expect(answer.locator(".lj-card-code")).to_have_count(1)
    text = answer.locator(".lj-answer-text").inner_text()
    for stale in ("Waiting for the user", "Auto-accepted", "NOT been executed"):
        assert stale not in text, (stale, text)
    assert not page.errors, page.errors  # type: ignore[attr-defined]
