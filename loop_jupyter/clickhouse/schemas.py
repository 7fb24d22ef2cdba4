"""Every schema's ``logs`` SELECT, by name: :mod:`.adapters` (otel, langfuse_v3, native) and
:mod:`.langfuse_v4` (Langfuse's one-row-per-span events table)."""

from __future__ import annotations

from . import adapters
from .langfuse_v4 import langfuse_v4

SCHEMAS = adapters.SCHEMAS


def logs_sql(schema: str, tables: dict[str, str] | None = None) -> str:
    """A ClickHouse SELECT giving the canonical ``logs`` columns over ``schema``'s tables."""
    if schema == "langfuse_v4":
        return langfuse_v4({**adapters.DEFAULT_TABLES[schema], **(tables or {})})
    return adapters.logs_sql(schema, tables)
