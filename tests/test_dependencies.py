"""pyproject.toml declares what the package imports, and nothing it does not need."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Imported only on a path that the caller's own object brings along (a pandas frame handed to
# load_logs comes with pandas): not a dependency.
# chDB and clickhouse-connect come with the [clickhouse] extra (loop_jupyter.clickhouse imports them lazily).
OPTIONAL = {"pandas", "chdb", "chdb-core", "clickhouse-connect"}
# Needed at run time without an import statement of ours.
RUNTIME_ONLY = {"ipywidgets"}  # the widgets' front end in Jupyter (anywidget builds on it)


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


def imported_modules() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "loop_jupyter").rglob("*.py"):
        if "static" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in ("loop_jupyter", "__future__")}


def imported_distributions() -> dict[str, str]:
    """distribution name -> a module of ours that imports it"""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, str] = {}
    for module in imported_modules():
        dists = owners.get(module)
        assert dists, f"{module} is imported but no installed distribution provides it"
        found[dists[0].lower().replace("_", "-")] = module
    return found


def test_every_imported_distribution_is_declared() -> None:
    missing = set(imported_distributions()) - declared() - OPTIONAL
    assert not missing, f"imported but not declared in pyproject dependencies: {sorted(missing)}"


def test_every_declared_dependency_is_imported() -> None:
    unused = declared() - set(imported_distributions()) - RUNTIME_ONLY
    assert not unused, f"declared but never imported: {sorted(unused)}"


def test_optional_imports_stay_optional() -> None:
    assert not (OPTIONAL & declared())
