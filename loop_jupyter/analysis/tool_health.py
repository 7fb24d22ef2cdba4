"""Tool health: per tool calls, errors, error rate, blast radius, week-over-week success, latency."""

from __future__ import annotations

from datetime import timedelta

import plotly.express as px
import polars as pl

from ..artifacts import SqlFilter, Table, ToolResult
from ..tools import ToolContext, tool
from ._across import COLORS, chart, clip, code, fmt_pct

QUANTILE = "linear"


def tool_calls(logs: pl.DataFrame) -> pl.DataFrame:
    """Spans of type 'tool' with ``failed`` and ``week`` (Monday of the call's week, UTC)."""
    return logs.filter(pl.col("type") == "tool").with_columns(
        failed=pl.col("error").is_not_null(),
        week=pl.coalesce("start", "created").dt.truncate("1w"),
    )


@tool(
    phrases=(
        r"\btool (health|reliability|error rates?|failures?|errors?|success rates?|latency)\b",
        r"\bblast radius\b",
        r"\bwhich tools? (fail|break|error|are (failing|broken|slow|unreliable)\b)",
        r"\b(failing|broken|flaky|unreliable) tools?\b",
        r"\bhow (are|is) (the |my )?tools? (doing|performing)\b",
        r"\b(success|error|failure) rates? (of|for|by|per) (the |each |my )?tools?\b",
        r"\btools?\b.*\b(success|error|failure) rates?\b",
    )
)
def tool_health(ctx: ToolContext) -> ToolResult:
    """Per tool (spans of type 'tool', by name): calls, errors, error rate, blast radius (error rate
    × volume, i.e. failed calls), traces affected, week-over-week success rate and p50/p95 latency,
    ranked by blast radius.
    """
    calls = tool_calls(ctx.logs)
    call = code("tool_health", "tool_health", {})
    if calls.height == 0:
        return ToolResult("No tool spans (span_attributes.type = 'tool') in these logs.", [call])
    last_week = calls.get_column("week").max()
    weeks = [last_week - timedelta(weeks=1), last_week] if last_week is not None else []
    weekly = (
        calls.filter(pl.col("week").is_not_null())
        .group_by("name", "week")
        .agg(calls=pl.len(), errors=pl.col("failed").sum())
        .with_columns(success_rate=1 - pl.col("errors") / pl.col("calls"))
        .sort("name", "week", nulls_last=True)
    )
    wow = (
        weekly.filter(pl.col("week").is_in(weeks))
        .with_columns(which=pl.when(pl.col("week") == last_week).then(pl.lit("this")).otherwise(pl.lit("prev")))
        .pivot(on="which", index="name", values="success_rate")
    )
    for column in ("this", "prev"):
        if column not in wow.columns:
            wow = wow.with_columns(pl.lit(None, pl.Float64).alias(column))
    wow = wow.select(
        "name",
        success_rate_last_week=pl.col("this"),
        success_rate_prev_week=pl.col("prev"),
        success_rate_change=pl.col("this") - pl.col("prev"),
    )
    health = (
        calls.group_by("name")
        .agg(
            calls=pl.len(),
            errors=pl.col("failed").sum(),
            traces=pl.col("root_span_id").n_unique(),
            traces_with_error=pl.col("root_span_id").filter(pl.col("failed")).n_unique(),
            p50_s=pl.col("duration").quantile(0.5, QUANTILE),
            p95_s=pl.col("duration").quantile(0.95, QUANTILE),
        )
        .with_columns(error_rate=pl.col("errors") / pl.col("calls"))
        .with_columns(blast_radius=pl.col("errors").cast(pl.Float64))  # error_rate × calls, exactly: ties stay ties
        .join(wow, on="name", how="left", nulls_equal=True)
        .sort(["blast_radius", "error_rate", "name"], descending=[True, True, False], nulls_last=True)
        .select(
            "name",
            "calls",
            "errors",
            "error_rate",
            "blast_radius",
            "traces",
            "traces_with_error",
            "success_rate_last_week",
            "success_rate_prev_week",
            "success_rate_change",
            "p50_s",
            "p95_s",
        )
    )
    total_errors = int(health.get_column("errors").sum())
    lines = [
        f"{health.height} tools, {calls.height:,} calls, {total_errors:,} failed ({fmt_pct(total_errors / calls.height)}). "
        "Ranked by blast radius (error rate × calls = failed calls):"
    ]
    for row in health.head(10).iter_rows(named=True):
        change = row["success_rate_change"]
        wow_text = f", success w/w {change * 100:+.1f} pts" if change is not None else ""
        p95 = f", p95 {row['p95_s']:.1f} s" if row["p95_s"] is not None else ""
        lines.append(
            f"- {clip(row['name'], 40)}: {row['calls']} calls, {row['errors']} errors "
            f"({fmt_pct(row['error_rate'])}){wow_text}{p95}"
        )
    fig = px.scatter(
        health,
        x="calls",
        y="error_rate",
        size=health.get_column("blast_radius").clip(lower_bound=0.5),
        text="name",
        color_discrete_sequence=COLORS,
        labels={"calls": "Calls (volume)", "error_rate": "Error rate"},
        hover_data=["errors", "p95_s"],
    )
    fig.update_traces(textposition="top center")
    fig.update_yaxes(tickformat=".0%")
    trend = weekly.filter(pl.col("name").is_in(health.head(8).get_column("name").implode()))
    trend_fig = px.line(
        trend,
        x="week",
        y="success_rate",
        color="name",
        markers=True,
        color_discrete_sequence=COLORS,
        labels={"week": "Week", "success_rate": "Success rate", "name": "Tool"},
    )
    trend_fig.update_yaxes(tickformat=".0%")
    return ToolResult(
        "\n".join(lines),
        [
            Table(health, title="Tool health, by blast radius"),
            chart(fig, "Tools: volume vs error rate (bubble size = failed calls)"),
            chart(trend_fig, "Weekly success rate by tool"),
            Table(weekly, title="Weekly calls and success rate by tool"),
            SqlFilter("type = 'tool' AND error IS NOT NULL", "spans", total_errors, title="Failed tool calls"),
            call,
        ],
    )
