"""Issue 14 item 11: common errors group by failure kind first, with the model / span / URL host
breakdown inside the group, and model names kept intact. Expected figures come from the raw
error column with plain Polars."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.analysis.errors import common_errors
from loop_jupyter.artifacts import Table

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(2000, seed=0, now=NOW)


def test_url_timeouts_are_one_group_with_hosts_inside(logs: pl.DataFrame) -> None:
    errs = logs.filter(pl.col("error").is_not_null())
    timeouts = errs.filter((pl.col("name") == "fetch_url") & pl.col("error").str.contains(r"Timeout: GET https?://"))
    hosts = timeouts.with_columns(host=pl.col("error").str.extract(r"https?://([^/]+)/", 1)).group_by("host").len()
    assert timeouts.height > 100 and hosts.height > 3
    result = common_errors(logs)
    groups = result.first(Table).frame
    rows = groups.filter(pl.col("message").str.contains("did not respond"))
    assert rows.height == 1, rows
    row = rows.row(0, named=True)
    assert row["spans"] == timeouts.height
    assert row["kind"] == "timeout"
    # The host breakdown inside the group, with counts from the raw errors.
    want = {f"{h}: {n}" for h, n in hosts.iter_rows()}
    assert set(row["by_host"]) <= want and len(row["by_host"]) == min(8, hosts.height)
    # Reaches the top ten lines of the answer.
    top = [line for line in result.text.splitlines() if re.match(r"\d+\. ", line)]
    assert any("did not respond" in line for line in top[:10])


def test_rate_limits_are_one_kind_with_intact_models(logs: pl.DataFrame) -> None:
    errs = logs.filter(pl.col("error").is_not_null())
    rate = errs.filter(pl.col("error").str.contains("Error code: 429"))
    per_model = dict(rate.group_by("model").len().iter_rows())
    assert len(per_model) >= 3
    result = common_errors(logs)
    groups = result.first(Table).frame
    rows = groups.filter(pl.col("kind") == "rate_limit")
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert row["spans"] == rate.height
    got = dict(item.rsplit(": ", 1) for item in row["by_model"])
    assert {m: int(n) for m, n in got.items()} == {m: n for m, n in per_model.items() if m in got}
    top_model = max(per_model, key=per_model.get)
    assert top_model in result.text
    # No model name is ever half-masked.
    assert not re.search(r"(claude|gpt)-<n>", result.text)
    assert not groups["message"].str.contains(r"(claude|gpt)-<n>").any()


def test_message_masking_keeps_distinct_failures_apart(logs: pl.DataFrame) -> None:
    groups = common_errors(logs, limit=1000).first(Table).frame
    errs = logs.filter(pl.col("error").is_not_null())
    assert groups["spans"].sum() == errs.height
    # LLM API timeouts and URL fetch timeouts share a kind but stay separate groups.
    timeouts = groups.filter(pl.col("kind") == "timeout")
    assert timeouts.height == 2
    assert set(timeouts["spans"].to_list()) == {
        errs.filter(pl.col("error").str.contains("APITimeoutError")).height,
        errs.filter(pl.col("error").str.contains("did not respond")).height,
    }
