"""JupyterLab in Debian's chromium, driven by Playwright: the widgets as a person uses them.

JupyterLab is started here on 127.0.0.1 (free port, temp config/runtime/settings dirs, a token),
the notebooks run with a scripted model (no network), and every step waits on elements. After
clicking, the Python side is checked: files on disk, and the explorer's selection in the kernel.
Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.lab_server import ARTIFACTS, CHROMIUM, REPO, lab_env, notebook, open_and_run_all, serve_lab

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def _widget_notebook(workdir: Path) -> dict:
    """The widgets over demo logs, with the scripted model so answers are deterministic."""
    setup = f"""import sys
sys.path.insert(0, {str(REPO)!r})
from loop_jupyter.demo import demo_logs
from loop_jupyter.widgets import ChatWidget, TraceExplorer
from tests.widget_helpers import make_loop
logs = demo_logs(n_traces=300, seed=5)
loop = make_loop(logs, workdir={str(workdir)!r})
chat = ChatWidget(loop)
explorer = TraceExplorer(logs, chat=chat, page_size=10)"""
    cells = [
        setup,
        "chat",
        "explorer",
        'print("SELECTED=" + ",".join(explorer.selection.get_column("root_span_id").to_list()))',
    ]
    return notebook(cells)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("lab")
    nb_dir = root / "nb"
    nb_dir.mkdir()
    workdir = root / "work"
    workdir.mkdir()
    for name in ("quickstart.ipynb",):
        shutil.copy(REPO / "notebooks" / name, nb_dir / name)
    (nb_dir / "widgets.ipynb").write_text(json.dumps(_widget_notebook(workdir)))
    # "Insert as cell" inserts a real cell: the lab extension as the wheel installs it.
    env = lab_env(root, extension=True)
    with serve_lab(root, nb_dir, env) as (base, token):
        yield {"base": base, "token": token, "workdir": workdir, "nb_dir": nb_dir}


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def _rerun_cell(page, index: int) -> None:
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")


def test_chat_and_explorer_in_jupyterlab(page, lab: dict) -> None:
    open_and_run_all(page, lab, "widgets.ipynb")
    chat = page.locator(".lj-chat")
    expect(chat).to_be_visible()
    expect(chat.locator(".lj-select option")).not_to_have_count(0)

    # Ask: the answer streams in with a table and a Plotly chart inline.
    chat.locator(".lj-ask").fill("show slow traces")
    chat.locator(".lj-ask").press("Enter")
    answer = chat.locator(".lj-assistant").last
    expect(answer.locator(".lj-answer-text")).to_contain_text("Here is what I found.", timeout=60_000)
    expect(answer.locator(".lj-card-table .lj-table tbody tr").first).to_be_visible()
    expect(answer.locator(".lj-card-chart .js-plotly-plot").first).to_be_visible(timeout=60_000)
    # page the table (rows come from Python)
    table = answer.locator(".lj-card-table").first
    status = table.locator(".lj-table-status")
    expect(status).to_contain_text("1–10")
    table.locator("button[title='Next page']").click()
    expect(status).to_contain_text("11–")
    chat.locator(".lj-user").last.scroll_into_view_if_needed()
    _shot(page, "chat-answer")

    # A dataset waits for confirmation; Confirm writes it, checked on disk from Python.
    chat.locator(".lj-ask").fill("save a dataset of slow traces")
    chat.locator(".lj-ask").press("Enter")
    card = chat.locator(".lj-card-confirmation").last
    expect(card.locator(".lj-confirm")).to_be_enabled(timeout=60_000)
    assert not [p for p in lab["workdir"].rglob("*") if p.is_file()]
    card.scroll_into_view_if_needed()
    _shot(page, "chat-confirmation")
    card.locator(".lj-confirm").click()
    expect(card.locator(".lj-pending-status")).to_have_text("confirmed")
    expect(chat.locator(".lj-card-dataset").last).to_be_visible()
    written = [p for p in lab["workdir"].rglob("*") if p.is_file()]
    assert written and any("slow_traces" in str(p) for p in written), written

    # Explorer: select two traces, open one, expand its tree, look at a span.
    explorer = page.locator(".lj-explorer")
    explorer.scroll_into_view_if_needed()
    rows = explorer.locator(".lj-table tbody tr")
    expect(rows).to_have_count(10)
    chosen = [rows.nth(i).get_attribute("data-key") for i in (1, 3)]
    for i in (1, 3):
        rows.nth(i).locator("input[type=checkbox]").check()
    expect(explorer.locator(".lj-traces-count")).to_contain_text("2 selected")
    rows.nth(0).locator("td").nth(2).click()
    tree = explorer.locator(".lj-tree")
    expect(tree.locator(".lj-node").first).to_be_visible()
    collapsed = tree.locator(".lj-node:not([aria-expanded=true]) .lj-toggle:not(.lj-leaf)")
    if collapsed.count():
        before = tree.locator(".lj-node").count()
        collapsed.first.click()
        expect(tree.locator(".lj-node")).not_to_have_count(before)
    tree.locator(".lj-node").nth(1).click()
    expect(explorer.locator(".lj-detail .lj-field").first).to_be_visible()
    explorer.locator(".lj-trace-panel").scroll_into_view_if_needed()
    _shot(page, "explorer-trace")

    # The filter box: a refused filter shows its reason; a good one narrows the table.
    explorer.locator(".lj-where").fill("1=1; DROP TABLE logs")
    explorer.locator(".lj-where").press("Enter")
    expect(explorer.locator(".lj-error:not(.lj-annotation-error)")).to_contain_text("not several statements")
    explorer.locator(".lj-where").fill("has_error")
    explorer.locator(".lj-where").press("Enter")
    expect(explorer.locator(".lj-traces-count")).to_contain_text(" of 300 traces")

    # Python sees the selection made by clicking.
    _rerun_cell(page, 3)
    out = page.locator(".jp-Notebook .jp-CodeCell").nth(3).locator(".jp-OutputArea-output")
    expect(out).to_have_text(re.compile(r"SELECTED=\w"))  # the re-run's output, not the first run's
    selected = out.inner_text().strip().split("SELECTED=", 1)[1].split(",")
    assert sorted(selected) == sorted(chosen)
    assert not page.errors, page.errors  # type: ignore[attr-defined]


def test_quickstart_runs_in_jupyterlab(page, lab: dict) -> None:
    open_and_run_all(page, lab, "quickstart.ipynb")
    # Some cells print nothing (their output area stays hidden): wait for one that shows something.
    expect(page.locator(".jp-OutputArea-output:visible").first).to_be_visible()
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    texts = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t]
    assert not texts, texts[:2]
    expect(page.locator(".lj-chat").first).to_be_visible()
    expect(page.locator(".lj-explorer").first).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
    _shot(page, "quickstart")
    assert not page.errors, page.errors  # type: ignore[attr-defined]
