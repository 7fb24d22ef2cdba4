"""The wheel carries what a fresh `pip install` needs: the built JS, the docs the assistant searches;
every file once, nothing of the checkout's, no machine's paths.

The built lab extension was in the wheel twice: as shared-data (share/jupyter/labextensions/loop-jupyter,
where JupyterLab reads prebuilt extensions) and again as package data (loop_jupyter/labextension), a copy
nothing reads (there is no _jupyter_labextension_paths)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = "loop_jupyter-{version}.data/data/share/jupyter/labextensions/loop-jupyter/"


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


def test_the_lab_extension_is_shipped_once_where_jupyterlab_reads_it(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    version = re.search(r"loop_jupyter-([^-]+)-", Path(wheel.filename or "").name).group(1)  # type: ignore[union-attr]
    shared = [n for n in names if n.startswith(SHARED.format(version=version))]
    built = sorted(p.relative_to(ROOT / "loop_jupyter" / "labextension").as_posix()
                   for p in (ROOT / "loop_jupyter" / "labextension").rglob("*") if p.is_file())  # fmt: skip
    assert sorted(n.removeprefix(SHARED.format(version=version)) for n in shared) == built
    assert not [n for n in names if n.startswith("loop_jupyter/labextension/")]


def test_every_file_once_and_no_paths_of_this_machine(wheel: zipfile.ZipFile) -> None:
    by_content: dict[str, list[str]] = defaultdict(list)
    for info in wheel.infolist():
        data = wheel.read(info)
        if info.filename.endswith((".dist-info/RECORD",)) or not data.strip():
            continue  # RECORD names every file; empty __init__.py files are all alike
        by_content[hashlib.sha256(data).hexdigest()].append(info.filename)
        assert str(ROOT).encode() not in data, info.filename
        assert not re.search(rb"(?<![\w.])/(?:root|home/\w+|work/(?:wt|main|ci|nu))/", data), info.filename
    assert not [names for names in by_content.values() if len(names) > 1]
    assert not [n for n in wheel.namelist() if re.match(r"(tests|bench|js|notebooks|work|\.loop)/", n)]
