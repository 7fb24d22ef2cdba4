"""The canonical span frame: one row per span, Braintrust log-event fields plus derived columns.

Open fields (input, output, metadata, ...) are kept as JSON text so that whatever a user logged
survives a round trip exactly, whatever its shape or size. Derived columns are typed so the
common filters and charts need no JSON parsing.
"""

from __future__ import annotations

import polars as pl

#: Fields holding arbitrary JSON, stored as JSON text (null when absent).
JSON_FIELDS: tuple[str, ...] = (
    "input",
    "output",
    "expected",
    "error",
    "scores",
    "metadata",
    "metrics",
    "span_attributes",
    "context",
)

#: Braintrust log-event columns, in order, with their Polars types.
BASE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "span_id": pl.String(),
    "root_span_id": pl.String(),
    "span_parents": pl.List(pl.String()),
    "is_root": pl.Boolean(),
    "created": pl.Datetime("us", "UTC"),
    "input": pl.String(),
    "output": pl.String(),
    "expected": pl.String(),
    "error": pl.String(),
    "tags": pl.List(pl.String()),
    "scores": pl.String(),
    "metadata": pl.String(),
    "metrics": pl.String(),
    "span_attributes": pl.String(),
    "context": pl.String(),
}

#: Columns computed from the base fields at load time.
DERIVED_SCHEMA: dict[str, pl.DataType] = {
    "parent_id": pl.String(),
    "depth": pl.Int32(),
    "name": pl.String(),
    "type": pl.String(),
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
    "duration": pl.Float64(),
    "model": pl.String(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "tokens": pl.Int64(),
    "cost": pl.Float64(),
}

SCHEMA: dict[str, pl.DataType] = {**BASE_SCHEMA, **DERIVED_SCHEMA}
COLUMNS: tuple[str, ...] = tuple(SCHEMA)

#: Span types Braintrust knows; loaders map other conventions onto these.
SPAN_TYPES: tuple[str, ...] = (
    "llm",
    "score",
    "function",
    "eval",
    "task",
    "tool",
    "automation",
    "facet",
    "preprocessor",
    "classifier",
    "review",
)


def empty_frame() -> pl.DataFrame:
    """A frame with the canonical columns and no rows."""
    return pl.DataFrame(schema=SCHEMA)


def is_canonical(frame: pl.DataFrame) -> bool:
    """True when ``frame`` has every canonical column with its canonical type."""
    return all(frame.schema.get(name) == dtype for name, dtype in SCHEMA.items())
