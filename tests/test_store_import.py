"""Importing into a DuckDB store: appends, duplicate ids, interruptions, and a second process.

DuckDB allows one writer process or many reader processes per file: these tests pin what the
user sees in each case (a clear StoreLockedError, never a damaged store).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.cli import main
from loop_jupyter.sources import DuckDBStore, StoreLockedError
from loop_jupyter.sources.importer import import_logs

from .store_helpers import ROOT, rows, write_split_jsonl


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pl.DataFrame]:
    """A first export (one file) and a second one split into 4 files (a folder: 4 batches)."""
    folder = tmp_path_factory.mktemp("imports")
    from loop_jupyter.demo import write_demo_jsonl

    write_demo_jsonl(folder / "first.jsonl", n_traces=120, seed=11)
    second = lj.demo_logs(n_traces=160, seed=12)
    write_split_jsonl(second, folder / "second", 4)
    return folder / "first.jsonl", folder / "second", lj.load_logs(folder / "second")


def _snapshot(url: str) -> tuple[list[str], list[str]]:
    with lj.connect(url) as store:
        return rows(store.filter()), rows(store.sql("SELECT * FROM traces"))


def test_append_then_reimport_skips_and_reports_duplicates(
    parts: tuple[Path, Path, pl.DataFrame], tmp_path: Path
) -> None:
    first, second, second_frame = parts
    url = f"duckdb:///{tmp_path}/logs.duckdb"
    one = import_logs(first, url, progress=False)
    two = import_logs(second, url, progress=False)
    assert two.batches == 4 and two.duplicates == 0
    assert two.spans_total == one.spans_added + second_frame.height
    # Both exports together: the same spans and traces as one frame of both.
    both = pl.concat([lj.load_logs(first), second_frame])
    with lj.connect(url) as store:
        assert store.filter().equals(both)
        assert rows(store.sql("SELECT * FROM traces")) == rows(lj.traces(both))
        # the table keeps the view's order after an append: the same first rows without ORDER BY
        first = "SELECT root_span_id FROM traces LIMIT 50"
        assert store.sql(first).equals(lj.sql(both, first))
    before = _snapshot(url)
    again = import_logs(second, url, progress=False)
    assert again.spans_added == 0
    assert again.duplicates == second_frame.height
    assert len(again.duplicate_ids) == 20 and set(again.duplicate_ids) <= set(second_frame.get_column("id"))
    assert "skipped" in again.summary() and f"{second_frame.height:,}" in again.summary()
    assert _snapshot(url) == before


def test_a_partly_new_export_adds_only_the_new_spans(parts: tuple[Path, Path, pl.DataFrame], tmp_path: Path) -> None:
    _, second, second_frame = parts
    url = f"duckdb:///{tmp_path}/logs.duckdb"
    import_logs(second / "part-00.jsonl", url, progress=False)
    result = import_logs(second, url, progress=False)
    in_first = lj.load_logs(second / "part-00.jsonl").height
    assert result.duplicates == in_first
    assert result.spans_added == second_frame.height - in_first
    with lj.connect(url) as store:
        assert rows(store.filter()) == rows(second_frame)
        assert store.stats().traces == second_frame.get_column("root_span_id").n_unique()


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_an_interrupted_import_leaves_the_store_as_it_was(
    parts: tuple[Path, Path, pl.DataFrame], tmp_path: Path, error: type[BaseException]
) -> None:
    first, second, _ = parts
    url = f"duckdb:///{tmp_path}/logs.duckdb"
    import_logs(first, url, progress=False)
    before = _snapshot(url)
    seen = []

    def stop(batches: int, added: int) -> None:
        seen.append(added)
        if batches == 3:
            raise error("stopped mid-way")

    with pytest.raises(error):
        import_logs(second, url, progress=False, on_batch=stop)
    assert len(seen) == 3 and seen[-1] > 0  # three batches were written before the stop
    assert _snapshot(url) == before
    # ... and the store takes the same import afterwards
    assert import_logs(second, url, progress=False).duplicates == 0


def test_an_interrupted_first_import_leaves_no_store(parts: tuple[Path, Path, pl.DataFrame], tmp_path: Path) -> None:
    _, second, _ = parts
    path = tmp_path / "new.duckdb"

    def stop(batches: int, added: int) -> None:
        raise Boom("stopped")

    with pytest.raises(Boom):
        import_logs(second, f"duckdb:///{path}", progress=False, on_batch=stop)
    assert not path.exists() and not Path(str(path) + ".wal").exists()


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait_for(path: Path, child: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if child.poll() is not None:
            raise AssertionError(f"child ended early: {child.communicate()}")
        assert time.monotonic() < deadline, "child did not get there"
        time.sleep(0.05)


_KILLED_MID_IMPORT = """
import os, signal, sys
from pathlib import Path
from loop_jupyter.sources.importer import import_logs

def stop(batches, added):
    if batches == 2:
        os.kill(os.getpid(), signal.SIGKILL)

import_logs(sys.argv[1], sys.argv[2], progress=False, on_batch=stop)
"""


def test_a_killed_import_leaves_the_store_as_it_was(parts: tuple[Path, Path, pl.DataFrame], tmp_path: Path) -> None:
    first, second, _ = parts
    url = f"duckdb:///{tmp_path}/logs.duckdb"
    import_logs(first, url, progress=False)
    before = _snapshot(url)
    child = _child(_KILLED_MID_IMPORT, str(second), url)
    child.communicate(timeout=120)
    assert child.returncode == -9
    assert _snapshot(url) == before  # the write-ahead log of the killed import is not replayed
    assert import_logs(second, url, progress=False).duplicates == 0


_SLOW_IMPORT = """
import sys, time
from pathlib import Path
from loop_jupyter.sources.importer import import_logs

flag, go = Path(sys.argv[3]), Path(sys.argv[4])

def hold(batches, added):
    if batches == 1:
        flag.touch()
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

result = import_logs(sys.argv[1], sys.argv[2], progress=False, on_batch=hold)
print(result.spans_added)
"""


def test_opening_the_store_while_an_import_writes_fails_clearly(
    parts: tuple[Path, Path, pl.DataFrame], tmp_path: Path
) -> None:
    first, second, second_frame = parts
    url = f"duckdb:///{tmp_path}/logs.duckdb"
    import_logs(first, url, progress=False)
    before = _snapshot(url)
    flag, go = tmp_path / "writing", tmp_path / "go"
    child = _child(_SLOW_IMPORT, str(second), url, str(flag), str(go))
    _wait_for(flag, child)
    with pytest.raises(StoreLockedError, match=r"is writing it \(an import\?\).*open it again when the import"):
        lj.connect(url)
    go.touch()
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert int(out.strip()) == second_frame.height
    with lj.connect(url) as store:  # the import committed; nothing was damaged
        assert store.stats().spans == len(before[0]) + second_frame.height


_IMPORT_AND_REPORT = """
import json, sys
from loop_jupyter.sources import StoreLockedError
from loop_jupyter.sources.importer import import_logs

try:
    import_logs(sys.argv[1], sys.argv[2], progress=False)
except StoreLockedError as exc:
    print(json.dumps({"locked": str(exc)}))
else:
    print(json.dumps({"imported": True}))
"""


def test_importing_while_a_reader_has_the_store_open_fails_clearly(
    parts: tuple[Path, Path, pl.DataFrame], tmp_path: Path
) -> None:
    first, second, _ = parts
    url = f"duckdb:///{tmp_path}/logs.duckdb"
    import_logs(first, url, progress=False)
    before = _snapshot(url)
    reader = lj.connect(url)
    try:
        out, _err = _child(_IMPORT_AND_REPORT, str(second), url).communicate(timeout=120)
        message = json.loads(out.strip().splitlines()[-1])["locked"]
        assert f"process {os.getpid()} has it open" in message and "close the store" in message
        assert reader.stats().spans == len(before[0])  # the reader goes on reading
    finally:
        reader.close()
    assert _snapshot(url) == before
    # In the same process, an import beside an open reader says so too.
    with lj.connect(url), pytest.raises(StoreLockedError, match="this process has the store"):
        import_logs(second, url, progress=False)


def test_cli_import_sql_and_filter_on_a_store(
    parts: tuple[Path, Path, pl.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, second, second_frame = parts
    url = f"duckdb:///{tmp_path}/cli.duckdb"
    assert main(["import", str(second), "--to", url, "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["spans_added"] == second_frame.height and imported["report"]["rows_loaded"] == second_frame.height
    assert main(["import", str(second), "--to", url]) == 0
    assert f"skipped {second_frame.height:,} spans whose id is already in the store" in capsys.readouterr().out
    query = "SELECT type, count(*) AS n FROM logs GROUP BY type ORDER BY type"
    assert main(["sql", query, "--logs", url, "--json"]) == 0
    from_store = json.loads(capsys.readouterr().out)
    jsonl = tmp_path / "second.jsonl"
    jsonl.write_text("".join(p.read_text() for p in sorted(second.iterdir())))
    assert main(["sql", query, "--logs", str(jsonl), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == from_store
    for shape in ("spans", "traces"):
        args = ["filter", "duration > 30", "--shape", shape, "--json"]
        assert main([*args, "--logs", url]) == 0
        got = json.loads(capsys.readouterr().out)
        assert main([*args, "--logs", str(jsonl)]) == 0
        expected = json.loads(capsys.readouterr().out)
        assert got["count"] == expected["count"] > 0 and sorted(got["ids"]) == sorted(expected["ids"])
    assert main(["sql", "SELECT * FROM spans", "--logs", url]) == 3  # the sandbox: only logs/traces
    assert main(["sql", "SELECT 1", "--logs", f"duckdb:///{tmp_path}/missing.duckdb"]) == 2
    assert "no store at" in capsys.readouterr().err
    assert isinstance(lj.connect(url), DuckDBStore)
