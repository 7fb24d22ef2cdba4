from __future__ import annotations

import json

import polars as pl
import pytest

from loop_jupyter.analysis import _versioned
from loop_jupyter.analysis.datasets import create_dataset, dataset_info, list_datasets, load_dataset, show_datasets
from loop_jupyter.artifacts import Code, Dataset, Pending, Table
from loop_jupyter.frame import loads
from loop_jupyter.tools import ToolContext
from tests.analysis_logs import chat_trace, frame


def _logs() -> pl.DataFrame:
    return frame(
        chat_trace("a", "reset password", "done a", scores={"quality": 0.9, "facts": 1.0}),
        chat_trace("b", "reset password", "done b", scores={"quality": 0.5}, offset=10),
        chat_trace("c", "book flight", "failed", tools=("book",), error="Timeout 12", offset=20),
        chat_trace("d", "weather", "sunny", tools=("weather", "geo"), error="HTTP 500", offset=30),
        chat_trace("e", "reset password", "done e", offset=40),
    )


def _confirm(result) -> list:
    pending = result.first(Pending)
    assert pending is not None and pending.status == "pending"
    return pending.action()


def test_errors_dataset_preview_then_write(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    result = create_dataset(ctx, name="errs", where="has_error")
    pending = result.first(Pending)
    assert "Version: v1" in pending.preview and "Rows: 2" in pending.preview and "has_error" in pending.preview
    assert not (tmp_path / "loop_datasets").exists()  # nothing written before confirmation
    artifacts = _confirm(result)
    dataset = next(a for a in artifacts if isinstance(a, Dataset))
    assert (dataset.name, dataset.version, dataset.rows) == ("errs", 1, 2)
    assert any(isinstance(a, Code) for a in artifacts)
    loaded = load_dataset("errs", datasets_dir=tmp_path / "loop_datasets")
    assert loaded.columns == ["id", "input", "expected", "metadata", "tags", "origin_span_id", "origin_root_span_id"]
    # Independent: root spans of traces with any error span.
    logs = _logs()
    with_errors = set(logs.filter(pl.col("error").is_not_null()).get_column("root_span_id"))
    assert set(loaded.get_column("origin_root_span_id")) == with_errors == {"c", "d"}
    row = loaded.filter(pl.col("origin_root_span_id") == "c").row(0, named=True)
    assert loads(row["expected"]) == "failed"  # no logged expected: the output
    assert loads(row["input"]) == {"messages": [{"role": "user", "content": "book flight"}]}
    info = dataset_info(tmp_path / "loop_datasets" / "errs")
    assert info["name"] == "errs" and info["version"] == 1 and info["rows"] == 2
    assert info["filter"] == "SELECT * FROM traces WHERE has_error" and info["source"] == "logs"
    assert "created_at" in info


def test_versions_increment_and_never_overwrite(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    _confirm(create_dataset(ctx, name="ds", preset="errors"))
    first = (tmp_path / "loop_datasets" / "ds" / "v1.parquet").read_bytes()
    second = create_dataset(ctx, name="ds", preset="common_inputs")
    assert "Version: v2 (v1 exists and is kept)" in second.first(Pending).preview
    _confirm(second)
    assert (tmp_path / "loop_datasets" / "ds" / "v1.parquet").read_bytes() == first
    assert load_dataset("ds", datasets_dir=tmp_path / "loop_datasets").height == 3  # 3 distinct inputs
    assert load_dataset("ds", 1, datasets_dir=tmp_path / "loop_datasets").height == 2
    # Two proposals waiting at once: the second previews the version after the first, and each
    # confirmation writes what its preview showed, whichever is confirmed first.
    p3, p4 = create_dataset(ctx, name="ds", where="true"), create_dataset(ctx, name="ds", where="false")
    assert "Version: v3" in p3.first(Pending).preview and "Version: v4" in p4.first(Pending).preview
    assert "proposals still waiting" in p4.first(Pending).preview
    v4 = _confirm(p4)[0]
    v3 = _confirm(p3)[0]
    assert (v3.version, v3.rows, v4.version, v4.rows) == (3, 5, 4, 0)
    # A cancelled proposal frees its version for the next one.
    cancelled = create_dataset(ctx, name="ds", where="true").first(Pending)
    assert "Version: v5" in cancelled.preview
    cancelled.status = "cancelled"
    assert "Version: v5" in create_dataset(ctx, name="ds", where="true").first(Pending).preview
    table = show_datasets(ctx).first(Table).frame
    assert table.select("name", "version", "rows").rows() == [("ds", 1, 2), ("ds", 2, 3), ("ds", 3, 5), ("ds", 4, 0)]
    assert list_datasets(tmp_path / "loop_datasets").equals(table)
    assert list_datasets(ctx).equals(table)


def test_interrupted_write_leaves_old_version_and_no_partial_file(tmp_path, monkeypatch):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    _confirm(create_dataset(ctx, name="ds", preset="errors"))
    folder = tmp_path / "loop_datasets" / "ds"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    pending = create_dataset(ctx, name="ds", preset="common_inputs").first(Pending)

    def broken_write(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"PAR1 partial")
        raise KeyboardInterrupt  # the kernel interrupted mid-write

    monkeypatch.setattr(pl.DataFrame, "write_parquet", broken_write)
    with pytest.raises(KeyboardInterrupt):
        pending.action()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    monkeypatch.undo()
    assert load_dataset(folder).height == 2


def test_common_inputs_and_high_scores_presets(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    rows = _confirm(create_dataset(ctx, preset="common_inputs", limit=2))[0]
    assert rows.name == "common_inputs" and rows.rows == 2
    common = load_dataset(rows.path)
    first_input = loads(common.get_column("input")[0])["messages"][0]["content"]
    assert first_input == "reset password"  # 3 of 5 traces ask it
    high = _confirm(create_dataset(ctx, preset="high_scores"))[0]
    roots = load_dataset(high.path).get_column("origin_root_span_id").to_list()
    # Independent: mean of the root scores >= 0.8.
    logs = _logs().filter(pl.col("is_root") & pl.col("scores").is_not_null())
    expected = [
        r["root_span_id"]
        for r in logs.iter_rows(named=True)
        if sum(s := json.loads(r["scores"]).values()) / len(s) >= 0.8
    ]
    assert roots == expected == ["a"]


def test_bad_names_and_sql_are_refused(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    assert create_dataset(ctx, name="../evil", where="true").is_error
    assert create_dataset(ctx, name="x", sql="DELETE FROM logs").is_error
    assert create_dataset(ctx, name="x", sql="SELECT 1 AS a").is_error  # no input column
    result = create_dataset(ctx, name="x", sql="SELECT input, output, span_id FROM logs WHERE type = 'llm'")
    assert _confirm(result)[0].rows == 5
    with pytest.raises(FileNotFoundError):
        load_dataset("missing", datasets_dir=tmp_path / "loop_datasets")
    assert list(_versioned.versions(tmp_path / "loop_datasets" / "x", "parquet")) == [1]


def test_planner_style_calls(tmp_path):
    from loop_jupyter.analysis.datasets import infer_preset

    assert infer_preset("create a dataset from the most common inputs") == "common_inputs"
    assert infer_preset("create a dataset from high-scoring examples") == "high_scores"
    assert infer_preset("create a dataset from logs with errors") == "errors"
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    # A span condition selects the traces having such a span (Braintrust's log filter semantics).
    result = create_dataset(ctx, where="error IS NOT NULL", description="create a dataset from logs with errors")
    dataset = _confirm(result)[0]
    loaded = load_dataset(dataset.path)
    assert sorted(loaded["origin_root_span_id"].to_list()) == ["c", "d"]
    assert loaded["origin_span_id"].to_list() == loaded["origin_root_span_id"].to_list()  # root spans
    common = _confirm(create_dataset(ctx, description="create a dataset from the most common inputs"))[0]
    assert common.name == "common_inputs" and common.rows == 3


def test_a_dataset_is_named_from_what_was_asked(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    pending = create_dataset(ctx, where="error IS NOT NULL", description="Create a dataset from logs with errors")
    assert "Dataset: errors" in pending.first(Pending).preview


def test_workdir_given_as_text(tmp_path):
    ctx = ToolContext(logs=_logs(), workdir=str(tmp_path))
    assert ctx.datasets_dir == tmp_path / "loop_datasets"
    assert "Dataset: errors" in create_dataset(ctx, preset="errors").first(Pending).preview
