"""The prebuilt lab extension behind "Insert as cell" (issue 14 item 7): built from labextension/,
shipped in the wheel where JupyterLab and Notebook 7 look for prebuilt extensions, and speaking the
same DOM event as the chat widget. tests/browser/test_widget_views.py clicks it in JupyterLab."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILT = REPO / "loop_jupyter" / "labextension"
SOURCE = REPO / "labextension"
EVENT = re.compile(r'"(loop-jupyter:insert-cell)"')


def test_the_wheel_installs_the_extension_where_jupyter_finds_it() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    assert shared["loop_jupyter/labextension"] == "share/jupyter/labextensions/loop-jupyter"
    built = json.loads((BUILT / "package.json").read_text())
    source = json.loads((SOURCE / "package.json").read_text())
    assert built["name"] == source["name"] == "loop-jupyter" and built["version"] == source["version"]
    assert (BUILT / built["jupyterlab"]["_build"]["load"]).is_file()  # the entry point JupyterLab loads
    assert json.loads((BUILT / "install.json").read_text())["packageName"] == "loop_jupyter"


def test_the_extension_and_the_widget_use_the_same_event() -> None:
    widget = set(EVENT.findall((REPO / "js" / "chat_cards.js").read_text()))
    source = set(EVENT.findall((SOURCE / "index.js").read_text()))
    built = {e for f in (BUILT / "static").glob("*.js") for e in EVENT.findall(f.read_text())}
    assert widget == source == built == {"loop-jupyter:insert-cell"}
    assert "loop-jupyter:insert-cell" in (REPO / "loop_jupyter" / "static" / "chat.js").read_text()
