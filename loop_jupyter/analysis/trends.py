"""Retention and usage trends by day or week: traces, users, new and returning users, errors."""

from __future__ import annotations

from typing import Literal

import plotly.express as px
import polars as pl

from ..artifacts import Table, ToolResult
from ..tools import ToolContext, tool
from ._across import COLORS, chart, code, fmt_pct

_EVERY = {"day": "1d", "week": "1w"}


def usage_table(traces: pl.DataFrame, period: str) -> pl.DataFrame:
    """Per period: traces, users, new users, returning users (seen in an earlier period), errors."""
    every = _EVERY[period]
    rows = traces.with_columns(period=pl.col("created").dt.truncate(every)).filter(pl.col("period").is_not_null())
    first_seen = rows.filter(pl.col("user").is_not_null()).group_by("user").agg(first_period=pl.col("period").min())
    active = (
        rows.filter(pl.col("user").is_not_null())
        .select("period", "user")
        .unique()
        .join(first_seen, on="user")
        .group_by("period")
        .agg(
            users=pl.len(),
            new_users=(pl.col("first_period") == pl.col("period")).sum(),
            returning_users=(pl.col("first_period") < pl.col("period")).sum(),
        )
    )
    return (
        rows.group_by("period")
        .agg(traces=pl.len(), error_traces=pl.col("has_error").sum(), error_spans=pl.col("error_count").sum())
        .join(active, on="period", how="left")
        .with_columns(pl.col("users", "new_users", "returning_users").fill_null(0))
        .with_columns(
            error_rate=pl.col("error_traces") / pl.col("traces"),
            returning_share=pl.when(pl.col("users") > 0).then(pl.col("returning_users") / pl.col("users")),
        )
        .sort("period")
        .select(
            "period",
            "traces",
            "users",
            "new_users",
            "returning_users",
            "returning_share",
            "error_traces",
            "error_spans",
            "error_rate",
        )
    )


def synthetic_times(ctx: ToolContext) -> int:
    """How many traces carry a made-up time (``metadata.synthetic_order``: tau-bench, Who&When and
    Claude Code streams record no times, and their loaders number the traces from 1970-01-01)."""
    try:
        return ctx.count("metadata.synthetic_order", shape="traces")
    except Exception:  # a source whose SQL cannot read the field: nothing is known to be synthetic
        return 0


@tool(
    phrases=(
        r"\b(usage|traffic|activity|volume) (trends?|over time|by (day|week)|per (day|week))\b",
        r"\b(retention|returning users|new users|active users|daily active|weekly active|dau|wau)\b",
        r"\busers\b.*\b(came|come|coming) back\b",
        r"\bhow many (users|traces|requests|conversations) (per|each|a|by) (day|week)\b",
        r"\b(daily|weekly) (usage|traffic|users|traces|volume)\b",
        r"\btrends?\b.*\b(users?|traces?|usage)\b",
        r"\b(week|day)[- ]over[- ](week|day)\b",
        r"\b(weekly|daily) trends?\b|\btrends? (by|per) (day|week)\b|^\W*(show |what are )?(the )?trends?\W*$",
        r"\b(usage|traffic|activity|volume)\b.*\b(change[sd]?|grow(n|th)?|grew|drop(ped)?|trends?)\b",
        r"\b(error|failure) rates? (trends?|by (day|week)|per (day|week)|over (the )?(days|weeks))\b",
    )
)
def usage_trends(ctx: ToolContext, period: Literal["day", "week"] = "day") -> ToolResult:
    """Usage and retention over time: traces, distinct users, new and returning users (users seen in
    an earlier period) and traces with errors, per day or week, with a chart. Users come from
    ``metadata.user`` or ``metadata.user_id`` on the root span.

    Args:
        period: "day" or "week" (weeks start on Monday, UTC).
    """
    if period not in _EVERY:
        return ToolResult(f"period must be 'day' or 'week', not {period!r}", is_error=True)
    # The trace columns the table needs (from a store, only these are read).
    traces = ctx.trace_columns("root_span_id", "created", "user", "has_error", "error_count")
    table = usage_table(traces, period)
    call = code("trends", "usage_trends", {"period": period})
    if table.height == 0:
        return ToolResult("No trace has a timestamp, so there is no trend to show.", [call])
    synthetic = synthetic_times(ctx)
    if synthetic and synthetic >= traces.height:
        return ToolResult(
            f"None of the {traces.height:,} traces has a real timestamp (the format records no time; the loader "
            "numbered them in file order), so there is no trend to show.",
            [call],
        )
    users_total = traces.get_column("user").drop_nulls().n_unique()
    returning = (
        traces.filter(pl.col("user").is_not_null())
        .group_by("user")
        .agg(periods=pl.col("created").dt.truncate(_EVERY[period]).n_unique())
    )
    came_back = int((returning.get_column("periods") > 1).sum()) if returning.height else 0
    lines = [
        f"{table.height} {period}{'s' * (table.height != 1)} from {table['period'][0]:%Y-%m-%d} to "
        f"{table['period'][-1]:%Y-%m-%d}: "
        f"{traces.height:,} traces, {users_total:,} users, {came_back:,} of them active in more than one {period} "
        f"({fmt_pct(came_back / users_total) if users_total else 'n/a'}).",
        f"Per {period}: traces mean {table['traces'].mean():.1f} (min {table['traces'].min()}, max "
        f"{table['traces'].max()}); error rate {fmt_pct(table['error_traces'].sum() / table['traces'].sum())} overall.",
        "Latest periods:",
    ]
    for row in table.tail(5).iter_rows(named=True):
        lines.append(
            f"- {row['period']:%Y-%m-%d}: {row['traces']} traces, {row['users']} users "
            f"({row['returning_users']} returning), {row['error_traces']} with errors"
        )
    plot = table.unpivot(
        index="period",
        on=["traces", "users", "returning_users", "error_traces"],
        variable_name="series",
        value_name="count",
    ).with_columns(
        pl.col("series").replace(
            {
                "traces": "Traces",
                "users": "Users",
                "returning_users": "Returning users",
                "error_traces": "Traces with errors",
            }
        )
    )
    fig = px.line(
        plot,
        x="period",
        y="count",
        color="series",
        markers=True,
        color_discrete_sequence=[COLORS[0], COLORS[2], COLORS[4], COLORS[3]],
        labels={"period": period.capitalize(), "count": "Count", "series": ""},
    )
    return ToolResult(
        "\n".join(lines),
        [Table(table, title=f"Usage per {period}"), chart(fig, f"Usage per {period}"), call],
    )
