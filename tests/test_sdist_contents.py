"""The sdist holds the checkout's tracked files, wherever the checkout is.

hatchling reads .gitignore for the sdist, but drops every one of its patterns when one of them matches
the checkout's own path: a clone in a top-level folder named work (as on CI) matched the anchored work/
pattern, one under a folder named dist matches dist/. The sdist then shipped `make demo`'s notebook copies (work/), the run log of
`ask` (.loop/runs: every question asked), .hypothesis and js/node_modules. pyproject.toml now names
them in the sdist's own exclude list, which applies wherever the checkout is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What a working checkout holds after `make demo`, `make test` and a notebook session: never shipped.
LOCAL_FILES = (
    "work/quickstart.ipynb",
    ".loop/runs/2026-11-30.jsonl",
    ".hypothesis/constants/0a0025982a92a1e6",
    "js/node_modules/esbuild/package.json",
    "labextension/node_modules/x/index.js",
    "tests/artifacts/chat-answer.png",
    "tests/browser/screenshots/light.png",
    "bench/data/spans.jsonl",
    "loop_datasets/slow_errors/v1.parquet",
    "notebooks/.ipynb_checkpoints/quickstart-checkpoint.ipynb",
    ".pytest_cache/v/cache/lastfailed",
    "dist/loop_jupyter-0.1.0.tar.gz",
    ".ci/run",
)
#: Tracked files the sdist keeps.
SHIPPED = ("pyproject.toml", "README.md", "loop_jupyter/__init__.py", "notebooks/quickstart.ipynb", "js/chat.js")


@pytest.mark.parametrize("parent", ["src", "dist", ".loop"])
def test_sdist_leaves_out_local_files_wherever_the_checkout_is(tmp_path: Path, parent: str) -> None:
    sdist = pytest.importorskip("hatchling.builders.sdist")
    root = tmp_path / parent / "checkout"
    root.mkdir(parents=True)
    for name in ("pyproject.toml", ".gitignore", "README.md", "loop_jupyter/_version.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    (root / ".git").mkdir()  # where hatchling stops looking for a .gitignore
    for name in (*SHIPPED, *LOCAL_FILES):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    shipped = {f.distribution_path for f in sdist.SdistBuilder(str(root)).recurse_included_files()}
    assert set(SHIPPED) <= shipped
    assert not shipped & set(LOCAL_FILES), sorted(shipped & set(LOCAL_FILES))
