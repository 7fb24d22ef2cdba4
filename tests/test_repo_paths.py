"""Nothing in the repository depends on where it was written: no absolute paths of one machine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Hostile inputs for the SQL sandbox and prompt-injection suites name /tmp on purpose (they must be refused).
ALLOWED_TMP = {"tests/data/hostile_sql.txt", "tests/data/harmless_tricky_sql.txt", "tests/data/injections.jsonl"}
MACHINE = re.compile(r"(?<![\w./~-])/(?:" + "|".join(["root", "work", "home", "Users"]) + r")/")
TMP = re.compile(r"(?<![\w./~-])/tmp/")


def tracked_text_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    skip = (".ipynb", ".png", ".parquet", ".whl")
    return [
        name for name in out.splitlines() if not name.startswith("loop_jupyter/static/") and not name.endswith(skip)
    ]


def test_no_machine_paths_in_the_repository() -> None:
    found = []
    for name in tracked_text_files():
        path = ROOT / name
        if not path.is_file() or name in ("tests/test_repo_paths.py", ".gitignore"):  # .gitignore: repo-relative
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if MACHINE.search(line) or (TMP.search(line) and name not in ALLOWED_TMP):
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not found, "absolute paths of one machine:\n" + "\n".join(found)


def test_notebooks_have_no_machine_paths() -> None:
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        assert not MACHINE.search(text), notebook.name
