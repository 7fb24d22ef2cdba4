"""Files: datasets, scorers and ``loop_jupyter.save`` are written atomically (temporary file, then a
hard link / rename), never overwrite an existing version or file, and an interrupted write (an
exception, KeyboardInterrupt, or a killed process) leaves no partial file under a real name.

tests/test_analysis_datasets.py already checks one KeyboardInterrupt during a dataset write; this
file runs every interruption against every writer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter import save
from loop_jupyter.analysis import _versioned
from loop_jupyter.analysis.datasets import create_dataset, load_dataset
from loop_jupyter.analysis.scorers import create_scorer, load_scorer
from loop_jupyter.artifacts import Pending
from loop_jupyter.tools import ToolContext
from tests.agent_fixtures import build_logs

REPO = Path(__file__).resolve().parents[1]


class Boom(Exception):
    pass


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return build_logs(n_traces=8)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def partial_then(exc: BaseException) -> Callable[..., None]:
    """A writer that leaves half a file behind, then fails the way a real write can."""

    def write(self_or_path, path=None, *args, **kwargs) -> None:
        target = path if path is not None else self_or_path
        Path(target).write_bytes(b"PAR1 half a file")
        raise exc

    return write


INTERRUPTIONS = {
    "OSError (disk full)": OSError(28, "No space left on device"),
    "KeyboardInterrupt": KeyboardInterrupt(),
    "an exception in the writer": Boom("writer bug"),
}


def dataset_pending(ctx: ToolContext, name: str = "ds") -> Pending:
    return create_dataset(ctx, name=name, where="true").first(Pending)


def scorer_pending(ctx: ToolContext, name: str = "sc") -> Pending:
    return create_scorer(ctx, name=name, pattern="timeout").first(Pending)


@pytest.mark.parametrize("interruption", list(INTERRUPTIONS))
@pytest.mark.parametrize("stage", ["main file", "companion json", "publish (link)"])
@pytest.mark.parametrize("kind", ["dataset", "scorer"])
def test_interrupted_versioned_write_leaves_no_partial_file(
    kind: str, stage: str, interruption: str, logs: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = ToolContext(logs=logs, workdir=tmp_path)
    make = dataset_pending if kind == "dataset" else scorer_pending
    folder = (ctx.datasets_dir / "ds") if kind == "dataset" else (ctx.scorers_dir / "sc")
    ext = "parquet" if kind == "dataset" else "py"
    make(ctx).action()  # v1, written normally
    before = snapshot(folder)
    pending = make(ctx)
    exc = INTERRUPTIONS[interruption]
    if stage == "main file" and kind == "dataset":
        monkeypatch.setattr(pl.DataFrame, "write_parquet", partial_then(exc))
    elif stage == "main file":
        real_write_text = Path.write_text
        monkeypatch.setattr(
            Path,
            "write_text",
            lambda self, *a, **k: (
                partial_then(exc)(self)
                if self.name.startswith(".tmp-") and "v" not in self.suffix
                else real_write_text(self, *a, **k)
            ),
        )
    elif stage == "companion json":
        real_temp = _versioned._temp
        calls = {"n": 0}

        def temp(folder: Path, writer):
            calls["n"] += 1
            if calls["n"] == 2:  # the companion: the main file is already published
                return real_temp(folder, partial_then(exc))
            return real_temp(folder, writer)

        monkeypatch.setattr(_versioned, "_temp", temp)
    else:
        monkeypatch.setattr(_versioned.os, "link", lambda *a, **k: (_ for _ in ()).throw(exc))
        monkeypatch.setattr(_versioned.os, "replace", lambda *a, **k: (_ for _ in ()).throw(exc))
    with pytest.raises(type(exc)):
        pending.action()
    monkeypatch.undo()
    after = snapshot(folder)
    # No temporary file is left and v1 is untouched.
    assert not [n for n in after if n.startswith(".tmp-")], after
    assert {n: after[n] for n in before} == before
    new = sorted(set(after) - set(before))
    if stage == "companion json":
        # The main file was complete and published before the companion failed: it is whole.
        assert new == [f"v2.{ext}"]
        if kind == "dataset":
            assert load_dataset(folder / "v2.parquet").height == logs.get_column("root_span_id").n_unique()
        else:
            assert callable(load_scorer(folder / "v2.py").score)
    else:
        assert new == []
    # Confirming again (the proposal is still waiting) takes the version it showed if still free,
    # else the next free one, and never overwrites.
    pending.action()
    final = snapshot(folder)
    assert {n: final[n] for n in after if not n.endswith(".json") or n in before} == {
        n: after[n] for n in after if not n.endswith(".json") or n in before
    }
    assert _versioned.versions(folder, ext)[-1] == (3 if stage == "companion json" else 2)


def test_concurrent_writers_never_share_a_version(logs: pl.DataFrame, tmp_path: Path) -> None:
    ctx = ToolContext(logs=logs, workdir=tmp_path)
    pendings = [dataset_pending(ctx) for _ in range(6)] + [scorer_pending(ctx) for _ in range(6)]
    errors: list[BaseException] = []

    def run(p: Pending) -> None:
        try:
            p.action()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in pendings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _versioned.versions(ctx.datasets_dir / "ds", "parquet") == [1, 2, 3, 4, 5, 6]
    assert _versioned.versions(ctx.scorers_dir / "sc", "py") == [1, 2, 3, 4, 5, 6]
    for version in range(1, 7):
        assert load_dataset(ctx.datasets_dir / "ds" / f"v{version}.parquet").height > 0


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
@pytest.mark.parametrize("interruption", list(INTERRUPTIONS))
def test_save_is_atomic_and_never_overwrites(
    suffix: str, interruption: str, logs: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / f"logs{suffix}"
    exc = INTERRUPTIONS[interruption]
    method = "write_ipc" if suffix == ".arrow" else "write_parquet"
    monkeypatch.setattr(pl.DataFrame, method, partial_then(exc))
    with pytest.raises(type(exc)):
        save(logs, path)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary file
    assert save(logs, path) == path
    written = path.read_bytes()
    with pytest.raises(FileExistsError):
        save(logs.head(1), path)
    assert path.read_bytes() == written
    reread = pl.read_ipc(path) if suffix == ".arrow" else pl.read_parquet(path)
    assert reread.height == logs.height


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import polars as pl
    sys.path.insert(0, {repo!r})
    from loop_jupyter import save
    from loop_jupyter.analysis.datasets import create_dataset
    from loop_jupyter.analysis.scorers import create_scorer
    from loop_jupyter.artifacts import Pending
    from loop_jupyter.tools import ToolContext
    from tests.agent_fixtures import build_logs

    def stall(self_or_path, path=None, *args, **kwargs):
        target = Path(path if path is not None else self_or_path)
        target.write_bytes(b"PAR1 half a file")
        print("WRITING", flush=True)
        time.sleep(60)  # killed here, mid-write

    logs = build_logs(n_traces=5)
    ctx = ToolContext(logs=logs, workdir=Path({work!r}))
    what = sys.argv[1]
    if what == "dataset":
        pl.DataFrame.write_parquet = stall
        create_dataset(ctx, name="ds", where="true").first(Pending).action()
    elif what == "scorer":
        Path.write_text = lambda self, *a, **k: stall(self)
        create_scorer(ctx, name="sc", pattern="x").first(Pending).action()
    else:
        pl.DataFrame.write_parquet = stall
        save(logs, Path({work!r}) / "saved.parquet")
    """
)


@pytest.mark.parametrize("what", ["dataset", "scorer", "save"])
def test_killed_process_leaves_no_partial_file(what: str, logs: pl.DataFrame, tmp_path: Path) -> None:
    ctx = ToolContext(logs=logs, workdir=tmp_path)
    if what == "dataset":
        dataset_pending(ctx).action()
    elif what == "scorer":
        scorer_pending(ctx).action()
    folder = {"dataset": ctx.datasets_dir / "ds", "scorer": ctx.scorers_dir / "sc", "save": tmp_path}[what]
    before = snapshot(folder)
    script = KILLED_WRITER.format(repo=str(REPO), work=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-c", script, what], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.strip() == "WRITING", process.stderr.read() if process.stderr else ""
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    after = snapshot(folder)
    assert {n: after[n] for n in before} == before
    # A killed process cannot clean up its hidden temporary file, but no real name is partial:
    # versions() and loaders ignore it, and the next write takes the next version.
    leftovers = sorted(set(after) - set(before))
    assert all(n.startswith(".") for n in leftovers), leftovers
    if what == "save":
        assert not (tmp_path / "saved.parquet").exists()
        assert save(logs, tmp_path / "saved.parquet").exists()
        return
    ext = "parquet" if what == "dataset" else "py"
    assert _versioned.versions(folder, ext) == [1]
    (dataset_pending if what == "dataset" else scorer_pending)(ctx).action()
    assert _versioned.versions(folder, ext) == [1, 2]
