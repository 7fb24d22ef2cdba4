"""A newcomer reads README.md and follows its links: every relative link in README.md and the docs
resolves, and README links every page of the user guide shipped in the package (loop_jupyter/docs:
getting started, the chat, the explorer, %loop, ...), which it did not list before."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "loop_jupyter" / "docs").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _links(path: Path) -> set[Path]:
    text = path.read_text()
    return {(path.parent / t).resolve() for t in LINK.findall(text) if not t.startswith(("http:", "https:", "mailto:"))}


def test_relative_links_resolve() -> None:
    broken = [(doc.relative_to(ROOT), link) for doc in DOCS for link in _links(doc) if not link.exists()]
    assert not broken


def test_readme_links_every_page_of_the_user_guide() -> None:
    guide = set((ROOT / "loop_jupyter" / "docs").glob("*.md"))
    assert guide and guide <= _links(ROOT / "README.md"), sorted(p.name for p in guide - _links(ROOT / "README.md"))


def test_install_commands_install_something_that_exists() -> None:
    """`pip install 'loop_jupyter[lab]'`, the README's first command, failed: the name is not on PyPI
    ("No matching distribution found"). The install commands name the checkout or a built wheel."""
    for doc in (ROOT / "README.md", ROOT / "loop_jupyter" / "docs" / "getting-started.md"):
        blocks = re.findall(r"```bash\n(.*?)```", doc.read_text(), re.S)
        targets = re.findall(r"^pip install '([^']+)'", "\n".join(blocks), re.M)
        assert targets, doc
        for target in targets:
            path = target.split("[", 1)[0]
            assert path == "." or path.startswith("dist/"), (doc.name, target)
