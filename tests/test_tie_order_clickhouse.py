"""The Langfuse adapters' ``scores`` text is the same at every query: its keys were concatenated in
``groupArray`` order, which follows ClickHouse's threads (tests/test_clickhouse_sources.py's sample
comparison failed now and then on '{"correctness":0,"hallucination":1,...}' against
'{"hallucination":1,"toxicity":0,"correctness":0}'). Keys now come in the scores' time order, then
id (tests/test_clickhouse_tie_order.py pins that order)."""

from __future__ import annotations

import json

import polars as pl
import pytest

pytest.importorskip("chdb")

import loop_jupyter as lj
from tests.test_clickhouse_sources import database  # noqa: F401 (the session's chDB tables)


@pytest.mark.parametrize("schema", ["langfuse_v3", "langfuse_v4"])
def test_scores_text_is_the_same_at_every_query(database, schema: str) -> None:  # noqa: F811
    path, _ = database
    source = lj.connect(f"chdb:///{path}?schema={schema}", timeout_s=300)
    try:
        seen = set()
        for _ in range(6):
            scores = source.filter("scores IS NOT NULL").select("id", "scores").sort("id")
            seen.add(tuple(scores.rows()))
        assert len(seen) == 1
        (rows,) = seen
        several = [text for _, text in rows if len(json.loads(text)) > 1]
        assert several, "no span with two scores: the case tests nothing"
        assert pl.DataFrame(rows, orient="row").height == len(rows)
    finally:
        source.close()
