"""Reads of the ``otel`` adapter that map only the traces they can answer from.

The adapter (adapters.py ``_otel``) maps the exporter's ``otel_traces`` to our columns; the root of a
span (``root_span_id``) and its ``depth`` need the whole trace, every other column comes from the
span's own row. So a read whose answer lies in some traces can narrow the table to those traces
*before* mapping, and give the same rows: every span of a kept trace maps exactly as it would over
the whole table. Narrowed here:

- a span filter (``filter``, ``count``, ``sample``, ``page`` with ``where``) on columns a span's own
  row gives (not ``root_span_id``, ``depth``, no subquery, nothing random): the traces holding a span
  that passes the same condition over those per-span columns (:func:`span_rows`); the condition is
  applied again over the mapped spans, so it only decides which traces are mapped;
- one trace (``trace(root)``): its root is a parentless span's ``SpanId`` or, for a trace without
  one, its ``TraceId``, so the traces holding a span ``SpanId = root`` or ``TraceId = root``;
- the first page of spans or traces in source order: the traces of the first ``offset + limit``
  rows by the order key computed from ``otel_traces`` (``WITH TIES``, so ties stay in).

Each of those first finds the TraceIds (a light query over ``otel_traces``), then maps only their
rows; past :data:`MAX_TRACES` traces it maps the whole table. Anything else maps the whole table,
as before. Small tables are mapped whole (:data:`MIN_SPANS`):
there the narrowed SQL costs more to plan than the mapping it saves.
"""

from __future__ import annotations

import re

from sqlglot import exp, parse_one

from .adapters import _canonical, _otel, _otel_base, _otel_links, canonical_columns, quote_name, sql_string

#: From this many spans in the table a read is narrowed (ClickHouseLogs.pushdown None: by size).
MIN_SPANS = 20_000
#: A read whose answer lies in more traces than this maps the whole table (a broad filter: the
#: narrowed mapping would cost as much, plus the query that found the traces).
MAX_TRACES = 2_000
#: Columns a span's own row gives (``root_span_id`` and ``depth`` need its whole trace).
PER_SPAN = frozenset(canonical_columns()) - {"root_span_id", "depth"}
_UNSTABLE = re.compile(r"rand|uuid|now64|nowInBlock|rowNumber|blockNumber", re.IGNORECASE)
_START = "toDateTime64(Timestamp, 6, 'UTC')"


def span_rows(table: str) -> str:
    """The per-span canonical columns of ``table``'s rows, plus ``_lj_trace_id`` (their TraceId)."""
    columns = canonical_columns()
    columns["id"] = "b.span_id"  # the adapter's id is its span id
    select = ",\n  ".join(f"{sql} AS `{name}`" for name, sql in columns.items() if name in PER_SPAN)
    return f"SELECT b.trace_id AS _lj_trace_id,\n  {select}\nFROM ({_otel_base(table)}) AS b"


def per_span(condition: str) -> bool:
    """True when a (translated, ClickHouse) condition reads only :data:`PER_SPAN` columns, holds no
    subquery or table, and computes nothing that differs between two evaluations."""
    if _UNSTABLE.search(condition):
        return False
    try:
        tree = parse_one(condition, dialect="clickhouse")
    except Exception:  # sqlglot cannot read it back: map the whole table
        return False
    if tree.find(exp.Select, exp.Table, exp.Lambda, exp.Window) is not None:
        return False
    for column in tree.find_all(exp.Column):
        if column.table not in ("", "logs") or column.name not in PER_SPAN:
            return False
    return True


def narrowed(tables: dict[str, str], trace_ids: list[str]) -> str:
    """The adapter over the rows of these traces only (their TraceIds, found by an ``*_ids`` query:
    a constant set, which the exporter's bloom-filter index on TraceId can skip granules for)."""
    table = quote_name(tables["spans"])
    keep = f"TraceId IN ({', '.join(sql_string(t) for t in trace_ids)})" if trace_ids else "0"
    source = f"(SELECT * FROM {table} WHERE {keep})"
    return _canonical(_otel(tables, source), _otel_links(tables, source), "trace_id")


def condition_ids(tables: dict[str, str], condition: str) -> str | None:
    """TraceIds of the traces with a span passing ``condition`` (None: not narrowable)."""
    if condition.strip() in ("", "1") or not per_span(condition):
        return None
    table = quote_name(tables["spans"])
    return f"SELECT DISTINCT _lj_trace_id FROM ({span_rows(table)}) AS logs WHERE {condition}"


def trace_ids(tables: dict[str, str], root_span_id: str) -> str:
    root = sql_string(root_span_id)
    table = quote_name(tables["spans"])
    return f"SELECT DISTINCT TraceId FROM {table} WHERE SpanId = {root} OR TraceId = {root}"


def first_span_ids(tables: dict[str, str], rows: int) -> str:
    """The traces of the first ``rows`` spans in source order (start, then span id)."""
    table = quote_name(tables["spans"])
    return f"SELECT DISTINCT TraceId FROM (SELECT TraceId FROM {table} ORDER BY {_START}, SpanId LIMIT {int(rows)} WITH TIES)"


def newest_trace_ids(tables: dict[str, str], rows: int) -> str:
    """The first ``rows`` traces of the traces view's order (newest first): a trace's ``created`` is
    its first parentless span's start, else its first span's start (traces_sql over the adapter)."""
    table = quote_name(tables["spans"])
    created = f"if(countIf(ParentSpanId = '') > 0, minIf({_START}, ParentSpanId = ''), min({_START}))"
    return (
        f"SELECT TraceId FROM (SELECT TraceId, {created} AS c FROM {table} GROUP BY TraceId) "
        f"ORDER BY c DESC LIMIT {int(rows)} WITH TIES"
    )
