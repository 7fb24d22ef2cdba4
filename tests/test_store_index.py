"""The similar-traces index persisted in a DuckDB store (issue 17): built by ``loop-jupyter import``,
equal to the in-memory index of the same spans, re-used by another process without embedding
again, brought up to date on append (only the touched traces), ignored when out of date."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.analysis._similar_shared import _per_trace
from loop_jupyter.analysis.similar import similar_traces
from loop_jupyter.analysis.store_index import load_store_index, update_store_index
from loop_jupyter.artifacts import Table
from loop_jupyter.cli import main
from loop_jupyter.demo import jsonl_text
from loop_jupyter.embeddings import build_index
from loop_jupyter.sources import DuckDBStore
from loop_jupyter.tools import ToolContext

from .store_helpers import ROOT, write_split_jsonl


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two exports: a first file, and a second one in 2 files that continues some of its traces."""
    folder = tmp_path_factory.mktemp("index")
    first = lj.demo_logs(n_traces=80, seed=21)
    second = lj.demo_logs(n_traces=60, seed=22)
    (folder / "first.jsonl").write_text(jsonl_text(first))
    # 5 spans of the first export's traces arrive later (their traces' documents change)
    late = first.filter(~pl.col("is_root")).head(5).with_columns(
        (pl.col("id") + "-late").alias("id"), (pl.col("span_id") + "-late").alias("span_id"),
        pl.col("span_attributes").str.replace(r'"name":"[^"]*"', '"name":"late_step"'), pl.lit("late_step").alias("name"),
    )  # fmt: skip
    write_split_jsonl(pl.concat([second, late]), folder / "second", 2)
    return folder / "first.jsonl", folder / "second"


def _assert_equal(stored, memory) -> None:  # type: ignore[no-untyped-def]
    assert stored.root_span_ids == memory.root_span_ids
    assert stored.texts == memory.texts
    assert stored.span_names == memory.span_names
    assert stored.tools == memory.tools
    assert stored.errors == memory.errors
    np.testing.assert_allclose(stored.vectors, memory.vectors, atol=1e-6)


def _attrs(frame: pl.DataFrame) -> list:  # type: ignore[type-arg]
    return sorted(_per_trace(ToolContext(frame), SimpleNamespace(attributes=None)).rows(), key=repr)  # type: ignore[arg-type]


def _similar(ctx: ToolContext, **kwargs: object) -> tuple[str, list]:  # type: ignore[type-arg]
    result = similar_traces(ctx, **kwargs)
    return result.text.split(" ms):", 1)[-1], result.first(Table).frame.rows()


def test_import_builds_an_index_equal_to_the_in_memory_one_and_append_updates_it(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = files
    url = f"duckdb:///{tmp_path}/logs.duckdb"
    assert main(["import", str(first), "--to", url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["similar_index"]["traces_embedded"] == out["traces_total"] == 80
    with DuckDBStore(tmp_path / "logs.duckdb") as store:
        frame = store.filter()
        stored = load_store_index(store)
        assert stored is not None and stored.attributes is not None
        _assert_equal(stored, build_index(frame, progress=False))
        assert sorted(stored.attributes.rows(), key=repr) == _attrs(frame)
    # An append embeds the traces it touched only: the second export's and the 5 continued ones.
    assert main(["import", str(second), "--to", url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    continued = 5  # at most 5 traces of the first export got a late span
    assert 60 < out["similar_index"]["traces_embedded"] <= 60 + continued
    assert out["similar_index"]["traces_indexed"] == out["traces_total"] == 140
    with DuckDBStore(tmp_path / "logs.duckdb") as store:
        frame = store.filter()
        stored = load_store_index(store)
        assert stored is not None
        memory = build_index(frame, progress=False)
        _assert_equal(stored, memory)
        assert any("late_step" in names for names in stored.span_names)
        # the tool's answers on the store (persisted index) equal those on the frame
        some = frame.filter(pl.col("is_root")).get_column("root_span_id").head(2).to_list()
        on_store = ToolContext(source=store)
        on_frame = ToolContext(frame)
        for kwargs in ({"trace_ids": some[:1]}, {"trace_ids": some}, {"description": "refund for a broken order"}):
            assert _similar(on_store, **kwargs) == _similar(on_frame, **kwargs)
        assert on_store._logs is None  # the working frame was never drawn


_REUSE = """
import json, sys
import loop_jupyter.embeddings as emb
import loop_jupyter.analysis.store_index as si

def refuse(*a, **k):
    raise AssertionError("embedded again")

emb.build_index = refuse
si.index_rows = refuse
from loop_jupyter.analysis import similar
similar.trace_index = refuse
from loop_jupyter.artifacts import Table
from loop_jupyter.sources import DuckDBStore
from loop_jupyter.tools import ToolContext

with DuckDBStore(sys.argv[1]) as store:
    result = similar.similar_traces(ToolContext(source=store), trace_ids=[sys.argv[2]])
    print(json.dumps({"text": result.text.split(" ms):", 1)[-1], "rows": result.first(Table).frame.rows()}))
"""


def test_a_second_process_reuses_the_index_without_embedding(files: tuple[Path, Path], tmp_path: Path) -> None:
    first, _ = files
    path = tmp_path / "logs.duckdb"
    assert main(["import", str(first), "--to", f"duckdb:///{path}", "--json"]) == 0
    frame = lj.load_logs(first)
    trace = frame.filter(pl.col("is_root")).get_column("root_span_id")[3]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_REUSE), str(path), trace],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    text, table = _similar(ToolContext(frame), trace_ids=[trace])
    assert got["text"] == text
    assert got["rows"] == json.loads(json.dumps(table))


def test_an_out_of_date_index_is_not_read_and_the_next_import_catches_up(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = files
    url = f"duckdb:///{tmp_path}/logs.duckdb"
    assert main(["import", str(first), "--to", url, "--json"]) == 0
    assert main(["import", str(second), "--to", url, "--json", "--no-index"]) == 0
    with DuckDBStore(tmp_path / "logs.duckdb") as store:
        assert load_store_index(store) is None  # 80 traces indexed, 140 in the store: not used
        ctx = ToolContext(source=store)
        trace = store.filter().get_column("root_span_id")[0]
        assert similar_traces(ctx, trace_ids=[trace]).first(Table).frame.height == 10  # the working frame's
    again = update_store_index(url)
    assert again["traces_indexed"] == 140 and 60 < again["traces_embedded"] <= 65
    assert update_store_index(url)["traces_embedded"] == 0  # up to date: nothing to do
    with DuckDBStore(tmp_path / "logs.duckdb") as store:
        stored = load_store_index(store)
        assert stored is not None
        _assert_equal(stored, build_index(store.filter(), progress=False))
