"""Set-up as a new user meets it: `loop-jupyter lab` as root, extra JupyterLab arguments, the work
folder, a missing JupyterLab, --version, platformdirs paths, TQDM_DISABLE."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import loop_jupyter
from loop_jupyter import cli, lab, paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """JupyterLab command lines `loop-jupyter lab` would run (nothing is started)."""
    calls: list[list[str]] = []
    monkeypatch.setattr(lab.subprocess, "call", lambda command: calls.append(list(command)) or 0)
    monkeypatch.setattr(lab, "jupyterlab_installed", lambda: True)
    return calls


def test_lab_as_root_passes_allow_root_and_says_so(
    launched: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(lab, "is_root", lambda: True)
    assert cli.main(["lab", "--dir", str(tmp_path)]) == 0
    (command,) = launched
    assert "--allow-root" in command
    assert "--allow-root" in capsys.readouterr().err


def test_lab_not_root_does_not_pass_allow_root(
    launched: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(lab, "is_root", lambda: False)
    assert cli.main(["lab", "--dir", str(tmp_path)]) == 0
    assert "--allow-root" not in launched[0]


def test_lab_passes_extra_jupyterlab_arguments(
    launched: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(lab, "is_root", lambda: True)
    assert cli.main(["lab", "--dir", str(tmp_path), "--", "--port", "9999", "--no-browser", "--allow-root"]) == 0
    (command,) = launched
    assert command[command.index("--port") + 1] == "9999"
    assert "--no-browser" in command
    assert "--" not in command
    assert command.count("--allow-root") == 1  # the user's own, not doubled
    assert command[-1] == str(tmp_path / "quickstart.ipynb")
    assert f"--ServerApp.root_dir={tmp_path}" in command


@pytest.mark.skipif(sys.platform != "linux", reason="XDG paths")
def test_lab_copies_notebooks_to_the_work_folder_never_over_edits(
    launched: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "data" / "loop_jupyter" / "notebooks").mkdir(parents=True)
    edited = tmp_path / "data" / "loop_jupyter" / "notebooks" / "quickstart.ipynb"
    edited.write_text('{"my": "edits"}')
    assert cli.main(["lab"]) == 0
    assert not list(tmp_path.glob("*.ipynb")), "the default work folder is not the current folder"
    shipped = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in edited.parent.glob("*.ipynb")) == shipped
    assert edited.read_text() == '{"my": "edits"}'
    assert launched[0][-1] == str(edited)


def test_lab_without_jupyterlab_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = lab.importlib.util.find_spec
    monkeypatch.setattr(
        lab.importlib.util, "find_spec", lambda name, *a: None if name == "jupyterlab" else real_find_spec(name, *a)
    )
    monkeypatch.setattr(lab.subprocess, "call", lambda command: pytest.fail("JupyterLab started"))
    assert cli.main(["lab", "--dir", str(tmp_path)]) == 1
    assert "loop_jupyter[lab]" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.ipynb"))


def test_ruff_never_lints_the_work_folder(tmp_path: Path) -> None:
    """make demo's copies in work/ (unlike notebooks/, no per-file ignore) must not fail `ruff check .`."""
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.importorskip("ruff")
        command = [sys.executable, "-m", "ruff"]
    else:
        command = [ruff]
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    lab_dir = tmp_path / "work"
    lab_dir.mkdir()
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", lab_dir)
    (tmp_path / "ok.py").write_text("x = 1\n")
    linted = subprocess.run([*command, "check", "--no-cache", "."], cwd=tmp_path, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    # ... and it is the exclusion that keeps it quiet: the same copy elsewhere fails.
    shutil.copytree(lab_dir, tmp_path / "elsewhere")
    linted = subprocess.run([*command, "check", "--no-cache", "."], cwd=tmp_path, capture_output=True, text=True)
    assert linted.returncode == 1 and "elsewhere" in linted.stdout


def test_check_lab_reports_a_server_that_dies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check fails (exit 1, the server's log on stderr) when JupyterLab exits instead of serving."""
    dying = [sys.executable, "-c", "import sys; print('server says boom'); sys.exit(3)"]
    monkeypatch.setattr(lab, "lab_command", lambda *args, **kwargs: dying)
    assert lab.check_lab(tmp_path, [], root=False, timeout=60) == 1
    err = capsys.readouterr().err
    assert "did not serve quickstart.ipynb" in err and "server says boom" in err


# -- --version ---------------------------------------------------------------------------------------
def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"loop-jupyter {loop_jupyter.__version__}"


def test_python_dash_m_version() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "loop_jupyter", "--version"], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == f"loop-jupyter {loop_jupyter.__version__}"


def test_version_is_written_once() -> None:
    """pyproject.toml takes the version from loop_jupyter/_version.py; nothing else spells it."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "loop_jupyter/_version.py"
    version = loop_jupyter.__version__
    spelled = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "loop_jupyter").rglob("*.py")
        if f'"{version}"' in path.read_text(encoding="utf-8")
    ]
    assert spelled == [str(Path("loop_jupyter") / "_version.py")]


# -- config and cache paths ----------------------------------------------------------------------------
@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("LOOP_JUPYTER_CONFIG", "LOOP_JUPYTER_CACHE", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.mark.skipif(sys.platform != "linux", reason="XDG paths")
def test_config_follows_xdg_config_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loop_jupyter.agent import models

    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    config = home / "xdg" / "loop_jupyter" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('default_model = "offline"\nmodels = ["offline"]\n')
    assert paths.config_path() == config
    assert models.config_path() == config
    assert models.load_config()["models"] == ["offline"]


@pytest.mark.skipif(sys.platform != "linux", reason="XDG paths")
def test_old_config_location_is_still_read(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    legacy = home / ".config" / "loop_jupyter" / "config.toml"
    legacy.parent.mkdir(parents=True)
    legacy.write_text("models = ['offline']\n")
    assert paths.config_path() == legacy
    new = home / "xdg" / "loop_jupyter" / "config.toml"
    new.parent.mkdir(parents=True)
    new.write_text("models = []\n")
    assert paths.config_path() == new  # once the platform's file exists, it wins
    monkeypatch.setenv("LOOP_JUPYTER_CONFIG", str(home / "explicit.toml"))
    assert paths.config_path() == home / "explicit.toml"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG paths")
def test_cache_follows_xdg_cache_home_and_old_location(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loop_jupyter import embeddings

    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg-cache"))
    assert embeddings.cache_dir() == home / "xdg-cache" / "loop_jupyter"
    (home / ".cache" / "loop_jupyter").mkdir(parents=True)
    assert embeddings.cache_dir() == home / ".cache" / "loop_jupyter"
    monkeypatch.setenv("LOOP_JUPYTER_CACHE", str(home / "mine"))
    assert embeddings.cache_dir() == home / "mine"


def test_paths_module_prints_where(home: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOOP_JUPYTER_CONFIG": str(home / "c.toml")}
    out = subprocess.run(
        [sys.executable, "-m", "loop_jupyter.paths"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert f"config     {home / 'c.toml'}" in out


# -- TQDM_DISABLE ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tqdm_disable", "forced", "disabled"),
    [
        ("1", None, True),
        ("true", None, True),
        ("0", None, False),
        ("", None, False),
        (None, None, False),
        ("1", "1", False),
        (None, "0", True),
    ],
)
def test_progress_bar_honours_tqdm_disable(
    monkeypatch: pytest.MonkeyPatch, tqdm_disable: str | None, forced: str | None, disabled: bool
) -> None:
    from loop_jupyter.progress import progress_bar

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: bars on unless switched off
    for name, value in (("TQDM_DISABLE", tqdm_disable), ("LOOP_JUPYTER_PROGRESS", forced)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with open(os.devnull, "w") as sink:
        bar = progress_bar(total=3, file=sink)
        try:
            assert bar.disable is disabled
        finally:
            bar.close()


def test_py_typed_marker() -> None:
    assert (ROOT / "loop_jupyter" / "py.typed").is_file()


def test_shipped_notebooks_are_valid_in_the_checkout() -> None:
    folder = paths.shipped_notebooks()
    assert folder == ROOT / "notebooks"
    assert json.loads((folder / "quickstart.ipynb").read_text())["cells"]
