"""Shared helpers of the store tests: demo logs as files, row-set comparison, documented examples."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter.engine import QueryError

ROOT = Path(__file__).resolve().parents[1]


def rows(frame: pl.DataFrame) -> list[str]:
    """A frame's rows as a sorted list (a row set), floats to 10 significant digits."""
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    if floats:
        frame = frame.with_columns(pl.col(floats).round_sig_figs(10))
    return sorted(repr(row) for row in frame.rows())


def write_split_jsonl(frame: pl.DataFrame, folder: Path, parts: int) -> list[Path]:
    """The demo frame as ``parts`` JSONL files, each holding whole traces, in load order."""
    from loop_jupyter.demo import jsonl_text

    folder.mkdir(parents=True, exist_ok=True)
    roots = frame.get_column("root_span_id").unique(maintain_order=True).to_list()
    paths = []
    for index in range(parts):
        chosen = set(roots[index::parts])
        part = frame.filter(pl.col("root_span_id").is_in(list(chosen)))
        path = folder / f"part-{index:02d}.jsonl"
        path.write_text(jsonl_text(part))
        paths.append(path)
    return paths


_CALL = re.compile(r"""(?:lj\.|store\.|source\.)(sql|filter)\((?:logs,\s*)?"([^"]+)"(?:,\s*shape="\w+")?\)""")
_CLI = re.compile(r"""python -m loop_jupyter (sql|filter) "([^"]+)\"""")


def documented_examples() -> dict[str, set[str]]:
    """Every SQL query and filter written in README.md and docs/*.md: ``lj.sql(logs, "...")``,
    ``store.filter("...")``, the CLI lines, and the filters block of docs/schema.md (with its
    ``-- or: ...`` alternatives)."""
    found: dict[str, set[str]] = {"sql": set(), "filter": set()}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        for pattern in (_CALL, _CLI):
            for kind, example in pattern.findall(text):
                found[kind].add(example)
    schema = (ROOT / "docs" / "schema.md").read_text()
    block = schema.split("## Filters", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    for line in block.strip().splitlines():
        condition, _, comment = line.partition("--")
        found["filter"].add(condition.strip())
        if comment.strip().startswith("or:"):
            found["filter"].add(comment.strip()[3:].strip())
    return found


def answer_documented_examples(
    source: Any,
    memory: Any,
    examples: dict[str, set[str]],
    same_sql: Callable[[pl.DataFrame, pl.DataFrame], bool],
    same_rows: Callable[[pl.DataFrame, pl.DataFrame], bool],
    label: str = "",
) -> int:
    """Every documented SQL example and filter (both shapes) answers on ``source`` as on ``memory``
    (``same_sql``/``same_rows`` say when two answers are the same); what the memory source refuses
    (a description, a spans-only column) ``source`` refuses too. Returns how many were compared."""
    answered = 0
    for query in sorted(examples["sql"]):
        expected = memory.sql(query)
        got = source.sql(query)
        assert got.columns == expected.columns, query
        assert same_sql(got, expected), (label, query, got, expected)
        answered += 1
    for condition in sorted(examples["filter"]):
        for shape in ("spans", "traces"):
            try:
                expected = memory.filter(condition, shape=shape)
            except QueryError:  # a description ("LLM spans from the last 5 days"), or a spans-only column
                with pytest.raises(QueryError):
                    source.filter(condition, shape=shape)
                continue
            got = source.filter(condition, shape=shape)
            assert same_rows(got, expected), (label, condition, shape, got.height, expected.height)
            assert source.count(condition, shape=shape) == expected.height
            answered += 1
    return answered
