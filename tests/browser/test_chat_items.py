"""Issue 14's widget items in JupyterLab + chromium, with the offline planner (what a user without a
key gets) and the scripted model: each test failed on the code before its fix.

The lab fixture is test_lab.py's, the browser and page fixtures conftest.py's, the notebook
helpers lab_server.py's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser import test_lab as _lab
from tests.browser.lab_server import REPO, notebook, open_and_run_all
from tests.browser.test_lab import _shot, expect

pytestmark = pytest.mark.browser

# test_lab's lab, used here by name (a lab of this module's own); browser and page: conftest.py.
lab = _lab.lab


def _notebook(lab: dict, name: str, cells: list[str]) -> str:
    (lab["nb_dir"] / name).write_text(json.dumps(notebook(cells)))
    return name


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
    # The context line (issue 16): the offline planner calls no model and says so, no estimate.
    expect(answer.locator(".lj-context-line")).to_have_text("no model calls (offline planner)")
    return answer


def test_action_card_text_follows_its_state(page, lab: dict, tmp_path: Path) -> None:
    """Item 6: after Confirm nothing still says "NOT been executed"; one card per action."""
    name = _notebook(lab, "actions.ipynb", [_setup(tmp_path / "manual"), "chat"])
    open_and_run_all(page, lab, name)
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
    open_and_run_all(page, lab, name)
    chat = page.locator(".lj-chat")
    answer = _ask(chat, "save a dataset of slow traces")
    expect(answer.locator(".lj-card-dataset")).to_have_count(1)
    expect(answer.locator(".lj-card-code")).to_have_count(1)
    text = answer.locator(".lj-answer-text").inner_text()
    for stale in ("Waiting for the user", "Auto-accepted", "NOT been executed"):
        assert stale not in text, (stale, text)
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_explorer_generate_sends_the_description_as_written(page, lab: dict, tmp_path: Path) -> None:
    """Item 3: offline, "Generate" on the placeholder's own words gives a filter, and the chat does
    not get a question nobody asked there."""
    name = _notebook(lab, "generate.ipynb", [_setup(tmp_path / "gen"), "chat", "explorer"])
    open_and_run_all(page, lab, name)
    explorer = page.locator(".lj-explorer")
    explorer.scroll_into_view_if_needed()
    expect(explorer.locator(".lj-table tbody tr")).to_have_count(10)
    explorer.locator(".lj-describe").fill("slow traces with tool errors")
    explorer.locator("button", has_text=re.compile(r"^Generate$")).click()
    expect(explorer.locator(".lj-where")).to_have_value(re.compile(r"\S"), timeout=60_000)
    expect(explorer.locator(".lj-traces-count")).to_contain_text(" of 300 traces")
    expect(explorer.locator(".lj-error")).to_be_hidden()
    expect(page.locator(".lj-chat .lj-user")).to_have_count(0)
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def _first_cell_number(answer) -> int:
    cell = answer.locator(".lj-card-table tbody tr").first.locator("td").first
    expect(cell).to_have_text(re.compile(r"\d"))
    return int(re.sub(r"\D", "", cell.inner_text()))


def test_trace_scope_holds_and_shows_until_left(page, lab: dict, tmp_path: Path) -> None:
    """Item 10: after "Summarize this trace" the next question is about that trace, the question
    says so, and the scope chip leaves it."""
    name = _notebook(lab, "scope.ipynb", [_setup(tmp_path / "scope"), "chat", "explorer"])
    open_and_run_all(page, lab, name)
    chat = page.locator(".lj-chat")
    explorer = page.locator(".lj-explorer")
    explorer.scroll_into_view_if_needed()
    rows = explorer.locator(".lj-table tbody tr")
    expect(rows).to_have_count(10)
    rows.nth(0).locator("td").nth(2).click()
    count = explorer.locator(".lj-trace-panel .lj-count")
    expect(count).to_contain_text("spans")
    spans = int(re.sub(r"\D", "", count.inner_text().split("spans")[0]))
    explorer.locator(".lj-loop-btn").click()
    summary = chat.locator(".lj-assistant").first
    expect(summary.locator(".lj-status")).to_contain_text("tokens sent", timeout=60_000)
    chip = chat.locator(".lj-scope-chip")
    expect(chip).to_be_visible()

    question = "What was the total latency and where was time spent?"
    answer = _ask(chat, question)
    expect(chat.locator(".lj-user").last.locator(".lj-scope-tag")).to_contain_text("about trace")
    assert _first_cell_number(answer) == spans  # the trace's spans, not all 37k of the log
    _shot(page, "chat-scoped")

    chip.locator(".lj-chip-x").click()
    expect(chip).to_be_hidden()
    answer = _ask(chat, question)
    expect(chat.locator(".lj-user").last.locator(".lj-scope-tag")).to_have_count(0)
    assert _first_cell_number(answer) > spans
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def _chart_box(card) -> dict:
    """Sizes of a chart card: its container, Plotly's svg, and how far tick labels stick out left."""
    return card.evaluate(
        """card => {
          const plot = card.querySelector('.js-plotly-plot');
          const svg = plot.querySelector('.main-svg');
          const box = svg.getBoundingClientRect();
          const labels = [...plot.querySelectorAll('.ytick text')];
          return {
            container: plot.getBoundingClientRect().width,
            width: box.width,
            height: box.height,
            labels: labels.map(t => t.textContent),
            cut: Math.max(0, ...labels.map(t => box.left - t.getBoundingClientRect().left)),
          };
        }"""
    )


def test_charts_follow_their_container_and_keep_labels(page, lab: dict, tmp_path: Path) -> None:
    """Items 1 and 2: after the file browser opens or closes, the chart still has its height and
    follows the new width; horizontal-bar labels are inside the chart, not cut off."""
    name = _notebook(lab, "charts.ipynb", [_setup(tmp_path / "charts"), "chat"])
    open_and_run_all(page, lab, name)
    chat = page.locator(".lj-chat")
    answer = _ask(chat, "What are users trying to do?")
    card = answer.locator(".lj-card-chart").first
    expect(card.locator(".js-plotly-plot .ytick text").first).to_be_visible(timeout=60_000)
    before = _chart_box(card)
    assert before["height"] >= 250, before
    assert before["cut"] <= 1 and all(len(label) > 2 for label in before["labels"]), before  # item 2

    for step in ("open", "close"):  # toggle the file browser: the notebook gets wider or narrower
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab").first.click()
        page.wait_for_function(
            "([el, w]) => Math.abs(el.getBoundingClientRect().width - w) > 50",
            arg=[card.locator(".js-plotly-plot").element_handle(), before["container"]],
        )
        expect(card.locator(".js-plotly-plot .main-svg").first).to_have_js_property("isConnected", True)
        page.wait_for_function(
            "el => Math.abs(el.querySelector('.main-svg').getBoundingClientRect().width - el.getBoundingClientRect().width) <= 2",
            arg=card.locator(".js-plotly-plot").element_handle(),
            timeout=15_000,
        )
        after = _chart_box(card)
        assert after["height"] >= 250, (step, after)
        assert abs(after["width"] - after["container"]) <= 2, (step, after)
        assert after["cut"] <= 1, (step, after)
        before = after
    _shot(page, "chart-after-layout-change")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_model_picker_says_which_models_are_usable(page, lab: dict, tmp_path: Path) -> None:
    """Item 8: without keys, cloud models are not offered as if usable: disabled, with their key."""
    setup = "import os\nfor k in ('ANTHROPIC_API_KEY', 'OPENAI_API_KEY'):\n    os.environ.pop(k, None)\n" + _setup(
        tmp_path / "m"
    )
    name = _notebook(lab, "models.ipynb", [setup, "chat"])
    open_and_run_all(page, lab, name)
    select = page.locator(".lj-chat .lj-select")
    expect(select.locator("option")).not_to_have_count(0)
    enabled = select.locator("option:not([disabled])")
    expect(enabled).to_have_count(1)
    expect(enabled).to_have_text("offline")
    locked = select.locator("option[disabled]")
    assert locked.count() >= 2
    expect(locked.filter(has_text="claude").first).to_contain_text("ANTHROPIC_API_KEY")
    expect(locked.filter(has_text="gpt").first).to_contain_text("OPENAI_API_KEY")
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_context_line_shows_a_models_usage(page, lab: dict, tmp_path: Path) -> None:
    """Issue 16: under a model's answer, tokens in/out/cached, the window's share and the cost."""
    from loop_jupyter.agent.model_turn import Usage
    from loop_jupyter.agent.usage import AnswerUsage

    client = """
from loop_jupyter.agent.model_turn import AssistantTurn, Usage
class Reporting:
    name = "claude-4.5-sonnet"
    def complete(self, system, messages, tools, stream_callback=None):
        return AssistantTurn("Counted.", [], Usage(12_300, 800, 9_000), "end_turn")
loop = Loop(logs, client=Reporting(), workdir=WORKDIR)
chat = ChatWidget(loop)
chat""".replace("WORKDIR", repr(str(tmp_path)))
    name = _notebook(lab, "context_line.ipynb", [_setup(tmp_path), client])
    open_and_run_all(page, lab, name)
    chat = page.locator(".lj-chat").last
    chat.locator(".lj-ask").fill("How many spans?")
    chat.locator(".lj-ask").press("Enter")
    answer = chat.locator(".lj-assistant").last
    expected = AnswerUsage.for_model("claude-4.5-sonnet")
    expected.add(Usage(12_300, 800, 9_000))
    line = answer.locator(".lj-context-line")
    expect(line).to_have_text(expected.line(), timeout=60_000)
    assert re.fullmatch(r"12\.3k in · 0\.8k out · 9k cached · 7% of 200k · \$0\.02", expected.line())
    assert "12,300" in (line.get_attribute("title") or "")
    _shot(page, "chat-context-line")
