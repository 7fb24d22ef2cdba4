"""What similar traces have in common: per result its user, logged intent, tools and error kinds,
and across the results the values most of them share, against how common each is in all traces."""

from __future__ import annotations

from collections import Counter

import polars as pl

from ..embeddings import TraceIndex
from ..tools import ToolContext

#: A value is "shared" when at least this share of the similar traces has it.
SHARED_MIN = 0.5

_SHARED_SCHEMA = {
    "attribute": pl.String,
    "value": pl.String,
    "similar_traces": pl.Int64,
    "share_of_similar": pl.Float64,
    "share_of_all": pl.Float64,
    "lift": pl.Float64,
}


def _per_trace(ctx: ToolContext, index: TraceIndex) -> pl.DataFrame:
    """root_span_id, user and intent (metadata.intent) of every trace, cached per frame (a
    store's persisted index brings them: every trace of the store, no working frame read)."""
    if index.attributes is not None:
        return index.attributes
    cached = ctx.cache.get("similar_attributes")
    if cached is not None and cached[0] is ctx.logs:
        return cached[1]
    traces = ctx.engine.traces.select(
        "root_span_id",
        pl.col("user").cast(pl.String),
        pl.col("metadata").str.json_path_match("$.intent").alias("intent"),
    )
    ctx.cache["similar_attributes"] = (ctx.logs, traces)
    return traces


def _sets(index: TraceIndex, attribute: str) -> list[frozenset[str]]:
    return index.tools if attribute == "tool" else index.errors


def describe(ctx: ToolContext, index: TraceIndex, result: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``result`` with user, intent, tools and error_kinds columns, and the table of what most of
    the similar traces share (attribute, value, how many of them, share of them and of all traces)."""
    if result.height == 0:
        return result, pl.DataFrame(schema=_SHARED_SCHEMA)
    attrs = _per_trace(ctx, index)
    positions = [index.position(r) for r in result.get_column("root_span_id").to_list()]
    enriched = result.join(attrs, on="root_span_id", how="left", maintain_order="left").with_columns(
        pl.Series("tools", [sorted(index.tools[p]) if p is not None else [] for p in positions], pl.List(pl.String)),
        pl.Series(
            "error_kinds", [sorted(index.errors[p]) if p is not None else [] for p in positions], pl.List(pl.String)
        ),
    )
    n, total = result.height, max(1, len(index))
    rows = []
    for attribute in ("tool", "error kind"):
        sets = _sets(index, attribute)
        counts = Counter(v for p in positions if p is not None for v in sets[p])
        overall = Counter(v for s in sets for v in s)
        for value, k in counts.items():
            if k >= SHARED_MIN * n:
                rows.append((attribute, value, k, overall[value]))
    for attribute, column in (("intent", "intent"), ("user", "user")):
        counts = Counter(v for v in enriched.get_column(column).to_list() if v)
        overall = Counter(v for v in attrs.get_column(column).to_list() if v)
        for value, k in counts.items():
            if k >= SHARED_MIN * n or (attribute == "user" and k >= 2):
                rows.append((attribute, value, k, overall[value]))
    shared = pl.DataFrame(
        [
            {
                "attribute": a,
                "value": v,
                "similar_traces": k,
                "share_of_similar": round(k / n, 4),
                "share_of_all": round(m / total, 4),
                "lift": round((k / n) / (m / total), 2) if m else None,
            }
            for a, v, k, m in rows
        ],
        schema=_SHARED_SCHEMA,
    )
    order = {"error kind": 0, "intent": 1, "tool": 2, "user": 3}
    shared = (
        shared.with_columns(_o=pl.col("attribute").replace_strict(order, default=9))
        .sort(["_o", "similar_traces", "lift", "value"], descending=[False, True, True, False], nulls_last=True)
        .drop("_o")
    )
    return enriched, shared


def shared_text(shared: pl.DataFrame, n: int) -> str:
    """ "error kind Timeout (8/10, 12% of all traces); intent debug_error (7/10, 20%); ..."."""
    parts = []
    for attribute in ("error kind", "intent", "tool", "user"):
        rows = shared.filter(pl.col("attribute") == attribute).head(3)
        for row in rows.iter_rows(named=True):
            parts.append(
                f"{attribute} {row['value']} ({row['similar_traces']}/{n}, {100 * row['share_of_all']:.0f}% of all traces)"
            )
    return "; ".join(parts) if parts else "nothing beyond the text"
