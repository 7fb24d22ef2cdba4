"""The pieces of one trace shared by :mod:`.trace` and :mod:`.trace_views`: its spans, the
cycle-safe tree, self times, the critical path, steps and tool calls (see :mod:`.trace`)."""

from __future__ import annotations

from typing import Any

import polars as pl

from ..artifacts import ToolResult
from ..snippet import literal
from ..tools import ToolContext
from ..tools.text import error_kind, json_text

_EPS = 1e-9


def trace_spans(frame: pl.DataFrame, root_span_id: str) -> pl.DataFrame:
    """The spans of one trace in start order, with ``offset`` (seconds from the trace's first start)."""
    spans = frame.filter(pl.col("root_span_id") == root_span_id)
    if spans.height == 0:
        return spans.with_columns(offset=pl.lit(None, pl.Float64), end_offset=pl.lit(None, pl.Float64))
    t0 = spans.get_column("start").min()
    spans = spans.with_columns(
        offset=(pl.col("start") - pl.lit(t0)).dt.total_microseconds() / 1e6,
    ).with_columns(end_offset=pl.col("offset") + pl.col("duration").fill_null(0.0))
    return spans.sort(["offset", "depth", "span_id"], nulls_last=True)


def _node(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "span_id": row["span_id"],
        "name": row["name"],
        "type": row["type"],
        "offset": row["offset"],
        "duration": row["duration"],
        "model": row["model"],
        "tokens": row["tokens"],
        "error": row["error"],
        "children": [],
    }


def trace_tree(frame: pl.DataFrame, root_span_id: str) -> dict[str, Any] | None:
    """The trace as nested dicts (``span_id, name, type, offset, duration, model, tokens, error,
    children``), children in start order. None when the trace is not in ``frame``."""
    spans = trace_spans(frame, root_span_id)
    if spans.height == 0:
        return None
    rows = spans.to_dicts()
    nodes = {row["span_id"]: _node(row) for row in rows}
    parents = {row["span_id"]: row["parent_id"] for row in rows}
    root_id = (
        root_span_id
        if root_span_id in nodes
        else next((r["span_id"] for r in rows if r["is_root"]), rows[0]["span_id"])
    )
    root = nodes[root_id]
    for row in rows:
        span_id = row["span_id"]
        if span_id == root_id:
            continue
        parent = parents[span_id]
        if parent in nodes and parent != span_id:
            nodes[parent]["children"].append(nodes[span_id])
    # Whatever is not reachable from the root (missing parent, or a cycle) hangs under the root.
    seen: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node["span_id"] in seen:
            continue
        seen.add(node["span_id"])
        stack.extend(node["children"])
    for row in rows:
        if row["span_id"] not in seen:
            orphan = nodes[row["span_id"]]
            orphan["orphan"] = True
            root["children"].append(orphan)
            stack = [orphan]
            while stack:  # mark its reachable subtree so it is attached once
                node = stack.pop()
                if node["span_id"] in seen:
                    continue
                seen.add(node["span_id"])
                stack.extend(node["children"])
    return _acyclic(root, set())


def _acyclic(node: dict[str, Any], path: set[str]) -> dict[str, Any]:
    """A copy of ``node`` where a child already on the path (a cycle) is cut.

    Iterative, so a trace thousands of levels deep needs no recursion. Each span hangs under one
    parent, so a span reached twice was reached through a cycle: cutting every repeat cuts exactly
    the children already on the path.
    """
    seen = set(path) | {node["span_id"]}
    top = {**node, "children": []}
    stack = [(node, top)]
    while stack:
        source, copy = stack.pop()
        for child in source["children"]:
            if child["span_id"] in seen:
                continue
            seen.add(child["span_id"])
            child_copy = {**child, "children": []}
            copy["children"].append(child_copy)
            stack.append((child, child_copy))
    return top


def _walk(node: dict[str, Any]):
    """Every node of the tree, parents before children (iterative: any depth)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current["children"]))


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def tree_self_times(tree: dict[str, Any]) -> dict[str, float]:
    """Per span: its duration minus the union of its children's time (clipped to the span)."""
    out: dict[str, float] = {}
    for node in _walk(tree):
        if node["duration"] is None or node["offset"] is None:
            out[node["span_id"]] = 0.0
            continue
        start, end = node["offset"], node["offset"] + node["duration"]
        covered = [
            (max(c["offset"], start), min(c["offset"] + c["duration"], end))
            for c in node["children"]
            if c["duration"] is not None and c["offset"] is not None
        ]
        covered = [(a, b) for a, b in covered if b > a]
        out[node["span_id"]] = max(0.0, node["duration"] - _union_length(covered))
    return out


def critical_path(tree: dict[str, Any]) -> list[str]:
    """Span ids on the critical path, root first, then in the order they ran."""
    path: list[str] = []
    stack = [tree]  # iterative (any depth): a child's whole subtree before its next sibling
    while stack:
        node = stack.pop()
        path.append(node["span_id"])
        if node["duration"] is None or node["offset"] is None:
            continue
        cursor = node["offset"] + node["duration"]
        chosen = []
        for child in sorted(
            (c for c in node["children"] if c["duration"] is not None and c["offset"] is not None),
            key=lambda c: (-(c["offset"] + c["duration"]), c["span_id"]),
        ):
            if child["offset"] + child["duration"] <= cursor + _EPS:
                chosen.append(child)
                cursor = child["offset"]
        stack.extend(chosen)  # popped last-chosen first: the order they ran
    return path


def _excerpt(value: str | None, limit: int = 160) -> str:
    if value is None:
        return ""
    text = json_text(value, limit + 1) or value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _missing(ctx: ToolContext, root_span_id: str) -> ToolResult:
    return ToolResult(f"Trace {literal(root_span_id)} is not in the logs.", is_error=True)


def trace_steps(frame: pl.DataFrame, root_span_id: str) -> pl.DataFrame:
    """One row per span in start order with self time, critical-path flag, tokens and error kind."""
    spans = trace_spans(frame, root_span_id)
    tree = trace_tree(frame, root_span_id)
    if tree is None:
        return spans
    selfs = tree_self_times(tree)
    on_path = set(critical_path(tree))
    return spans.select(
        pl.int_range(1, pl.len() + 1).alias("step"),
        "span_id",
        "name",
        "type",
        "depth",
        pl.col("offset").round(3).alias("start_s"),
        pl.col("duration").round(3).alias("duration_s"),
        pl.col("span_id").replace_strict(selfs, default=0.0, return_dtype=pl.Float64).round(3).alias("self_s"),
        pl.col("span_id").is_in(list(on_path)).alias("critical_path"),
        "model",
        "prompt_tokens",
        "completion_tokens",
        "tokens",
        pl.col("error").map_elements(error_kind, return_dtype=pl.String).alias("error"),
    )


def tool_calls(frame: pl.DataFrame, root_span_id: str) -> pl.DataFrame:
    spans = trace_spans(frame, root_span_id).filter(pl.col("type") == "tool")
    return pl.DataFrame(
        [
            {
                "step_start_s": round(r["offset"], 3) if r["offset"] is not None else None,
                "tool": r["name"],
                "arguments": _excerpt(r["input"], 200),
                "result": _excerpt(r["output"], 200),
                "error": _excerpt(r["error"], 200),
                "duration_s": r["duration"],
            }
            for r in spans.iter_rows(named=True)
        ],
        schema={
            "step_start_s": pl.Float64,
            "tool": pl.String,
            "arguments": pl.String,
            "result": pl.String,
            "error": pl.String,
            "duration_s": pl.Float64,
        },
    )


WHICH_TRACE = (
    "Which trace? Give a root_span_id, select a trace in the explorer, or name one in the question "
    "('the slowest trace', 'the latest trace from John Smith', 'trace <id>')."
)
