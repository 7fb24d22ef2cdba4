"""The planner's facts from a store's stored vocabulary (``sources/vocab.py``), counted at import.

The same values ``facts._sql_facts`` and ``facts._store_frame_facts`` read with SQL over every
span, in the same order; a kind the store could not keep (more distinct values than its cap)
is read with that SQL instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...sources.vocab import Counted, Vocabulary


def _present(values: list[Counted]) -> list[str]:
    """The non-null values, sorted as ``ORDER BY v`` sorts them."""
    return sorted(c.value for c in values if c.value is not None)


def fill_from_vocab(
    facts: Any, vocab: Vocabulary, column: Callable[[str], list[Any]], user_keys: tuple[str, ...]
) -> None:
    """Fill ``facts`` (a ``Facts``) from ``vocab``; ``column(sql)`` answers what overflowed."""
    scores = vocab.values("score_key")
    facts.score_keys = (
        _present(scores)[:500]
        if scores is not None
        else column(
            "SELECT DISTINCT unnest(json_keys(scores)) AS k FROM logs WHERE json_type(scores) = 'OBJECT' "
            "ORDER BY k LIMIT 500"
        )
    )
    keys = vocab.values("meta_key")
    if keys is None:
        all_keys = column(
            "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs WHERE json_type(metadata) = 'OBJECT' LIMIT 2000"
        )
        root_keys = column(
            "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs WHERE is_root AND json_type(metadata) = 'OBJECT'"
        )
        child_keys = column(
            "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM logs "
            "WHERE NOT is_root AND json_type(metadata) = 'OBJECT'"
        )
        meta_keys, root, child = set(all_keys), set(root_keys), set(child_keys)
    else:
        meta_keys = {c.value for c in keys if c.value is not None}
        root = {c.value for c in keys if c.value is not None and c.n_root}
        child = {c.value for c in keys if c.value is not None and c.n > c.n_root}
    for user_key in (k for k in user_keys if k in meta_keys):
        stored = vocab.values("user_value", user_key)
        values = (
            _present(stored)
            if stored is not None
            else column(
                f"SELECT DISTINCT metadata.{user_key} AS v FROM logs WHERE metadata.{user_key} IS NOT NULL "
                "ORDER BY v LIMIT 5000"
            )
        )
        for value in values:
            facts.users.setdefault(str(value).lower(), user_key)
            facts.user_values.setdefault(str(value).lower(), str(value))
    facts.meta_keys = sorted(meta_keys)
    facts.root_meta_keys = root
    facts.root_only_keys = root - child
    for meta_key in sorted(k for k in meta_keys if k not in (*user_keys, "model") and re.fullmatch(r"[A-Za-z_]\w*", k)):
        stored = vocab.values("meta_value", meta_key)
        values = _present(stored) if stored is not None else []  # an overflow: more than 30 values
        if 0 < len(values) <= 30:
            for value in values:
                facts.meta_values.setdefault(str(value).lower(), (meta_key, str(value)))
    _fill_columns(facts, vocab, column)


def _fill_columns(facts: Any, vocab: Vocabulary, column: Callable[[str], list[Any]]) -> None:
    models = vocab.values("model")
    facts.models = (
        _present(models)[:2000]
        if models is not None
        else column("SELECT DISTINCT model FROM logs WHERE model IS NOT NULL ORDER BY model LIMIT 2000")
    )
    tags = vocab.values("tag")
    if tags is None:
        facts.tags = column(
            "SELECT DISTINCT t FROM (SELECT unnest(tags) AS t FROM logs) WHERE t IS NOT NULL ORDER BY t LIMIT 2000"
        )
        child = set(column("SELECT DISTINCT unnest(tags) AS t FROM logs WHERE NOT is_root"))
        root = set(column("SELECT DISTINCT unnest(tags) AS t FROM logs WHERE is_root"))
    else:
        facts.tags = _present(tags)[:2000]
        child = {c.value for c in tags if c.n > c.n_root}
        root = {c.value for c in tags if c.n_root}
    facts.root_only_tags = {t for t in root if t is not None} - child
    names = vocab.values("name")
    if names is None:
        facts.names = column("SELECT DISTINCT name FROM logs WHERE name IS NOT NULL ORDER BY name LIMIT 2000")
        facts.tool_names = column(
            "SELECT DISTINCT name FROM logs WHERE type = 'tool' AND name IS NOT NULL ORDER BY name LIMIT 2000"
        )
    else:
        facts.names = _present(names)[:2000]
        facts.tool_names = _present([c for c in names if c.n_tool])[:2000]
    types = vocab.values("type")
    facts.types = (
        _present(types)
        if types is not None
        else column("SELECT DISTINCT type FROM logs WHERE type IS NOT NULL ORDER BY type")
    )


__all__ = ["fill_from_vocab"]
