"""The wheel as a user installs it: build it, install it into a fresh venv with its dependencies from the
package index (pip's cache is reused), then run what a new user runs: --version, a question, and the
packaged quickstart notebook, opened in JupyterLab headless and executed, with the [lab] extra.

Marked `wheel`: most of its time is pip downloading (measured 7 + 3.5 min of a 12 min run on a loaded 2-core
machine without a pip cache), so `make test` leaves it to `make test-wheel`, which .ci/run runs beside `make test`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import loop_jupyter

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What are the most common errors?"

pytestmark = [pytest.mark.slow, pytest.mark.wheel, pytest.mark.timeout(1200)]


def clean_env(tmp: Path) -> dict[str, str]:
    """No checkout on the path, no keys, no config or Jupyter state of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "LOOP_JUPYTER_MODELS"):
        env.pop(name, None)
    env.update(
        LOOP_JUPYTER_CONFIG=str(tmp / "none.toml"),
        LOOP_JUPYTER_CACHE=str(tmp / "cache"),
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
        JUPYTER_DATA_DIR=str(tmp / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
        XDG_DATA_HOME=str(tmp / "xdg-data"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


class Installed:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = clean_env(tmp)
        self.bin = tmp / "venv" / ("Scripts" if os.name == "nt" else "bin")

    def run(self, *command: str | Path, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        first = str(command[0])
        argv = [str(self.bin / first) if (self.bin / first).exists() else first, *map(str, command[1:])]
        done = subprocess.run(argv, cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            pytest.fail(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Installed, Path]:
    pytest.importorskip("hatchling")
    tmp = tmp_path_factory.mktemp("wheel-install")
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)],
        check=True,
    )
    (wheel,) = dist.glob("loop_jupyter-*.whl")
    venv.EnvBuilder(with_pip=True, clear=True).create(tmp / "venv")
    box = Installed(tmp)
    box.run("python", "-m", "pip", "install", "-q", str(wheel))
    return box, wheel


def test_installed_from_the_wheel_not_the_checkout(installed: tuple[Installed, Path]) -> None:
    box, _ = installed
    where = box.run("python", "-c", "import loop_jupyter; print(loop_jupyter.__file__)").stdout.strip()
    assert Path(where).is_relative_to(box.tmp / "venv"), where


def test_version(installed: tuple[Installed, Path]) -> None:
    box, _ = installed
    expected = f"loop-jupyter {loop_jupyter.__version__}"
    assert box.run("loop-jupyter", "--version").stdout.strip() == expected
    assert box.run("python", "-m", "loop_jupyter", "--version").stdout.strip() == expected


def test_ask_gives_the_same_answer_as_the_checkout(installed: tuple[Installed, Path]) -> None:
    box, _ = installed
    answer = json.loads(box.run("loop-jupyter", "ask", QUESTION, "--json").stdout)  # the built-in demo logs
    assert answer["error"] is None and answer["model"] == "offline"
    assert "error spans in" in answer["text"], answer["text"][:500]
    tables = [a for a in answer["artifacts"] if a["kind"] == "table"]
    assert tables and tables[0]["total_rows"] > 0
    # The demo logs follow the clock, so compare on one written file: the wheel answers as the checkout does.
    logs = box.tmp / "demo.jsonl"
    box.run("loop-jupyter", "demo", logs)
    from_wheel = json.loads(box.run("loop-jupyter", "ask", QUESTION, "--json", "--logs", logs).stdout)
    env = {**box.env, "PYTHONPATH": str(ROOT)}
    reference = subprocess.run(
        [sys.executable, "-m", "loop_jupyter", "ask", QUESTION, "--json", "--logs", str(logs)],
        cwd=box.tmp,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert from_wheel["text"] == json.loads(reference.stdout)["text"]
    assert "error spans in" in from_wheel["text"]


def test_no_pandas_and_no_jupyterlab_without_extras(installed: tuple[Installed, Path]) -> None:
    box, _ = installed
    probe = "import importlib.util as u; print(u.find_spec('pandas') is None, u.find_spec('jupyterlab') is None)"
    assert box.run("python", "-c", probe).stdout.split() == ["True", "True"]
    lab = box.run("loop-jupyter", "lab", "--dir", box.tmp / "nb0", check=False)
    assert lab.returncode == 1
    assert "loop_jupyter[lab]" in lab.stderr


def test_lab_extra_serves_and_runs_the_packaged_quickstart(installed: tuple[Installed, Path]) -> None:
    box, wheel = installed
    box.run("python", "-m", "pip", "install", "-q", f"{wheel}[lab]")
    notebooks = box.tmp / "notebooks"
    served = box.run("loop-jupyter", "lab", "--check", "--dir", notebooks)
    assert "JupyterLab served quickstart.ipynb" in served.stdout
    packaged = box.run("python", "-c", "import loop_jupyter.paths as p; print(p.shipped_notebooks())").stdout.strip()
    assert Path(packaged).is_relative_to(box.tmp / "venv")
    assert (notebooks / "quickstart.ipynb").read_bytes() == (ROOT / "notebooks" / "quickstart.ipynb").read_bytes()
    # The prebuilt lab extension behind "Insert as cell" is installed and enabled, no build step.
    extensions = box.run("jupyter", "labextension", "list")
    listed = re.sub(r"\x1b\[[0-9;]*m", "", extensions.stdout + extensions.stderr)  # it colours even into a pipe
    assert re.search(r"loop-jupyter v\S+ enabled\s+OK", listed), listed
    box.run(
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--ExecutePreprocessor.timeout=300",
        "--output",
        "executed.ipynb",
        notebooks / "quickstart.ipynb",
    )
    executed = json.loads((notebooks / "executed.ipynb").read_text())
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len(outputs) >= 5
