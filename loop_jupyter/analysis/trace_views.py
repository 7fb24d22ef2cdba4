"""Views of one trace for the person: an LLM-call timeline, a span waterfall, tool calls and the
tools the agent had, or its errors (the ``trace_view`` tool)."""

from __future__ import annotations

import html
import re
from typing import Any, Literal

import polars as pl

from ..artifacts import Chart, Code, Table, ToolResult, TraceView
from ..engine import QueryError
from ..frame import loads
from ..snippet import literal
from ..tools import ToolContext, tool
from ..tools.text import error_kind
from ._trace_parts import WHICH_TRACE, _excerpt, _missing, tool_calls, trace_spans

View = Literal["llm_timeline", "tools", "waterfall", "errors"]

_TYPE_COLORS = {
    "llm": "#636efa",
    "tool": "#00cc96",
    "task": "#ab63fa",
    "function": "#ffa15a",
    "score": "#19d3f3",
}


def _timeline(spans: pl.DataFrame, title: str) -> Any:
    import plotly.graph_objects as go

    rows = spans.to_dicts()
    labels = [f"{i + 1}. {'· ' * (r['depth'] or 0)}{r['name']}" for i, r in enumerate(rows)]
    colors = ["#d62728" if r["error"] else _TYPE_COLORS.get(r["type"] or "", "#8c8c8c") for r in rows]
    texts = [
        (f"{r['prompt_tokens'] or 0}→{r['completion_tokens'] or 0} tok" if r["tokens"] else "")
        + (" ⚠" if r["error"] else "")
        for r in rows
    ]
    hover = [
        f"{r['name'] or ''} [{r['type']}]<br>start +{r['offset']:.3f}s, {r['duration'] or 0:.3f}s"
        + (f"<br>model {r['model']}" if r["model"] else "")
        + (f"<br>prompt {r['prompt_tokens']} / completion {r['completion_tokens']} tokens" if r["tokens"] else "")
        + (f"<br>error: {error_kind(r['error']) or ''}" if r["error"] else "")
        for r in rows
    ]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=[r["duration"] or 0.0 for r in rows],
            base=[r["offset"] or 0.0 for r in rows],
            orientation="h",
            marker_color=colors,
            text=texts,
            textposition="auto",
            hovertext=hover,
            hoverinfo="text",
        )
    )
    figure.update_layout(
        title=title,
        xaxis_title="seconds from the start of the trace",
        yaxis={"autorange": "reversed", "title": None},
        height=max(240, 28 * len(rows) + 120),
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
        template="plotly_white",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def _tool_definitions(value: Any) -> list[tuple[str, str]]:
    """(name, description) of tool definitions in the shapes seen in logs (OpenAI, Anthropic, names)."""
    out = []
    if isinstance(value, dict) and "tools" in value:
        value = value["tools"]
    if not isinstance(value, list):
        return out
    for item in value:
        if isinstance(item, str):
            out.append((item, ""))
        elif isinstance(item, dict):
            fn = item.get("function") if isinstance(item.get("function"), dict) else item
            name = fn.get("name")
            if isinstance(name, str):
                out.append((name, str(fn.get("description") or "")))
    return out


def available_tools(spans: pl.DataFrame) -> pl.DataFrame:
    """Tools the agent was given (metadata.tools, or tool definitions in LLM inputs) and their use."""
    defined: dict[str, str] = {}
    for row in spans.iter_rows(named=True):
        for field in ("metadata", "input"):
            raw = row[field]
            if raw is None or '"tools"' not in raw:
                continue
            try:
                parsed = loads(raw)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "tools" in parsed:
                for name, description in _tool_definitions(parsed["tools"]):
                    defined.setdefault(name, description)
    calls = spans.filter(pl.col("type") == "tool")
    used = calls.group_by("name").agg(
        calls=pl.len(),
        errors=pl.col("error").is_not_null().sum(),
        last_output=pl.col("output").last(),
        last_error=pl.col("error").drop_nulls().last(),
    )
    table = pl.DataFrame(
        {"tool": list(defined), "description": list(defined.values()), "available": [True] * len(defined)},
        schema={"tool": pl.String, "description": pl.String, "available": pl.Boolean},
    )
    table = table.join(used.rename({"name": "tool"}), on="tool", how="full", coalesce=True).with_columns(
        available=pl.col("available").fill_null(False),
        calls=pl.col("calls").fill_null(0).cast(pl.Int64),
        errors=pl.col("errors").fill_null(0).cast(pl.Int64),
    )
    return table.with_columns(
        last_output=pl.col("last_output").map_elements(lambda v: _excerpt(v, 200), return_dtype=pl.String),
        last_error=pl.col("last_error").map_elements(lambda v: _excerpt(v, 200), return_dtype=pl.String),
    ).sort(["available", "calls", "tool"], descending=[True, True, False])


def html_table(frame: pl.DataFrame, title: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    caption = f"<caption>{html.escape(title)}</caption>" if title else ""
    return f'<table class="loop-table">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def infer_view(text: str) -> View:
    lowered = text.lower()
    if re.search(r"\btools?\b", lowered):
        return "tools"
    if re.search(r"\b(errors?|fail\w*|exceptions?)\b", lowered):
        return "errors"
    if re.search(r"\b(waterfall|gantt|all (the )?spans|every span|full)\b", lowered) and not re.search(
        r"\b(llm|model) calls?\b", lowered
    ):
        return "waterfall"
    return "llm_timeline"


@tool(
    phrases=(
        r"\b(timeline|waterfall|gantt)\b",
        r"\b(llm|model) calls?\b.*\b(trace|timeline|tokens)\b",
        r"\btools? (available|defined|it had|the agent had)\b",
        r"\b(list|show)\b.*\btools\b.*\b(trace|outputs?)\b",
        r"\b(explain|describe|walk me through)\b.*\btool calls?\b",
    )
)
def trace_view(
    ctx: ToolContext,
    root_span_id: str | None = None,
    view: View | None = None,
    description: str | None = None,
    where: str | None = None,
) -> ToolResult:
    """A custom view of one trace: "llm_timeline" (waterfall of the LLM calls with token counts),
    "waterfall" (every span), "tools" (tools available to the agent and what each call returned),
    or "errors" (the failing spans and where they sit in the tree).

    Args:
        root_span_id: the trace's root span id (defaults to the first selected trace).
        view: "llm_timeline", "waterfall", "tools" or "errors" (read from the description when not given).
        description: the view wanted, in words ("list the tools it had and their outputs").
        where: a filter on spans keeping only some spans of the trace (timeline and waterfall).
    """
    view = view or infer_view(description or "")
    root_span_id = root_span_id or (ctx.selection[0] if ctx.selection else None)
    if not root_span_id:
        return ToolResult(WHICH_TRACE, is_error=True)
    spans = trace_spans(ctx.logs, root_span_id)
    if spans.height == 0:
        return _missing(ctx, root_span_id)
    code = (
        "from loop_jupyter.analysis.trace import trace_view\n\n"
        f"result = trace_view(logs, {literal(root_span_id)}, view={literal(view)})\n"
        "result.artifacts[0]"
    )
    if view in ("llm_timeline", "waterfall"):
        subset = spans.filter(pl.col("type") == "llm") if view == "llm_timeline" else spans
        if where:
            try:
                keep = ctx.engine.filter(where).get_column("span_id").implode()
            except QueryError as exc:
                return ToolResult(f"Cannot apply the filter: {exc.reason}", is_error=True)
            subset = subset.filter(pl.col("span_id").is_in(keep))
        if subset.height == 0:
            return ToolResult(f"Trace {root_span_id} has no LLM calls.", [Code(code)])
        what = "LLM calls" if view == "llm_timeline" else "spans"
        figure = _timeline(subset, f"Trace {root_span_id}: {subset.height} {what}")
        tokens = int(subset.get_column("tokens").sum() or 0)
        text = (
            f"{view} of trace {root_span_id}: {subset.height} {what}, {tokens:,} tokens, "
            f"{float(spans.get_column('end_offset').max() or 0):.2f} s in total."
        )
        view_artifact = TraceView(root_span_id, figure=figure, title=f"{what.capitalize()} of {root_span_id}")
        return ToolResult(text, [view_artifact, Chart(figure, title=view_artifact.title), Code(code)])
    if view == "tools":
        table = available_tools(spans)
        unused = table.filter(pl.col("available") & (pl.col("calls") == 0)).get_column("tool").to_list()
        undefined = table.filter(~pl.col("available")).get_column("tool").to_list()
        text = f"Trace {root_span_id}: {table.filter(pl.col('available')).height} tools available, "
        text += f"{int(table.get_column('calls').sum())} tool calls."
        if unused:
            text += f" Never called: {', '.join(unused[:10])}."
        if undefined:
            text += f" Called but not in the definitions: {', '.join(undefined[:10])}."
        calls = tool_calls(ctx.logs, root_span_id)
        body = html_table(table, "Tools available and used") + html_table(calls, "Tool calls in order")
        return ToolResult(
            text,
            [
                TraceView(root_span_id, html=body, title=f"Tools of {root_span_id}"),
                Table(table, title="Tools"),
                Table(calls, title="Tool calls"),
                Code(code),
            ],
        )
    if view == "errors":
        names = dict(zip(spans.get_column("span_id"), spans.get_column("name"), strict=True))
        parents = dict(zip(spans.get_column("span_id"), spans.get_column("parent_id"), strict=True))

        def path(span_id: str) -> str:
            out, seen = [], set()
            while span_id in names and span_id not in seen:
                seen.add(span_id)
                out.append(str(names[span_id]))
                span_id = parents.get(span_id)
            return " › ".join(reversed(out))

        failing = spans.filter(pl.col("error").is_not_null())
        table = pl.DataFrame(
            [
                {
                    "start_s": round(r["offset"], 3),
                    "span": r["name"],
                    "type": r["type"],
                    "path": path(r["span_id"]),
                    "error": _excerpt(r["error"], 300),
                    "input": _excerpt(r["input"], 200),
                }
                for r in failing.iter_rows(named=True)
            ],
            schema={
                "start_s": pl.Float64,
                "span": pl.String,
                "type": pl.String,
                "path": pl.String,
                "error": pl.String,
                "input": pl.String,
            },
        )
        text = f"Trace {root_span_id}: {table.height} failing spans" + (
            ": " + "; ".join(f"{r['span']}: {r['error'][:80]}" for r in table.head(5).iter_rows(named=True))
            if table.height
            else "."
        )
        return ToolResult(
            text,
            [
                TraceView(root_span_id, html=html_table(table, "Errors"), title=f"Errors of {root_span_id}"),
                Table(table, title="Errors"),
                Code(code),
            ],
        )
    return ToolResult(f"Unknown view {view!r}: use llm_timeline, waterfall, tools or errors.", is_error=True)
