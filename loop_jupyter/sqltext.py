"""SQL text helpers of the data layer (loaders, the engine's callers, tools and widgets share them)."""

from __future__ import annotations


def sql_literal(value: str) -> str:
    """``value`` as a single-quoted SQL string literal (DuckDB and Braintrust SQL: quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


__all__ = ["sql_literal"]
