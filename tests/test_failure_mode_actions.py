"""A failure mode becomes a dataset and a scorer in one confirmed step (recall checked against the
traces computed here from the spans); modes over time against an independent group-by."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter import demo
from loop_jupyter.analysis.datasets import load_dataset
from loop_jupyter.analysis.failure_mode_actions import failure_modes_over_time, mode_to_dataset_and_scorer
from loop_jupyter.analysis.scorers import run_scorer
from loop_jupyter.artifacts import Chart, Pending, Table
from loop_jupyter.tools import ToolContext

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return lj.demo_logs(n_traces=600, seed=3, now=NOW)


def _planted(logs: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Error spans of each planted tool-error kind, found by span name and the generator's marker."""
    return {
        name: logs.filter((pl.col("name") == name) & pl.col("error").str.contains(marker, literal=True))
        for name, marker in demo.TOOL_ERROR_MARKERS.items()
    }


def _shown(text: str) -> tuple[int, int, int, int]:
    m = re.search(r"flags ([\d,]+) of the mode's ([\d,]+) traces .* and ([\d,]+) of ([\d,]+) other traces", text)
    assert m, text
    return tuple(int(g.replace(",", "")) for g in m.groups())  # type: ignore[return-value]


def _scores(ctx: ToolContext, name: str) -> dict[str, float | None]:
    scored = run_scorer(ctx, name).frames[0]
    return dict(scored.select("root_span_id", name).iter_rows())


def test_mode_to_dataset_and_scorer_recall_against_the_spans(logs: pl.DataFrame, tmp_path: Path) -> None:
    ctx = ToolContext(logs=logs, workdir=tmp_path)
    name, spans = next((n, s) for n, s in _planted(logs).items() if s.height)
    positives = set(spans["root_span_id"])
    result = mode_to_dataset_and_scorer(ctx, mode=f"{name}:")
    assert not result.is_error, result.text
    pending = result.first(Pending)
    assert not (tmp_path / "loop_datasets").exists() and not (tmp_path / "loop_scorers").exists()
    caught, total, false_pos, negatives = _shown(pending.preview)
    assert total == len(positives) and negatives == logs["root_span_id"].n_unique() - len(positives)
    produced = pending.action()
    saved = next(a for a in produced if type(a).__name__ == "Dataset")
    dataset = load_dataset(saved.path)
    assert set(dataset["origin_root_span_id"]) == positives  # the dataset is the mode's traces
    scorer = next(a for a in produced if type(a).__name__ == "Scorer")
    scores = _scores(ctx, scorer.name)  # the saved file, run in its sandbox
    flagged = {r for r, v in scores.items() if v == 0.0}
    assert (caught, false_pos) == (len(flagged & positives), len(flagged - positives))
    assert caught == total  # every trace of the mode is caught by its scorer


def test_claim_mode_and_confirmation_through_the_session(logs: pl.DataFrame, tmp_path: Path) -> None:
    roots = logs.filter(pl.col("is_root"))
    claimed = set(roots.filter(pl.any_horizontal(pl.col("output").str.contains(m, literal=True)
                                                 for m in demo.DEPLOY_CLAIM_MARKERS))["root_span_id"])  # fmt: skip
    deployed = set(logs.filter((pl.col("name") == "deploy_app") & pl.col("error").is_null())["root_span_id"])
    positives = claimed - deployed
    loop = lj.Loop(logs, model="offline", workdir=tmp_path)
    try:
        ctx = loop.context()
        first = mode_to_dataset_and_scorer(ctx, mode="claims an action")
        caught, total, _, _ = _shown(first.text)
        assert total == len(positives) > 0
        answer = loop.ask("save the top failure mode as a dataset and scorer")
        assert [c["name"] for c in answer.tool_calls] == ["mode_to_dataset_and_scorer"]
        (waiting,) = [p for p in loop.pending() if "dataset" in p.description]
        assert not (tmp_path / "loop_scorers").exists()
        loop.cancel(waiting.action_id)
        # The claim proposal made from Python holds v1 of its own names; confirm it.
        artifacts = first.first(Pending).action()
        scorer = next(a for a in artifacts if type(a).__name__ == "Scorer")
        assert scorer.path.endswith("v1.py")
        flagged = {r for r, v in _scores(ctx, scorer.name).items() if v == 0.0}
        assert caught == len(flagged & positives) == len(positives)
        # The same mode again: a new version beside the first, never over it.
        before = Path(scorer.path).read_bytes()
        again = mode_to_dataset_and_scorer(ctx, mode="claims an action").first(Pending)
        assert "v2" in again.description
        again.action()
        assert Path(scorer.path).read_bytes() == before and Path(scorer.path).with_name("v2.py").exists()
    finally:
        loop.close()


def test_unknown_mode_is_refused(logs: pl.DataFrame, tmp_path: Path) -> None:
    result = mode_to_dataset_and_scorer(ToolContext(logs=logs, workdir=tmp_path), mode="no such mode at all")
    assert result.is_error and "no failure mode matches" in result.text


def test_modes_over_time_against_an_independent_group_by(logs: pl.DataFrame, tmp_path: Path) -> None:
    result = failure_modes_over_time(ToolContext(logs=logs, workdir=tmp_path), top=20)
    assert isinstance(result.artifacts[0], Chart)
    data = result.first(Table).frame
    for name, spans in _planted(logs).items():
        expected = (
            spans.group_by("root_span_id")
            .agg(pl.coalesce("start", "created").min().alias("t"))
            .group_by(day=pl.col("t").dt.truncate("1d"))
            .len()
            .sort("day")
        )
        (mode,) = {m for m in data["mode"] if m.startswith(f"{name}: ")}
        got = data.filter(pl.col("mode") == mode).sort("time").select("time", "traces")
        assert got.rows() == expected.rows(), name
    figure = result.first(Chart).figure
    assert {trace.name for trace in figure.data} == set(data["mode"])
    top2 = failure_modes_over_time(ToolContext(logs=logs, workdir=tmp_path), top=2).first(Table).frame
    assert top2["mode"].n_unique() == 3 and "other modes" in set(top2["mode"])
