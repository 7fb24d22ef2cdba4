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


def test_wheel_ships_the_notebooks_and_py_typed(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "loop_jupyter/py.typed" in names
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        shipped = wheel.read(f"loop_jupyter/notebooks/{notebook.name}")
        assert shipped == notebook.read_bytes()  # one source of truth: the checkout's notebooks/
    assert not any("checkpoint" in name or "loop_datasets" in name for name in names)


def test_wheel_metadata_version_and_extras(wheel: zipfile.ZipFile) -> None:
    import loop_jupyter

    (meta_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    meta = wheel.read(meta_name).decode()
    assert f"\nVersion: {loop_jupyter.__version__}\n" in meta
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    plain = [r for r in requires if "extra ==" not in r]
    assert not any(r.lower().startswith("pandas") for r in plain), "pandas is optional"
    assert any(r.startswith("jupyterlab") and "extra == 'lab'" in r for r in requires)
    assert not any(r.startswith("jupyterlab") for r in plain)
