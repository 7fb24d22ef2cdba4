"""Who&When loader, checked against numbers computed from the raw JSON here."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.loaders import who_and_when
from loop_jupyter.report import LoadReport


@pytest.fixture(scope="module")
def base(fixtures_dir: Path) -> Path:
    return fixtures_dir / "who-and-when" / "Who&When"


@pytest.fixture(scope="module")
def raw(base: Path) -> dict[str, dict]:
    return {f"{p.parent.name}/{p.name}": json.loads(p.read_text()) for p in sorted(base.rglob("*.json"))}


@pytest.fixture(scope="module")
def loaded(base: Path) -> tuple[pl.DataFrame, LoadReport]:
    report = LoadReport()
    return who_and_when.load(base, report), report


def test_detect(raw: dict[str, dict]) -> None:
    assert all(who_and_when.detect(run) for run in raw.values())
    assert not who_and_when.detect({"history": [], "instance_id": "x"})


def test_counts(raw: dict[str, dict], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, report = loaded
    messages = sum(len(run["history"]) for run in raw.values())
    assert (len(raw), messages) == (184, 4092)
    assert report.ok and report.format == "who-and-when"
    assert frame.height == len(raw) + messages
    assert frame.filter(pl.col("is_root")).height == 184
    assert frame.get_column("id").n_unique() == frame.height
    assert set(frame.get_column("parent_id").drop_nulls()) <= set(frame.get_column("span_id"))
    assert frame.get_column("depth").max() == 1


def test_labels_and_steps(raw: dict[str, dict], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, _ = loaded
    roots = {json.loads(r["metadata"])["file"]: r for r in frame.filter(pl.col("is_root")).iter_rows(named=True)}
    assert set(roots) == set(raw)
    spans = frame.filter(~pl.col("is_root"))
    marked = spans.filter(pl.col("metadata").str.json_path_match("$.is_mistake_step") == "true")
    assert marked.height == len(raw)
    marks = {row["root_span_id"]: json.loads(row["metadata"]) for row in marked.iter_rows(named=True)}
    for name, run in raw.items():
        root = roots[name]
        meta = json.loads(root["metadata"])
        for label in ("mistake_agent", "mistake_step", "mistake_reason", "question", "level"):
            assert meta.get(label) == run.get(label)
        assert meta.get("is_correct", meta.get("is_corrected")) == run.get("is_correct", run.get("is_corrected"))
        assert json.loads(root["expected"]) == run["ground_truth"]
        mark = marks[root["span_id"]]
        step = int(run["mistake_step"])
        assert mark["step"] == step
        message = run["history"][step]
        assert mark["role"] == message["role"]
    # span names are the agents; each span's step is its index in history
    first = raw["Hand-Crafted/1.json"]
    root_id = roots["Hand-Crafted/1.json"]["span_id"]
    mine = spans.filter(pl.col("root_span_id") == root_id).sort("created")
    assert mine.get_column("name").to_list() == [m.get("name") or m["role"] for m in first["history"]]
    assert [json.loads(m)["step"] for m in mine["metadata"]] == list(range(len(first["history"])))


def test_single_file(base: Path) -> None:
    path = base / "Algorithm-Generated" / "1.json"
    run = json.loads(path.read_text())
    report = LoadReport()
    frame = who_and_when.load(path, report)
    assert frame.height == 1 + len(run["history"])
    root = frame.filter(pl.col("is_root")).row(0, named=True)
    assert json.loads(root["metadata"])["system_prompt"] == run["system_prompt"]
    assert report.unmapped["system_prompt"] == 1
