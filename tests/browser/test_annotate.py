"""The explorer's annotation control in JupyterLab (Debian's chromium): label and note a span of the
open trace, see them listed, remove them; a script payload as label and note shows as text and
never runs; each change is a new Parquet version beside the session's logs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from tests.browser.lab_server import serve_lab
from tests.hostile_logs import FLAG, write_hostile_logs

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
LABEL = '<img src=x onerror="window.__pwned=41"> wrong tool'
NOTE = "<script>window.__pwned=42</script> the id is a name"

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def _cell(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("annotatelab")
    nb_dir, workdir = root / "nb", root / "work"
    nb_dir.mkdir()
    workdir.mkdir()
    write_hostile_logs(nb_dir / "hostile.jsonl")
    cells = [
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\nimport loop_jupyter as lj\nlogs = lj.load_logs('hostile.jsonl')",
        f"loop = lj.Loop(logs, model='offline', workdir={str(workdir)!r})\n"
        "explorer = lj.TraceExplorer(logs, loop=loop, page_size=10)\nexplorer",
    ]
    notebook = {
        "cells": [_cell(s) for s in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (nb_dir / "annotate.ipynb").write_text(json.dumps(notebook))
    settings = root / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    keys = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "LOOP_JUPYTER_MODELS")
    env = {k: v for k, v in os.environ.items() if k not in keys}
    env.update(
        JUPYTER_CONFIG_DIR=str(root / "config"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
        LOOP_JUPYTER_CONFIG=str(root / "none.toml"),
        PYTHONPATH=str(REPO),
    )
    with serve_lab(root, nb_dir, env) as (base, token):
        yield {"base": base, "token": token, "workdir": workdir, "cells": len(cells)}


@pytest.fixture()
def page(lab: dict) -> Iterator:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1600})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


def test_label_and_note_a_span_in_the_explorer(page, lab: dict) -> None:
    page.goto(f"{lab['base']}/lab/tree/annotate.ipynb?token={lab['token']}")
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell")
    expect(cells).to_have_count(lab["cells"], timeout=60_000)
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    explorer = page.locator(".lj-explorer")
    rows = explorer.locator(".lj-table tbody tr")
    expect(rows.first).to_be_visible(timeout=120_000)
    rows.first.locator("td").nth(2).click()
    node = explorer.locator(".lj-tree .lj-node").first
    expect(node).to_be_visible()
    node.click()
    block = explorer.locator(".lj-detail .lj-annotations")
    expect(block).to_be_visible()
    expect(block.locator(".lj-annotation")).to_have_count(0)
    block.locator(".lj-annotation-label").fill(LABEL)
    block.locator(".lj-annotation-note").fill(NOTE)
    block.locator(".lj-annotation-add").click()
    expect(block.locator(".lj-annotation")).to_have_count(1)
    expect(block.locator(".lj-annotation-name")).to_have_text(LABEL)  # as text, whole
    expect(block.locator(".lj-annotation-text")).to_contain_text(NOTE)
    assert block.locator("img, script").count() == 0
    with pytest.raises(sync_api.TimeoutError):
        page.wait_for_function(f"() => window.{FLAG} !== undefined", timeout=1_000)
    folder = lab["workdir"] / "loop_annotations"
    saved = pl.read_parquet(folder / "v0001.parquet")
    assert saved.select("label", "note", "source").row(0) == (LABEL, NOTE, "explorer")
    # An empty label is refused in place; removing writes a new version, the first one stays.
    block.locator(".lj-annotation-add").click()
    expect(block.locator(".lj-annotation-error")).to_contain_text("non-empty label")
    block.locator(".lj-annotation-remove").click()
    expect(block.locator(".lj-annotation")).to_have_count(0)
    assert sorted(p.name for p in folder.iterdir()) == ["v0001.parquet", "v0002.parquet"]
