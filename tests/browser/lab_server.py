"""JupyterLab for the browser tests: its folders and environment (``lab_env``), notebooks
(``notebook``), started on a free port with a token and stopped afterwards (``serve_lab``), and a
notebook opened and run whole (``open_and_run_all``). The browser and page fixtures are in
conftest.py."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
#: Model keys and endpoints a lab's kernels must not see (no request leaves the machine).
MODEL_ENV = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "LOOP_JUPYTER_MODELS")

#: Where a lab's own state goes, below its root (LOOP_JUPYTER_CONFIG: a config file that is not there).
LAB_FOLDERS = {
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTERLAB_SETTINGS_DIR": "settings",
    "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
    "LOOP_JUPYTER_CONFIG": "none.toml",
}


def notebook(sources: list[str]) -> dict:
    """An nbformat 4 notebook of code cells (not run) on the python3 kernel."""
    cells = [
        {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}
        for source in sources
    ]
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def lab_env(root: Path, *, settings: bool = True, extension: bool = False) -> dict[str, str]:
    """The environment of a JupyterLab of the test's own under ``root``: its own config, runtime,
    settings and workspaces folders, this repository on the kernels' path, no model keys and no user
    config. ``settings``: no news, and every cell rendered (JupyterLab 4 windows long notebooks:
    off-screen prompts would never update); ``LOOP_JUPYTER_TEST_THEME=dark`` to look at the widgets
    in the dark theme. ``extension``: the lab extension as the wheel installs it
    (share/jupyter/labextensions/loop-jupyter), found through JUPYTER_PATH."""
    if settings:
        lab = root / "settings" / "@jupyterlab"
        (lab / "apputils-extension").mkdir(parents=True)
        (lab / "apputils-extension" / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        if os.environ.get("LOOP_JUPYTER_TEST_THEME") == "dark":
            (lab / "apputils-extension" / "themes.jupyterlab-settings").write_text(
                json.dumps({"theme": "JupyterLab Dark"})
            )
        (lab / "notebook-extension").mkdir(parents=True)
        (lab / "notebook-extension" / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {k: v for k, v in os.environ.items() if k not in MODEL_ENV}
    env.update({name: str(root / below) for name, below in LAB_FOLDERS.items()}, PYTHONPATH=str(REPO))
    if extension:
        (root / "data" / "labextensions").mkdir(parents=True)
        (root / "data" / "labextensions" / "loop-jupyter").symlink_to(REPO / "loop_jupyter" / "labextension")
        env["JUPYTER_PATH"] = str(root / "data")
    return env


def open_and_run_all(page, lab: dict, name: str) -> None:
    """Open ``lab["nb_dir"]/name`` in a workspace of its own (in a shared one JupyterLab restores
    the previous test's notebook too, and "Run All Cells" may go to that one), run all its cells,
    and wait until each has run."""
    from playwright.sync_api import expect

    workspace = name.split(".")[0]
    page.goto(f"{lab['base']}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab['token']}")
    # Cells render progressively: count them from the file, not from what is on screen yet.
    cells_in_file = json.loads((lab["nb_dir"] / name).read_text())["cells"]
    n_code = sum(cell["cell_type"] == "code" for cell in cells_in_file)
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell")
    expect(cells).to_have_count(n_code, timeout=60_000)
    status = page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"ipykernel\) \| Idle"))
    expect(status.first).to_be_visible(timeout=90_000)
    menu(page, "Run", "Run All Cells")
    for i in range(n_code):
        expect(cells.nth(i).locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=180_000)


def menu(page, top: str, item: str) -> None:
    """Click ``item`` in JupyterLab's ``top`` menu."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{item}$")).click()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_lab(root: Path, nb_dir: Path, env: dict[str, str], app: str = "lab") -> Iterator[tuple[str, str]]:
    """Run ``jupyter lab`` (or ``app="notebook"``: Notebook 7) on ``nb_dir`` until the block ends;
    yields (base URL, token). Its log is ``root/lab.log``."""
    port, token = free_port(), secrets.token_hex(16)
    log = open(root / "lab.log", "w")  # noqa: SIM115 - closed in the finally below
    command = [
        str(Path(sys.executable).parent / "jupyter"), app, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={nb_dir}", "--ServerApp.port_retries=0",
        "--allow-root", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=nb_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(root / 'lab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not answer within 60 s")
            time.sleep(0.2)  # polling a server that is starting, not waiting on the page
        yield f"http://127.0.0.1:{port}", token
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
