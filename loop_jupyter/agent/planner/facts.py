"""Facts about the logs the planner reads its vocabulary from (small, cached per frame)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ...sources.vocab import USER_KEYS as VOCAB_USER_KEYS
from ...sql_guard import QueryError
from ...sqltext import sql_literal
from ...tools import ToolContext
from .stored_facts import fill_from_vocab

# -- facts about the logs (small, cached per frame) ----------------------------------------------------
USER_KEYS = VOCAB_USER_KEYS


@dataclass
class Facts:
    score_keys: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # lower value -> (metadata key) for exact value
    user_values: dict[str, str] = field(default_factory=dict)  # lower value -> value
    models: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    #: Names of tool spans ("deploy_app"), for "deploys" and "searches" in a question.
    tool_names: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    #: Low-cardinality metadata values: lower value -> (metadata key, value) ("2.8.0" -> app_version).
    meta_values: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Metadata keys present in the logs (for "by app version" groupings), and those on root spans.
    meta_keys: list[str] = field(default_factory=list)
    root_meta_keys: set[str] = field(default_factory=set)
    #: Trace-level attributes: metadata keys and tags recorded on root spans and on no other span
    #: (the demo's user, session_id and tags). A span filter on them reaches the spans of the trace.
    root_only_keys: set[str] = field(default_factory=set)
    root_only_tags: set[str] = field(default_factory=set)
    #: Which of some candidate strings are trace ids (root_span_id) in the logs.
    trace_ids: Callable[[list[str]], set[str]] = field(default=lambda ids: set())
    #: Up to ``limit`` trace ids starting with a prefix ("5f1c0c1e" for a UUID), sorted.
    trace_prefix: Callable[[str, int], list[str]] = field(default=lambda prefix, limit: [])


def facts_for(ctx: ToolContext) -> Facts:
    if ctx.pushdown:  # a store: the vocabulary of all the logs, in SQL (never from a sample)
        key = f"planner_facts:{ctx.source.url}"
        cached = ctx.cache.get(key)
        if cached is not None and cached[0] is ctx.source:
            return cached[1]
        facts = Facts()
        vocab = getattr(ctx.source, "vocabulary", lambda: None)()  # counted at import (sources/vocab.py)
        if vocab is not None and vocab.values("type"):
            fill_from_vocab(facts, vocab, lambda sql: _column(ctx, sql), USER_KEYS)
            _store_trace_facts(ctx, facts)
        elif ctx.count():
            # Each scan on its own: a source's limits (ClickHouse's memory per query on a large OTel
            # table) may refuse one; the question is then planned from what the others found.
            for scan in (_sql_facts, _store_frame_facts):
                try:
                    scan(ctx, facts)
                except QueryError:
                    continue
        ctx.cache[key] = (ctx.source, facts)
        return facts
    key = f"planner_facts:{id(ctx.logs)}"
    cached = ctx.cache.get(key)
    if cached is not None and cached[0] is ctx.logs:
        return cached[1]
    facts = Facts()
    logs = ctx.logs
    if logs.height:
        _sql_facts(ctx, facts)
        _frame_facts(logs, facts)
    ctx.cache[key] = (logs, facts)
    return facts


def _sql_facts(ctx: ToolContext, facts: Facts) -> None:
    """Score and metadata keys, users and low-cardinality metadata values (SQL over all the logs)."""
    engine = ctx
    facts.score_keys = engine.sql(
        "SELECT DISTINCT unnest(json_keys(scores)) AS k FROM logs WHERE json_type(scores) = 'OBJECT' ORDER BY k LIMIT 500"
    )["k"].to_list()
    meta_keys = set(
        engine.sql(
            "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs WHERE json_type(metadata) = 'OBJECT' LIMIT 2000"
        )["k"].to_list()
    )
    for user_key in (k for k in USER_KEYS if k in meta_keys):
        values = engine.sql(
            f"SELECT DISTINCT metadata.{user_key} AS v FROM logs WHERE metadata.{user_key} IS NOT NULL "
            "ORDER BY v LIMIT 5000"
        )["v"].to_list()
        for value in values:
            facts.users.setdefault(str(value).lower(), user_key)
            facts.user_values.setdefault(str(value).lower(), str(value))
    facts.meta_keys = sorted(meta_keys)
    facts.root_meta_keys = set(
        engine.sql(
            "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs "
            "WHERE is_root AND json_type(metadata) = 'OBJECT' LIMIT 2000"
        )["k"].to_list()
    )
    child_keys = set(
        engine.sql(
            "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs "
            "WHERE NOT is_root AND json_type(metadata) = 'OBJECT' LIMIT 2000"
        )["k"].to_list()
    )
    facts.root_only_keys = facts.root_meta_keys - child_keys
    for meta_key in sorted(k for k in meta_keys if k not in (*USER_KEYS, "model") and re.fullmatch(r"[A-Za-z_]\w*", k)):
        values = engine.sql(
            f"SELECT DISTINCT json_extract_string(metadata, '$.{meta_key}') AS v FROM logs "
            f"WHERE json_type(metadata, '$.{meta_key}') = 'VARCHAR' ORDER BY v LIMIT 31"
        )["v"].to_list()
        if 0 < len(values) <= 30:
            for value in values:
                facts.meta_values.setdefault(str(value).lower(), (meta_key, str(value)))


def _frame_facts(logs: pl.DataFrame, facts: Facts) -> None:
    """Models, tags, names, types and trace ids of logs in memory."""
    facts.models = logs.get_column("model").drop_nulls().unique().sort().to_list()[:2000]
    facts.tags = logs.get_column("tags").explode().drop_nulls().unique().sort().to_list()[:2000]
    is_root = logs.get_column("is_root")
    child_tags = set(logs.get_column("tags").filter(~is_root).explode().drop_nulls().unique().to_list())
    root_tags = set(logs.get_column("tags").filter(is_root).explode().drop_nulls().unique().to_list())
    facts.root_only_tags = root_tags - child_tags
    facts.names = logs.get_column("name").drop_nulls().unique().sort().to_list()[:2000]
    facts.types = logs.get_column("type").drop_nulls().unique().sort().to_list()
    facts.tool_names = (
        logs.filter(logs.get_column("type") == "tool").get_column("name").drop_nulls().unique().sort().to_list()[:2000]
    )
    roots = logs.get_column("root_span_id")
    facts.trace_ids = lambda ids: set(roots.filter(roots.is_in(ids)).to_list()) if ids else set()
    unique_roots = roots.drop_nulls().unique().sort()
    facts.trace_prefix = lambda prefix, limit: (
        unique_roots.filter(unique_roots.str.starts_with(prefix)).head(limit).to_list()
    )


def _column(ctx: ToolContext, sql: str) -> list[Any]:
    return ctx.sql(sql).to_series(0).to_list()


def _store_frame_facts(ctx: ToolContext, facts: Facts) -> None:
    """What ``_frame_facts`` reads from a frame, as SQL over a store (same values, same order)."""
    facts.models = _column(ctx, "SELECT DISTINCT model FROM logs WHERE model IS NOT NULL ORDER BY model LIMIT 2000")
    facts.tags = _column(
        ctx, "SELECT DISTINCT t FROM (SELECT unnest(tags) AS t FROM logs) WHERE t IS NOT NULL ORDER BY t LIMIT 2000"
    )
    child = set(_column(ctx, "SELECT DISTINCT unnest(tags) AS t FROM logs WHERE NOT is_root"))
    root = set(_column(ctx, "SELECT DISTINCT unnest(tags) AS t FROM logs WHERE is_root"))
    facts.root_only_tags = {t for t in root if t is not None} - child
    facts.names = _column(ctx, "SELECT DISTINCT name FROM logs WHERE name IS NOT NULL ORDER BY name LIMIT 2000")
    facts.types = _column(ctx, "SELECT DISTINCT type FROM logs WHERE type IS NOT NULL ORDER BY type")
    facts.tool_names = _column(
        ctx, "SELECT DISTINCT name FROM logs WHERE type = 'tool' AND name IS NOT NULL ORDER BY name LIMIT 2000"
    )
    _store_trace_facts(ctx, facts)


def _store_trace_facts(ctx: ToolContext, facts: Facts) -> None:
    """Which strings are trace ids, asked of the store's traces table when needed."""

    def trace_ids(ids: list[str]) -> set[str]:
        if not ids:
            return set()
        listed = ", ".join(sql_literal(str(i)) for i in ids[:1000])
        return set(_column(ctx, f"SELECT root_span_id FROM traces WHERE root_span_id IN ({listed})"))

    def trace_prefix(prefix: str, limit: int) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return _column(
            ctx,
            f"SELECT root_span_id FROM traces WHERE root_span_id LIKE {sql_literal(escaped + '%')} ESCAPE '\\' "
            f"ORDER BY root_span_id LIMIT {int(limit)}",
        )

    facts.trace_ids = trace_ids
    facts.trace_prefix = trace_prefix
