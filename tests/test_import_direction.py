"""The package's shape holds: imports go one way (data -> tools -> analysis -> agent -> surfaces),
no import cycle (function-level imports included), every tool module is listed once, and no module
grows past ~500 lines except the listed ones.

Imports are read with ``ast`` from the source (module- and function-level, ``if TYPE_CHECKING:``
blocks excluded: they never run), so a lazy ``from ..cli import open_logs`` inside a function counts.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import loop_jupyter

PACKAGE = Path(loop_jupyter.__file__).resolve().parent

DATA, TOOLS, ANALYSIS, AGENT, SURFACES = range(5)
LAYER_NAMES = ["data", "tools", "analysis", "agent", "surfaces"]

#: Every module's layer, by longest dotted prefix (relative to ``loop_jupyter``). A new module
#: must be placed here (the test says so). A module may import its own layer or any lower one.
LAYERS: dict[str, int] = {
    "schema": DATA,
    "report": DATA,
    "frame": DATA,
    "loaders": DATA,
    "engine": DATA,
    "annotations": DATA,  # the annotation store (versioned Parquet) the engine's annotations view reads
    "sql_guard": DATA,
    "sql_sizes": DATA,
    "sources": DATA,
    "clickhouse": DATA,
    "safejson": DATA,
    "safefiles": DATA,
    "paths": DATA,
    "_version": DATA,
    "sqltext": DATA,
    "artifacts": DATA,
    # Escaped HTML/text of artifacts and load reports; imported (lazily) by their _repr_mimebundle_.
    "render": DATA,
    "snippet": DATA,
    "progress": DATA,
    "demo": DATA,
    "tools": TOOLS,
    "core_tools": TOOLS,  # re-export of tools.core for code generated before the move
    "embeddings": TOOLS,
    "analysis": ANALYSIS,
    "agent": AGENT,
    "widgets": SURFACES,
    "magic": SURFACES,
    "cli": SURFACES,
    "cli_commands": SURFACES,
    "lab": SURFACES,
    "cli_store": SURFACES,
    "cli_output": SURFACES,
    "terminal": SURFACES,
    "__main__": SURFACES,
    "": SURFACES,  # loop_jupyter/__init__.py: the public facade
}

#: Runtime back-edges that are known and allowed (each only shrinks). An artifact and a load
#: report display themselves (``_repr_mimebundle_``) by calling the renderer at display time,
#: while the renderer reads the artifact classes: the one two-way pair left.
KNOWN_BACK_EDGES = {
    ("artifacts", "render"),
    ("report", "render"),
}

#: Modules over MAX_LINES that are known: each entry only shrinks (the test fails when one is
#: back under the limit or gone, so the list is kept honest).
MAX_LINES = 500
SIZE_EXCEPTIONS = {
    "clickhouse/adapters.py": "the SQL text of three schema adapters (data tables, 514 lines)",
    "loaders/attributes.py": "mostly the attribute-key tables of OTel GenAI / OpenInference / Vercel AI",
}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted names (relative to loop_jupyter, "" for the package) -> (path, is_package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def _dotted(full: str) -> str | None:
    """``loop_jupyter.a.b`` -> ``a.b`` (``""`` for the package); None outside the package."""
    if full == "loop_jupyter":
        return ""
    return full.removeprefix("loop_jupyter.") if full.startswith("loop_jupyter.") else None


def imports_of(name: str, modules: dict[str, tuple[Path, bool]] = MODULES) -> set[str]:
    """The package modules ``name`` imports at runtime (dotted, relative to loop_jupyter)."""
    path, is_package = modules[name]
    package = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            if node.level:
                base = ["loop_jupyter", *[p for p in package.split(".") if p]]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from x import y`: y when it is a submodule, else x itself.
            submodules = [f"{module}.{a.name}" for a in node.names if _dotted(f"{module}.{a.name}") in modules]
            names = submodules or [module]
        for full in names:
            dotted = _dotted(full)
            if dotted is not None and dotted in modules:
                targets.add(dotted)
    targets.discard(name)
    return targets


def layer_of(name: str) -> int | None:
    """The layer of a module: its longest listed dotted prefix (``""`` only matches the package)."""
    if name in LAYERS:
        return LAYERS[name]
    prefixes = [p for p in LAYERS if p and name.startswith(p + ".")]
    return LAYERS[max(prefixes, key=len)] if prefixes else None


def graph(modules: dict[str, tuple[Path, bool]] = MODULES) -> dict[str, set[str]]:
    return {name: imports_of(name, modules) for name in modules}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_every_module_has_a_layer() -> None:
    unplaced = [name or "__init__" for name in MODULES if layer_of(name) is None]
    assert not unplaced, f"place these modules in LAYERS of {Path(__file__).name}: {unplaced}"


def test_imports_go_one_way() -> None:
    wrong = []
    for name, targets in graph().items():
        own = layer_of(name)
        for target in sorted(targets):
            theirs = layer_of(target)
            if own is None or theirs is None or (name, target) in KNOWN_BACK_EDGES:
                continue
            if theirs > own:
                wrong.append(f"{name} ({LAYER_NAMES[own]}) imports {target} ({LAYER_NAMES[theirs]})")
    assert not wrong, "imports against the direction data -> tools -> analysis -> agent -> surfaces:\n" + "\n".join(
        wrong
    )


def test_no_import_cycle() -> None:
    edges = graph()
    for source, target in KNOWN_BACK_EDGES:
        edges[source].discard(target)
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_known_back_edges_still_exist() -> None:
    edges = graph()
    gone = sorted(edge for edge in KNOWN_BACK_EDGES if edge[1] not in edges.get(edge[0], set()))
    assert not gone, f"remove these from KNOWN_BACK_EDGES, they are gone: {gone}"


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path: Path) -> None:
    """The cycles issue 15 found were lazy imports inside functions: the checker must see them."""
    root = tmp_path / "loop_jupyter"
    (root / "agent").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "agent" / "__init__.py").write_text("")
    (root / "cli.py").write_text("from .agent.commands import run\n")
    (root / "agent" / "commands.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..schema import X\n"
        "def run():\n    from ..cli import open_logs\n    return open_logs\n"
    )
    (root / "schema.py").write_text("")
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    edges = graph(modules)
    assert edges["agent.commands"] == {"cli"}  # the TYPE_CHECKING import is not a runtime edge
    assert find_cycle(edges) == ["agent.commands", "cli", "agent.commands"]


def test_every_tool_module_is_listed_once() -> None:
    from loop_jupyter.tools import TOOL_MODULES

    assert len(TOOL_MODULES) == len(set(TOOL_MODULES))
    defining = set()
    for name, (path, _) in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(target, ast.Name) and target.id == "tool":
                        defining.add(f"loop_jupyter.{name}")
    assert defining == set(TOOL_MODULES)


def test_the_registry_imports_no_tool_module() -> None:
    code = (
        "import sys; import loop_jupyter.tools as t; "
        "loaded = sorted(m for m in sys.modules if m.startswith(('loop_jupyter.analysis', 'loop_jupyter.tools.core'))); "
        "assert not loaded, loaded; assert not t.REGISTRY, list(t.REGISTRY); "
        "t.load_tools(strict=True); assert {'run_sql', 'summarize_trace', 'common_errors'} <= set(t.REGISTRY)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_500_lines(name: str) -> None:
    path = MODULES[name][0]
    relative = path.relative_to(PACKAGE).as_posix()
    if relative in SIZE_EXCEPTIONS:
        assert _lines(path) > MAX_LINES, f"{relative} is back under {MAX_LINES} lines: drop it from SIZE_EXCEPTIONS"
        return
    assert _lines(path) <= MAX_LINES, f"{relative} has {_lines(path)} lines: split it along its seams"


def test_size_exceptions_exist() -> None:
    missing = sorted(p for p in SIZE_EXCEPTIONS if not (PACKAGE / p).exists())
    assert not missing, f"remove these from SIZE_EXCEPTIONS, they are gone: {missing}"
