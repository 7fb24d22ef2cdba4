"""Trace-level metadata keys answered from the root spans only (a store's query plan, not its answer).

In most logs a person (``metadata.user``) or a session is recorded on the root span of each trace
and on no other span. The store's vocabulary (``sources/vocab.py``) knows which keys those are. A
condition ``metadata.user = 'John Smith'`` can then only be true on a root span, so the store adds
``is_root AND`` in front of it: DuckDB filters the boolean column first and parses the metadata
JSON of the root spans alone (one span in 18 in the demo) instead of every span's. The rows
matched are the same by construction: the key is absent from every other span, so the comparison
is NULL there.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

#: The span views a condition may be narrowed on.
_SPAN_TABLES = {"logs", "logs_rows"}


def _root_only_key(node: exp.Expression, keys: set[str]) -> bool:
    """True for ``metadata.<key>`` (as the sandbox writes it) where ``key`` is root-only."""
    if not isinstance(node, exp.JSONExtractScalar):
        return False
    column, path = node.this, node.expression
    if not (isinstance(column, exp.Column) and column.name == "metadata" and not column.table):
        return False
    if not isinstance(path, exp.JSONPath):
        return False
    parts = path.expressions
    return (
        len(parts) == 2
        and isinstance(parts[0], exp.JSONPathRoot)
        and isinstance(parts[1], exp.JSONPathKey)
        and str(parts[1].this) in keys
    )


def _implies_root(condition: exp.Expression, keys: set[str]) -> bool:
    """True when ``condition`` is only true on spans holding a root-only key: ``key = literal``
    or ``key IN (literals)``."""
    if isinstance(condition, exp.Paren):
        return _implies_root(condition.this, keys)
    if isinstance(condition, exp.EQ):
        sides = (condition.this, condition.expression)
        return any(_root_only_key(a, keys) and isinstance(b, exp.Literal) for a, b in (sides, sides[::-1]))
    if isinstance(condition, exp.In):
        values = condition.expressions
        return bool(values) and _root_only_key(condition.this, keys) and all(isinstance(v, exp.Literal) for v in values)
    return False


def push_root_only(sql: str, keys: set[str]) -> str:
    """``sql`` with ``is_root AND`` added to each WHERE over the spans that compares a root-only
    metadata key with a literal (unchanged when there is none)."""
    if not keys or "metadata" not in sql:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except (sqlglot.errors.ParseError, RecursionError):
        return sql
    changed = False
    for select in tree.find_all(exp.Select):
        source = select.args.get("from_")
        where = select.args.get("where")
        if where is None or select.args.get("joins") or source is None:
            continue
        table = source.this
        if not isinstance(table, exp.Table) or table.name not in _SPAN_TABLES or table.db:
            continue
        conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
        if any(_implies_root(c, keys) for c in conjuncts):
            column = exp.column("is_root", table=table.alias_or_name if table.alias else None)
            where.set("this", exp.and_(column, exp.paren(where.this, copy=False), copy=False))
            changed = True
    return tree.sql(dialect="duckdb") if changed else sql


__all__ = ["push_root_only"]
