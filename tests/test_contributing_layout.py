"""docs/CONTRIBUTING.md matches the tree: every module of the package is named in its layout table
(and the table places it in the layer tests/test_import_direction.py gives it), and every folder at
the top of the repository is named in the text.

A module ``a/b/name.py`` is named when the document holds its path (``a/b/name.py``), or when one
line (a table row) names its folder (``b/`` or ``a/b/``) and the module (``name.py`` or ``name``
in backticks); a package by its folder (``a/b/``); a top-level module by ``name.py``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.test_import_direction import LAYER_NAMES, MODULES, layer_of

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "CONTRIBUTING.md"


def _named(dotted: str, is_package: bool, lines: list[str]) -> bool:
    parts = dotted.split(".") if dotted else []
    if not parts:
        return True  # the package itself
    if is_package:
        folder = "/".join(parts) + "/"
        return any(folder in line for line in lines)
    path = "/".join(parts) + ".py"
    if any(path in line for line in lines):
        return True
    name = parts[-1]
    if len(parts) == 1:
        return any(f"`{name}.py`" in line for line in lines)
    folders = ("/".join(parts[:-1]) + "/", parts[-2] + "/")
    mention = re.compile(rf"`(?:[\w/]*/)?{re.escape(name)}(?:\.py)?[`/]")
    return any(any(f in line for f in folders) and mention.search(line) for line in lines)


def _rows(lines: list[str]) -> list[tuple[str, str]]:
    """(layer, row text) of the layout table."""
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3 and cells[0] in LAYER_NAMES:
            rows.append((cells[0], line))
    return rows


def test_every_module_is_named_in_contributing() -> None:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    missing = [
        name.replace(".", "/") + ("/" if is_package else ".py")
        for name, (_path, is_package) in MODULES.items()
        if not _named(name, is_package, lines)
    ]
    assert not missing, f"name these modules in {DOC.relative_to(REPO)} (its layout table): {missing}"


def test_the_table_places_each_module_in_its_layer() -> None:
    """A module named on a table row sits in that row's layer (rows of other layers may mention it)."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    rows = _rows(lines)
    assert len(rows) > 20, rows  # the table was read
    wrong = []
    for name, (_path, is_package) in MODULES.items():
        if not name:
            continue
        layers = {layer for layer, row in rows if _named(name, is_package, [row])}
        expected = LAYER_NAMES[layer_of(name)]  # type: ignore[index]
        if layers and expected not in layers:
            wrong.append(f"{name}: {sorted(layers)} in the table, {expected} in LAYERS")
    assert not wrong, wrong


def test_every_top_level_folder_is_named() -> None:
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    folders = {line.split("/", 1)[0] for line in tracked.splitlines() if "/" in line}
    text = DOC.read_text(encoding="utf-8")
    missing = sorted(f for f in folders if not f.startswith(".") and f"`{f}/" not in text)
    assert not missing, f"name these folders in {DOC.relative_to(REPO)}: {missing}"


def test_the_check_tells_named_from_unnamed() -> None:
    """The rule above on made-up lines (so the test cannot pass by matching everything)."""
    row = "| agent | `agent/*.py` | `planner/` (`state`, `facts.py`), `budget.py` |"
    assert _named("agent.planner.state", False, [row])
    assert _named("agent.planner.facts", False, [row])
    assert _named("agent.planner", True, ["`agent/planner/` the planner"])
    assert not _named("agent.planner.routing", False, [row])
    assert not _named("agent.planner.state", False, ["`state` of something else", "`planner/`"])
    assert _named("engine", False, ["| data | `engine.py` | the engine |"])
    assert not _named("engine", False, ["the engine"])
