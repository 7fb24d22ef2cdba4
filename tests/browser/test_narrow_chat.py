"""The chat in a narrow pane (a side-by-side split, a laptop with the file browser open): at 700 px the
header's controls used to run past the chat's right edge (cut off: the model picker and Settings out of
reach, the "not saved · branch 2 of 2" chip squeezed into a column). The header now wraps.

The lab fixture is test_lab.py's (browser and page: conftest.py); notebooks and questions are test_chat_items'.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import test_lab as _lab
from tests.browser.lab_server import open_and_run_all
from tests.browser.test_chat_items import _ask, _notebook, _setup
from tests.browser.test_lab import _shot, expect

pytestmark = pytest.mark.browser

lab = _lab.lab


def test_header_controls_stay_inside_a_narrow_chat(page, lab: dict, tmp_path: Path) -> None:
    name = _notebook(lab, "narrow.ipynb", [_setup(tmp_path / "narrow"), "chat"])
    open_and_run_all(page, lab, name)
    chat = page.locator(".lj-chat")
    _ask(chat, "Find requests that took longer than 60 seconds")
    # An edited question makes a second branch: the header's widest state ("not saved · branch 2 of 2").
    question = chat.locator(".lj-user").last
    question.hover()
    question.locator(".lj-edit").click()
    question.locator(".lj-edit-area").fill("Find requests that took longer than 90 seconds")
    question.locator(".lj-edit-area").press("Enter")
    expect(chat.locator(".lj-session-chip")).to_contain_text("branch 2 of 2", timeout=60_000)

    page.set_viewport_size({"width": 700, "height": 1000})
    header = chat.locator(".lj-chat-header")
    expect(header).to_be_visible()
    page.wait_for_function(
        "() => { const h = document.querySelector('.lj-chat-header'); return h && h.clientWidth < 400; }"
    )
    box = chat.bounding_box()
    assert box is not None
    for selector in (".lj-sessions-btn", ".lj-select", "button[title='Settings']", ".lj-session-chip"):
        control = header.locator(selector).first
        expect(control).to_be_visible()
        edge = control.bounding_box()
        assert edge is not None
        assert edge["x"] + edge["width"] <= box["x"] + box["width"] + 1, (selector, edge, box)
    chip = header.locator(".lj-session-chip").bounding_box()
    assert chip is not None and chip["height"] < 24, chip  # one line, not a column of words
    overflow = header.evaluate("h => h.scrollWidth - h.clientWidth")
    assert overflow <= 1, overflow
    # A popover opens below the wrapped header, not over its controls.
    header.locator("button[title='Settings']").click()
    pop = chat.locator(".lj-settings-pop")
    expect(pop).to_be_visible()
    below, bottom = pop.bounding_box(), header.bounding_box()
    assert below is not None and bottom is not None
    assert below["y"] >= bottom["y"] + bottom["height"] - 1, (below, bottom)
    _shot(page, "chat-narrow")
    assert not page.errors, page.errors  # type: ignore[attr-defined]
