"""A chart of a query's rows: the first column on the x axis, the first numeric column after it as the
bars (a line when the x axis is time). Used to chart an earlier answer ("show that as a chart")."""

from __future__ import annotations

import plotly.express as px
import polars as pl

from ..artifacts import Table, ToolResult
from ..engine import QueryError
from ..tools import ToolContext
from ._across import COLORS, code
from ._across import chart as chart_artifact

#: Bars shown at most (the table keeps every row).
MAX_BARS = 50


def query_chart(ctx: ToolContext, query: str, description: str | None = None) -> ToolResult:
    """Chart the rows of a read-only SQL query (first column x, first numeric column after it y)."""
    call = code("query_chart", "query_chart", {"query": query, "description": description})
    try:
        data = ctx.engine.sql(query)
    except QueryError as exc:
        return ToolResult(f"Query error: {exc.reason}", [call], is_error=True)
    numeric = [c for c in data.columns[1:] if data.schema[c].is_numeric()]
    if data.height == 0 or not data.width or not numeric:
        return ToolResult(f"Nothing to chart: {data.height} rows, no numeric column after the first.", [call])
    measures = [c for c in numeric if c not in ("n", "count")]  # "average latency by model": the average
    x, y = data.columns[0], (measures or numeric)[0]
    temporal = data.schema[x].is_temporal()
    plot = data.sort(x) if temporal else data.head(MAX_BARS).with_columns(pl.col(x).cast(pl.String).fill_null("(none)"))
    title = f"{y} by {x}" + (f" — {description}" if description else "")
    if temporal:
        fig = px.line(plot, x=x, y=y, markers=True, color_discrete_sequence=COLORS)
    else:
        fig = px.bar(plot, x=x, y=y, color_discrete_sequence=COLORS)
    top = data.drop_nulls(y).sort([y, x], descending=[True, False], nulls_last=True)
    text = f"Charted {y} by {x} over {data.height:,} rows"
    if top.height:
        row = top.row(0, named=True)
        text += f"; highest {row[y]:,.4g} at {row[x]}"
        if top.height > 1:
            low = top.row(top.height - 1, named=True)
            text += f", lowest {low[y]:,.4g} at {low[x]}"
    text += "." + (f" The chart shows the first {MAX_BARS} rows." if not temporal and data.height > MAX_BARS else "")
    return ToolResult(text, [chart_artifact(fig, title), Table(data, title=title + " (data)"), call])
