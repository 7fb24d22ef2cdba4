"""Issue 14 item 14: a scorer written for "these errors" flagged 289 of 810 error traces (its regex
ended in a truncated ``<st``). The proposal now states its recall and false-positive rate on the
logs it came from, and the saved scorer, run for real, catches the errors. Expected figures are
counted from the frame with Polars."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.analysis.scorers import create_scorer, pattern_from_errors, run_scorer
from loop_jupyter.artifacts import Pending
from loop_jupyter.tools import ToolContext

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(2000, seed=0, now=NOW)


def _stated(text: str) -> tuple[int, int, int, int]:
    m = re.search(
        r"flags ([\d,]+) of ([\d,]+) traces with these errors .*? and ([\d,]+) of ([\d,]+) other traces", text
    )
    assert m, text
    return tuple(int(g.replace(",", "")) for g in m.groups())  # type: ignore[return-value]


def test_pattern_is_never_cut_inside_a_mask(logs: pl.DataFrame) -> None:
    pattern, common = pattern_from_errors(logs)
    assert not re.search(r"<[a-z]{0,4}$", pattern)
    for kind, _ in common:
        assert not re.search(r"<[a-z]*$", kind), kind
    # Every error message of the logs is matched by the learned pattern.
    compiled = re.compile(pattern, re.I)
    errors = logs.filter(pl.col("error").is_not_null())["error"].to_list()
    hits = sum(bool(compiled.search(e)) for e in errors)
    assert hits / len(errors) >= 0.98


def test_scorer_for_these_errors_catches_them_and_says_so_before_confirming(logs: pl.DataFrame, tmp_path) -> None:
    ctx = ToolContext(logs, workdir=tmp_path)
    error_roots = set(logs.filter(pl.col("error").is_not_null())["root_span_id"].to_list())
    n_traces = logs["root_span_id"].n_unique()
    result = create_scorer(ctx, description="a scorer that detects these errors")
    pending = result.first(Pending)
    caught, positives, fp, negatives = _stated(pending.preview)
    assert "recall" in pending.preview and "false-positive rate" in pending.preview
    assert positives == len(error_roots) and negatives == n_traces - len(error_roots)
    pending.action()
    scored = run_scorer(ctx, "errors").frames[0]
    flagged = set(scored.filter(pl.col("errors") == 0.0)["root_span_id"].to_list())
    # What the preview promised is what the saved scorer does.
    assert len(flagged & error_roots) == caught and len(flagged - error_roots) == fp
    assert caught / positives >= 0.95


def test_narrow_scorer_states_its_false_positives(logs: pl.DataFrame, tmp_path) -> None:
    ctx = ToolContext(logs, workdir=tmp_path)
    where = "name = 'fetch_url'"
    fetch = logs.filter((pl.col("name") == "fetch_url") & pl.col("error").is_not_null())
    roots = set(fetch["root_span_id"].to_list())
    result = create_scorer(ctx, name="fetch", description="these errors", where=where)
    caught, positives, fp, _ = _stated(result.text)
    assert positives == len(roots) and caught == positives
    result.first(Pending).action()
    scored = run_scorer(ctx, "fetch").frames[0]
    flagged = set(scored.filter(pl.col("fetch") == 0.0)["root_span_id"].to_list())
    assert flagged >= roots and len(flagged - roots) == fp
