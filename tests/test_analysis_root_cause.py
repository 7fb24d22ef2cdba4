from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.analysis.root_cause import claimed_without_tool, root_causes
from loop_jupyter.artifacts import Code, SqlFilter, Table
from loop_jupyter.engine import engine_for

from ._analysis_logs import demo, frame, run_code, span  # noqa: F401


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    # 10 traces. v2 (r0-r3): the agent is defined without deploy_app; r0-r2 claim "I've deployed"
    # with no deploy call. v1 (r4-r9): deploy_app defined and called (r9's call fails).
    events = []
    for t in range(10):
        root, v2 = f"r{t}", t < 4
        claims = t < 3 or t >= 4
        events.append(
            span(
                root,
                root,
                name="turn",
                metadata={"app_version": "2" if v2 else "1"},
                output="I've deployed your app." if claims else "I cannot deploy it.",
                tags=["beta"] if t in (0, 1, 5) else None,
            )
        )
        tools = ["search"] if v2 else ["search", "deploy_app"]
        events.append(span(f"a{t}", root, root, name="builder", metadata={"tools": tools}))
        events.append(span(f"m{t}", root, f"a{t}", name="chat", type_="llm", model="m-small" if v2 else "m-big"))
        if not v2:
            events.append(
                span(
                    f"d{t}",
                    root,
                    f"a{t}",
                    name="deploy_app",
                    type_="tool",
                    error="PermissionDenied: no" if t == 9 else None,
                )
            )
    return frame(events)


def test_claimed_without_tool(logs: pl.DataFrame) -> None:
    found = claimed_without_tool(logs)
    assert sorted(found["root_span_id"]) == ["r0", "r1", "r2", "r9"]
    assert found["claims"].to_list() == [["deploy"]] * 4


def test_description_ranks_missing_tool_definition(logs: pl.DataFrame) -> None:
    result = root_causes(logs, description="agent claims success but didn't do it")
    table = result.first(Table).frame
    rows = {(k, f): r for k, f, *r in table.select("kind", "feature", "in_symptom", "in_rest", "lift").iter_rows()}
    # symptom = r0, r1, r2, r9 (4); rest = r3..r8 (6)
    assert rows[("missing tool definition", "builder lacks deploy_app")] == [3, 1, pytest.approx((3 / 4) / (1 / 6))]
    assert rows[("metadata.app_version", "2")] == [3, 1, pytest.approx(4.5)]
    assert rows[("model", "m-small")] == [3, 1, pytest.approx(4.5)]
    # Seen in one trace only: in the full table (infinite lift) but not ranked as a cause.
    assert ("tool error", "deploy_app") not in rows
    full = result.frames[1].filter((pl.col("kind") == "tool error") & (pl.col("feature") == "deploy_app"))
    assert full.select("in_symptom", "in_rest", "lift").row(0) == (1, 0, float("inf"))
    assert rows[("absent tool", "deploy_app")] == [3, 1, pytest.approx(4.5)]
    assert table["lift"].is_sorted(descending=True)
    assert engine_for(logs).count(result.first(SqlFilter).sql, shape="traces") == 4
    assert run_code(result.first(Code).source, logs).equals(table)


def test_where_and_ids_agree(logs: pl.DataFrame) -> None:
    by_where = root_causes(logs, where="metadata.app_version = '2'").frames[1]
    by_ids = root_causes(logs, trace_ids=["r0", "r1", "r2", "r3"]).frames[1]
    assert by_where.equals(by_ids)
    tag = by_where.filter((pl.col("kind") == "tag") & (pl.col("feature") == "beta")).row(0, named=True)
    assert (tag["in_symptom"], tag["in_rest"]) == (2, 1)
    assert tag["lift"] == pytest.approx((2 / 4) / (1 / 6))
    assert root_causes(logs, description="purple elephants").is_error
    assert root_causes(logs).is_error


def test_demo_false_deploy_claims_point_at_missing_tool(demo: pl.DataFrame) -> None:  # noqa: F811
    from loop_jupyter import demo as demo_module

    result = root_causes(demo, description="agent claims success but didn't do it")
    top = result.first(Table).frame.row(0, named=True)
    assert top["kind"] == "missing tool definition" and top["feature"].endswith("lacks deploy_app")
    # The app_version lift, recomputed with plain Polars from the symptom ids.
    symptom = set(result.first(SqlFilter).ids)
    roots = demo.filter(pl.col("is_root")).with_columns(
        bad=pl.col("metadata").str.json_path_match("$.app_version") == demo_module.BAD_APP_VERSION,
        sym=pl.col("root_span_id").is_in(list(symptom)),
    )
    share_sym = roots.filter(pl.col("sym"))["bad"].mean()
    share_rest = roots.filter(~pl.col("sym"))["bad"].mean()
    full = result.frames[1]
    row = full.filter(
        (pl.col("kind") == "metadata.app_version") & (pl.col("feature") == demo_module.BAD_APP_VERSION)
    ).row(0, named=True)
    assert row["lift"] == pytest.approx(share_sym / share_rest) and row["lift"] > 2


def test_real_fixture_tau_bench(fixtures_dir) -> None:
    from loop_jupyter.loaders import load_logs

    logs = load_logs(fixtures_dir / "tau-bench" / "gpt-4o-airline.json")
    found = claimed_without_tool(logs)
    # Independently: outputs saying "booked" in traces with no successful book_* tool call.
    roots = logs.filter(
        pl.col("is_root") & pl.col("output").str.contains(r"(?i)\b(has been|successfully|i've|i have) booked")
    )
    booked = logs.filter((pl.col("type") == "tool") & pl.col("name").str.contains("book") & pl.col("error").is_null())
    expected = set(roots["root_span_id"]) - set(booked["root_span_id"])
    got = {r for r, claims in found.iter_rows() if "book" in claims}
    assert expected <= got
    assert got  # real failures: tau-bench has replies that claim a booking/refund no tool made
