"""The explorer's "Find similar traces": the analysis tool's scores and what the traces share.

:func:`~loop_jupyter.analysis.similar.similar_traces` ranks traces by semantic and structural
similarity, says why each one is similar, and tabulates what most of them share (error kind,
intent, tools, user) against how common that is in all traces. The explorer shows both tables,
not a bare list of ids.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ..sources import LogSource
from ._base import RequestError, column_types, frame_rows

#: Columns of the similar-traces table, in order (``root_span_id`` is the rows' key, hidden).
RESULT_COLUMNS: tuple[str, ...] = (
    "root_span_id",
    "text",
    "score",
    "semantic",
    "structure",
    "intent",
    "user",
    "tools",
    "error_kinds",
    "why",
)
RESULT_LABELS = {"text": "trace", "error_kinds": "error kinds", "why": "why similar"}
SHARED_LABELS = {"similar_traces": "similar traces", "share_of_similar": "of similar", "share_of_all": "of all"}


def score_note() -> str:
    """How the score is made, from the analysis' own weight."""
    from ..analysis.similar import SEMANTIC_WEIGHT

    return (
        f"score: {SEMANTIC_WEIGHT:.0%} text similarity, {1 - SEMANTIC_WEIGHT:.0%} shared spans, tools and error kinds"
    )


def table_json(frame: pl.DataFrame, labels: dict[str, str]) -> dict[str, Any]:
    return {"columns": frame.columns, "types": column_types(frame), "rows": frame_rows(frame), "labels": labels}


def find_similar(
    logs: pl.DataFrame | LogSource, root_span_ids: list[str], limit: int = 10
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The traces most similar to ``root_span_ids`` (scores, why, intent, user, tools, error kinds)
    and what most of them share; the query traces themselves are left out. ``logs``: the span frame,
    or a store (the tool then reads a sample of it, as the agent's tools do)."""
    try:
        from ..analysis.similar import similar_traces
    except ImportError as exc:
        raise RequestError(f"similar traces are not available: {exc}") from None
    from ..artifacts import Table
    from ..tools import ToolContext

    if isinstance(logs, pl.DataFrame):
        ctx = ToolContext(logs=logs, selection=list(root_span_ids))
    else:
        ctx = ToolContext(source=logs, selection=list(root_span_ids))
    result = similar_traces(ctx, trace_ids=list(root_span_ids), limit=limit)
    tables = [a for a in result.artifacts if isinstance(a, Table)]
    if result.is_error or not tables or "root_span_id" not in tables[0].frame.columns:
        raise RequestError(result.text[:300] or "no similar traces found")
    found = tables[0].frame.filter(~pl.col("root_span_id").is_in(list(root_span_ids)))
    found = found.select([c for c in RESULT_COLUMNS if c in found.columns]).with_columns(
        pl.col(c).list.join(", ") for c in ("tools", "error_kinds") if c in found.columns
    )
    shared = next((t.frame for t in tables[1:] if "attribute" in t.frame.columns), pl.DataFrame())
    return found, shared
