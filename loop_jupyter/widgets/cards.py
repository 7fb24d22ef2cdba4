"""One renderer for artifacts in the chat widget: the card sent to the browser and the cell code.

``CARDS`` maps each artifact class to its :class:`CardKind`: the fields of its JSON card (bounded:
a table sends its first page, the rest is paged by artifact id) and the Python that reproduces it in
a notebook cell ("Insert as cell"). Adding an artifact class means adding one entry here; the test
in ``tests/test_widget_messages.py`` fails for an artifact class without one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifacts import Artifact, Chart, Code, Dataset, Pending, Scorer, SqlFilter, Table, TraceView
from ..render import figure_json
from ..snippet import literal
from ._base import column_types, frame_rows

#: Rows of a table sent with the artifact; more are paged on request.
FIRST_PAGE = 10


def _own_json(artifact: Artifact) -> dict[str, Any]:
    return json.loads(json.dumps(artifact.to_json(), default=str))


def _table(artifact: Table) -> dict[str, Any]:
    frame = artifact.frame
    return {
        "columns": frame.columns,
        "types": column_types(frame),
        "rows": frame_rows(frame.head(FIRST_PAGE)),
        "total_rows": frame.height,
    }


def _trace(artifact: TraceView) -> dict[str, Any]:
    return {"root_span_id": artifact.root_span_id, "html": artifact.html, "figure": figure_json(artifact.figure)}


def _sql_code(artifact: SqlFilter) -> str:
    return (
        "from loop_jupyter.engine import filter\n\n"
        f"frame = filter(logs, {literal(artifact.sql)}, shape={literal(artifact.shape)})"
    )


def _dataset_code(artifact: Dataset) -> str:
    reader = {".parquet": "read_parquet", ".csv": "read_csv"}.get(Path(artifact.path).suffix, "read_ndjson")
    return f"import polars as pl\n\ndataset = pl.{reader}({literal(artifact.path)})"


def _no_code(artifact: Artifact) -> str:
    return ""


@dataclass(frozen=True)
class CardKind:
    """How one artifact class shows in the chat: its card's fields and its cell code."""

    fields: Callable[[Any], dict[str, Any]]
    code: Callable[[Any], str] = _no_code


CARDS: dict[type[Artifact], CardKind] = {
    Table: CardKind(_table),
    Chart: CardKind(lambda a: {"figure": figure_json(a.figure)}),
    TraceView: CardKind(_trace),
    SqlFilter: CardKind(_own_json, _sql_code),
    Dataset: CardKind(_own_json, _dataset_code),
    Scorer: CardKind(_own_json, lambda a: a.source),
    Code: CardKind(_own_json, lambda a: a.source),
    Pending: CardKind(_own_json),
}


def card_kind(artifact: Artifact) -> CardKind:
    for cls in type(artifact).__mro__:
        if cls in CARDS:
            return CARDS[cls]
    return CardKind(_own_json)


def card(artifact: Artifact, artifact_id: str) -> dict[str, Any]:
    """The bounded JSON card of an artifact; ``artifact_id`` names it for later requests."""
    out: dict[str, Any] = {"kind": artifact.kind, "title": artifact.title}
    out.update(card_kind(artifact).fields(artifact))
    out["artifact_id"] = artifact_id
    return out


def cell_code(artifact: Artifact) -> str:
    """The Python that reproduces an artifact in a notebook cell ("" when there is none)."""
    return card_kind(artifact).code(artifact)
