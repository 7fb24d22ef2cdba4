"""An import reads a large JSONL file in chunks of whole traces and stages each slice in a committed
transaction (issue 17: flat memory), yet the store holds exactly what ``load_logs`` returns, the
load report points at the file's own lines, and an interrupted or killed import leaves the store
as it was. The chunk size is lowered so that a small demo file is cut many times."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.demo import jsonl_text
from loop_jupyter.sources import DuckDBStore, chunked, importer
from loop_jupyter.sources.importer import STAGING, import_logs

from .store_helpers import ROOT, rows


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunked, "CHUNK_BYTES", 40_000)
    monkeypatch.setattr(chunked, "MIN_BYTES", 80_000)
    monkeypatch.setattr(importer, "STAGE_ROWS", 50)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chunks") / "demo.jsonl"
    path.write_text(jsonl_text(lj.demo_logs(n_traces=150, seed=31)))
    return path


def _store(path: Path) -> tuple[pl.DataFrame, list[str]]:
    with DuckDBStore(path) as store:
        return store.filter(), rows(store.sql("SELECT * FROM traces"))


def test_a_chunked_import_holds_what_load_logs_returns(small_chunks: None, demo_file: Path, tmp_path: Path) -> None:
    cuts = chunked.cut_points(demo_file)
    assert len(cuts) > 5  # the file is really cut
    batches = []
    result = import_logs(demo_file, f"duckdb:///{tmp_path}/a.duckdb", progress=False,
                         on_batch=lambda b, n: batches.append(n))  # fmt: skip
    assert result.batches == len(cuts) == len(batches)
    expected = lj.load_logs(demo_file)
    spans, traces = _store(tmp_path / "a.duckdb")
    assert spans.equals(expected)
    assert traces == rows(lj.traces(expected))
    assert result.report.records_read == result.report.rows_loaded == expected.height
    assert result.report.sources == [str(demo_file)]


def test_a_bad_line_is_reported_at_its_line_in_the_file(small_chunks: None, demo_file: Path, tmp_path: Path) -> None:
    lines = demo_file.read_text().splitlines(keepends=True)
    lines.insert(400, "{not json\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines))
    result = import_logs(bad, f"duckdb:///{tmp_path}/b.duckdb", progress=False)
    assert len(chunked.cut_points(bad)) > 5
    assert [(p.line, p.source) for p in result.report.skipped] == [(401, str(bad))]
    spans, _ = _store(tmp_path / "b.duckdb")
    assert spans.equals(lj.load_logs(bad))


def test_traces_apart_in_the_file_are_read_whole(small_chunks: None, demo_file: Path, tmp_path: Path) -> None:
    lines = demo_file.read_text().splitlines(keepends=True)
    random.Random(5).shuffle(lines)  # the spans of a trace all over the file
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(lines))
    result = import_logs(mixed, f"duckdb:///{tmp_path}/m.duckdb", progress=False)
    assert result.batches == 1
    spans, traces = _store(tmp_path / "m.duckdb")
    expected = lj.load_logs(mixed)
    assert spans.equals(expected) and traces == rows(lj.traces(expected))


_KILLED = """
import os, signal, sys
from loop_jupyter.sources import chunked, importer

chunked.CHUNK_BYTES, chunked.MIN_BYTES, importer.STAGE_ROWS = 40_000, 80_000, 50

def stop(batches, added):
    if batches == 4:
        os.kill(os.getpid(), signal.SIGKILL)

importer.import_logs(sys.argv[1], sys.argv[2], progress=False, on_batch=stop)
"""


def test_a_killed_chunked_import_leaves_the_store_as_it_was(demo_file: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.jsonl"
    first.write_text(jsonl_text(lj.demo_logs(n_traces=20, seed=32)))
    path = tmp_path / "logs.duckdb"
    url = f"duckdb:///{path}"
    import_logs(first, url, progress=False)
    before = _store(path)
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED), str(demo_file), url],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr
    after = _store(path)
    assert after[0].equals(before[0]) and after[1] == before[1]
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:  # four batches were staged (committed) before the kill: the staging table holds them
        assert con.execute(f"SELECT count(*) FROM {STAGING}").fetchall()[0][0] > 0
    finally:
        con.close()
    # the next import drops what the killed one staged and imports the file once
    result = import_logs(demo_file, url, progress=False)
    assert result.duplicates == 0
    spans, _ = _store(path)
    assert spans.equals(pl.concat([before[0], lj.load_logs(demo_file)]))
