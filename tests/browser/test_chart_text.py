"""Log text in a chart shows as text in JupyterLab: a span name holding Plotly's text markup
(``<a href>``, ``<span style>``) makes no link and no restyled text in the chat's chart, and shows
as written. On the code before the fix the tool names became live links in the chart's SVG.

The lab fixture is test_lab.py's, the browser and page fixtures conftest.py's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser import test_lab as _lab
from tests.browser.lab_server import REPO, notebook, open_and_run_all
from tests.browser.test_lab import expect

pytestmark = pytest.mark.browser

lab = _lab.lab


def test_chart_shows_log_markup_as_text(page, lab: dict, tmp_path: Path) -> None:
    setup = f"""import sys
sys.path.insert(0, {str(REPO)!r})
from tests.test_figure_text import hostile_logs
from loop_jupyter.agent.session import Loop
from loop_jupyter.widgets import ChatWidget
loop = Loop(hostile_logs(), model="offline", workdir={str(tmp_path)!r})
chat = ChatWidget(loop)"""
    (lab["nb_dir"] / "chart_text.ipynb").write_text(json.dumps(notebook([setup, "chat"])))
    open_and_run_all(page, lab, "chart_text.ipynb")
    chat = page.locator(".lj-chat")
    chat.locator(".lj-ask").fill("rank tools by blast radius")
    chat.locator(".lj-ask").press("Enter")
    answer = chat.locator(".lj-assistant").last
    expect(answer).not_to_have_class(re.compile(r"lj-running"), timeout=60_000)
    plot = answer.locator(".lj-card-chart .js-plotly-plot").first
    expect(plot.locator(".main-svg").first).to_be_visible(timeout=60_000)
    # Legend entries and hover labels are drawn from the tool names.
    texts = plot.evaluate("el => [...el.querySelectorAll('text')].map(t => t.textContent).join(' | ')")
    assert '<a href="https://evil.example/login">' in texts and "<n>" in texts, texts[:500]
    assert plot.locator("svg a").count() == 0
    assert plot.evaluate("el => [...el.querySelectorAll('tspan[style*=\"400px\"]')].length") == 0
    assert not page.errors, page.errors  # type: ignore[attr-defined]
