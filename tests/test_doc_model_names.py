"""Every model a user copies from the documentation resolves: `--model NAME`, `model="NAME"` and
`%config LoopMagics.model = "NAME"` in README.md, docs/, the docs shipped in the package
(loop_jupyter/docs/) and `%loop --help` (magic.py's docstring). magic.md and `%loop --help` passed
`--model claude-sonnet-4-5`, an API id, which the magic refuses ("unknown model"): the names users
pick are the display names (`claude-4.5-sonnet`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from loop_jupyter.agent.model_config import resolve

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "loop_jupyter" / "docs").glob("*.md")),
    ROOT / "loop_jupyter" / "magic.py",  # its docstring is `%loop --help`
]
MODEL = re.compile(r"""(?:--model[ =]|model=["']|LoopMagics\.model = ["'])([A-Za-z0-9_.:@/*-]+)""")
PLACEHOLDERS = {"NAME", "MODEL"}  # written in capitals: the reader fills them in


def documented_models() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = ast.get_docstring(ast.parse(path.read_text())) or "" if path.suffix == ".py" else path.read_text()
        for name in MODEL.findall(text):
            if name in PLACEHOLDERS or "MODEL@" in name or not re.search("[a-z]", name):  # "..." is a placeholder too
                continue
            found.append((str(path.relative_to(ROOT)), name))
    return found


def test_the_docs_name_models() -> None:
    assert any(name.startswith("claude-") for _, name in documented_models())


@pytest.mark.parametrize(("doc", "name"), documented_models())
def test_documented_model_resolves(doc: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOOP_JUPYTER_MODELS", raising=False)
    monkeypatch.setenv("LOOP_JUPYTER_CONFIG", str(ROOT / "no-such-config.toml"))  # no allow-list of this machine
    assert resolve(name).name == name, doc
