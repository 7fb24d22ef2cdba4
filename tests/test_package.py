"""The wheel carries what a fresh `pip install` needs: the built JS, the docs the assistant searches."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
    )
    (path,) = out.glob("loop_jupyter-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_ships_static_bundle_and_docs(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for static in ("chat.js", "explorer.js", "chat.css", "explorer.css"):
        assert f"loop_jupyter/static/{static}" in names
    # plotly.js is not copied into the package: the widgets send the plotly package's own copy.
    assert "loop_jupyter/static/plotly.js" not in names
    assert any(name.startswith("loop_jupyter/docs/") and name.endswith(".md") for name in names)
    assert "loop_jupyter/loaders/braintrust.py" in names
    assert not any(name.startswith(("tests/", "bench/", "js/")) for name in names)


def test_wheel_static_matches_the_committed_bundle(wheel: zipfile.ZipFile) -> None:
    shipped = wheel.read("loop_jupyter/static/chat.js")
    assert shipped == (ROOT / "loop_jupyter" / "static" / "chat.js").read_bytes()
