"""The explorer's annotation control in JupyterLab (Debian's chromium): label and note a span of the
open trace, see them listed, remove them; a script payload as label and note shows as text and
never runs; each change is a new Parquet version beside the session's logs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import polars as pl
import pytest

from tests.browser.lab_server import CHROMIUM, REPO, lab_env, menu, notebook, serve_lab
from tests.hostile_logs import FLAG, write_hostile_logs

pytestmark = pytest.mark.browser

LABEL = '<img src=x onerror="window.__pwned=41"> wrong tool'
NOTE = "<script>window.__pwned=42</script> the id is a name"

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


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
    (nb_dir / "annotate.ipynb").write_text(json.dumps(notebook(cells)))
    env = lab_env(root)
    with serve_lab(root, nb_dir, env) as (base, token):
        yield {"base": base, "token": token, "workdir": workdir, "cells": len(cells)}


def test_label_and_note_a_span_in_the_explorer(page, lab: dict) -> None:
    page.goto(f"{lab['base']}/lab/tree/annotate.ipynb?token={lab['token']}")
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell")
    expect(cells).to_have_count(lab["cells"], timeout=60_000)
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(timeout=90_000)
    menu(page, "Run", "Run All Cells")
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
