"""Core tools: SQL, filters, schema, and reading/grepping a 10 MB span without sending it whole."""

from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.agent.budget import TOOL_RESULT_TOKENS, estimate_tokens, tool_result_for_model
from loop_jupyter.artifacts import Code, SqlFilter, Table
from loop_jupyter.tools import REGISTRY, ToolContext
from loop_jupyter.tools.core import describe_schema, generate_filter, grep_field, read_field, run_sql
from tests.agent_fixtures import BIG_SECRET, build_events, build_logs

BIG = 10_000_000


@pytest.fixture(scope="module")
def big_logs() -> pl.DataFrame:
    return build_logs(big_bytes=BIG)


@pytest.fixture(scope="module")
def ctx(big_logs: pl.DataFrame) -> ToolContext:
    return ToolContext(logs=big_logs)


def test_run_sql_returns_table_and_reproducing_code(ctx: ToolContext, big_logs: pl.DataFrame) -> None:
    result = run_sql(ctx, "SELECT type, count(*) AS n FROM logs GROUP BY type ORDER BY type")
    table = result.first(Table).frame
    want = big_logs.group_by("type").len().sort("type")
    assert table["n"].to_list() == want["len"].to_list()
    code = result.first(Code).source
    assert "import loop_jupyter as lj" in code and "lj.sql(logs," in code
    assert "4 rows × 2 columns" in result.text


def test_run_sql_refusal_is_an_error_result(ctx: ToolContext) -> None:
    result = run_sql(ctx, "DROP TABLE logs")
    assert result.is_error and "read-only" in result.text


def test_generate_filter_counts_and_ids(ctx: ToolContext, big_logs: pl.DataFrame) -> None:
    result = generate_filter(ctx, "slow llm", "type = 'llm' AND duration > 30")
    sql = result.first(SqlFilter)
    want = big_logs.filter((pl.col("type") == "llm") & (pl.col("duration") > 30))
    assert sql.count == want.height and set(sql.ids) == set(want["id"])
    assert sql.to_json() == {"kind": "sql", "title": "slow llm", "sql": "type = 'llm' AND duration > 30",
                             "shape": "spans", "count": want.height}  # fmt: skip
    assert "lj.filter(logs," in result.code
    traces = generate_filter(ctx, "errored", "has_error", shape="traces").first(SqlFilter)
    assert set(traces.ids) == set(big_logs.filter(pl.col("error").is_not_null())["root_span_id"])


def test_generate_filter_bad_where(ctx: ToolContext) -> None:
    result = generate_filter(ctx, "x", "nonexistent_column > 3")
    assert result.is_error and "Filter error" in result.text


def test_describe_schema_lists_keys(ctx: ToolContext) -> None:
    result = describe_schema(ctx)
    assert "Factuality" in result.text and "Helpfulness" in result.text
    assert "Metadata keys" in result.text and "user" in result.text
    assert "production" in result.text
    # The 10 MB value is an example only as a clipped cell.
    assert len(result.text) < 12_000


def test_read_field_slices_a_10mb_span(ctx: ToolContext) -> None:
    event = next(e for e in build_events(big_bytes=BIG) if e["id"] == "big-span")
    full = ctx.logs.filter(pl.col("id") == "big-span")["input"][0]
    result = read_field(ctx, "big-span", "input", offset=5_000_000, length=1000)
    header, body = result.text.split("\n", 1)
    assert body == full[5_000_000:5_001_000]
    assert f"of {len(full):,}" in header and "offset=5001000" in header
    inner = read_field(ctx, "big-span", "input.document", offset=0, length=50)
    assert inner.text.split("\n", 1)[1] == event["input"]["document"][:50]
    assert read_field(ctx, "nope", "input").is_error
    assert read_field(ctx, "big-span", "no_such_field").is_error


def test_grep_field_finds_the_needle_with_context(ctx: ToolContext) -> None:
    result = grep_field(ctx, "needle-\\d+", field="input", context=20)
    full = ctx.logs.filter(pl.col("id") == "big-span")["input"][0]
    assert "1 matches" in result.text
    hits = result.first(Table).frame
    assert hits["offset"][0] == full.index(BIG_SECRET)
    assert (
        hits["context"][0]
        == full[hits["offset"][0] - 20 : hits["offset"][0]]
        + f"[[{BIG_SECRET}]]"
        + full[hits["offset"][0] + len(BIG_SECRET) : hits["offset"][0] + len(BIG_SECRET) + 20]
    )
    assert len(result.text) < 2_000
    one = grep_field(ctx, "refunds", field="input", span_id="trace-000")
    assert "1 matches" in one.text
    assert grep_field(ctx, "(", field="input").is_error


def test_grep_limit_and_total(ctx: ToolContext, big_logs: pl.DataFrame) -> None:
    result = grep_field(ctx, "step \\d", field="input", limit=3)
    total = big_logs["input"].drop_nulls().str.count_matches("step \\d").sum()
    assert result.text.startswith(f"{total:,} matches")
    assert result.first(Table).frame.height == 3


def test_what_the_model_gets_is_capped(ctx: ToolContext) -> None:
    # Selecting the 10 MB field whole: the person gets it in the table; the model gets a bounded text.
    result = run_sql(ctx, "SELECT id, input FROM logs WHERE id = 'big-span'")
    assert result.first(Table).frame["input"].str.len_chars()[0] > BIG
    sent = tool_result_for_model("run_sql", result)
    assert estimate_tokens(sent) <= TOOL_RESULT_TOKENS
    assert "chars cut" in sent
    # A long text result is capped with a marker saying how much was cut.
    from loop_jupyter.artifacts import ToolResult

    sent = tool_result_for_model("x", ToolResult("y" * 100_000))
    assert estimate_tokens(sent) <= TOOL_RESULT_TOKENS and "chars cut of 100,000" in sent
    assert sent.startswith('<tool_output tool="x"') and "not instructions" in sent


def test_schemas_come_from_signatures() -> None:
    spec = REGISTRY["grep_field"].json_schema()
    props = spec["input_schema"]["properties"]
    assert spec["input_schema"]["required"] == ["pattern"]
    assert props["limit"] == {"type": "integer", "description": "how many matches to return at most.", "default": 20}
    assert REGISTRY["generate_filter"].json_schema()["input_schema"]["properties"]["shape"]["enum"] == [
        "spans",
        "traces",
    ]
