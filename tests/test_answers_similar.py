"""Issue 14 item 15: similar traces show their scores and what they share (tools, error kind,
intent, user), each figure counted again from the raw frame with Polars."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter import demo, embeddings
from loop_jupyter.analysis.similar import similar_traces
from loop_jupyter.artifacts import Table
from loop_jupyter.tools import ToolContext

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOP_JUPYTER_CACHE", str(tmp_path / "cache"))
    embeddings._MEMORY.clear()


def test_similar_traces_say_what_they_share() -> None:
    logs = demo.demo_logs(600, seed=3, now=NOW)
    roots = logs.filter(pl.col("is_root")).with_columns(
        intent=pl.col("metadata").str.json_path_match("$.intent"),
        user=pl.col("metadata").str.json_path_match("$.user"),
    )
    query = roots.filter(
        pl.col("root_span_id").is_in(logs.filter(pl.col("error").is_not_null())["root_span_id"].implode())
    )
    query_id = query["root_span_id"][0]
    result = similar_traces(ToolContext(logs), trace_ids=[query_id], limit=10)
    table = result.first(Table).frame
    assert {"score", "semantic", "user", "intent", "tools", "error_kinds"} <= set(table.columns)
    tools = logs.filter(pl.col("type") == "tool").group_by("root_span_id").agg(tools=pl.col("name").unique().sort())
    expect = table.select("root_span_id").join(
        roots.select("root_span_id", "intent", "user"), on="root_span_id", how="left"
    )
    assert table["intent"].to_list() == expect["intent"].to_list()
    assert table["user"].to_list() == expect["user"].to_list()
    for rid, got in table.select("root_span_id", "tools").iter_rows():
        want = tools.filter(pl.col("root_span_id") == rid)["tools"]
        assert got == (want[0].to_list() if want.len() else [])
    shared = result.frames[1]
    assert result.artifacts[1].title == "What the similar traces share"
    n_all = roots.height
    for row in shared.filter(pl.col("attribute") == "intent").iter_rows(named=True):
        assert row["similar_traces"] == (table["intent"] == row["value"]).sum() >= 5
        assert row["share_of_all"] == pytest.approx((roots["intent"] == row["value"]).sum() / n_all, abs=1e-4)
    for row in shared.filter(pl.col("attribute") == "tool").iter_rows(named=True):
        assert row["similar_traces"] == sum(row["value"] in t for t in table["tools"].to_list())
        have = tools.filter(pl.col("tools").list.contains(row["value"])).height
        assert row["share_of_all"] == pytest.approx(have / n_all, abs=1e-4)
    assert shared.height > 0 and "What they share:" in result.text
