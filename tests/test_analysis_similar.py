from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from loop_jupyter import embeddings
from loop_jupyter.analysis.similar import search, similar_traces
from loop_jupyter.artifacts import Code, Table
from loop_jupyter.tools import ToolContext
from tests.analysis_logs import chat_trace, frame


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOP_JUPYTER_CACHE", str(tmp_path / "cache"))
    embeddings._MEMORY.clear()


def _logs() -> pl.DataFrame:
    return frame(
        chat_trace(
            "pw1", "How do I reset my password?", "Open settings and click reset password.", tools=("lookup_user",)
        ),
        chat_trace(
            "pw2", "how can I reset my password please", "Click reset password in settings.", tools=("lookup_user",)
        ),
        chat_trace(
            "fl1",
            "Book a flight from Paris to Berlin tomorrow",
            "Booked flight AF123.",
            tools=("search_flights", "book"),
            error="TimeoutError: booking 1234 timed out",
        ),
        chat_trace(
            "fl2",
            "I need a flight to Rome on Friday",
            "Booked flight AZ9.",
            tools=("search_flights", "book"),
            error="TimeoutError: booking 999 timed out",
        ),
        chat_trace("wx1", "What's the weather in Tokyo?", "Sunny, 20C.", tools=("weather",)),
    )


def test_nearest_neighbour_is_the_near_duplicate():
    ctx = ToolContext(logs=_logs())
    for query, twin in (("pw1", "pw2"), ("pw2", "pw1"), ("fl1", "fl2"), ("fl2", "fl1")):
        table = similar_traces(ctx, trace_ids=[query]).first(Table).frame
        assert table.get_column("root_span_id")[0] == twin
        assert query not in table.get_column("root_span_id").to_list()
    result = similar_traces(ctx, trace_ids=["fl1"])
    why = result.first(Table).frame.row(0, named=True)["why"]
    assert "errors: TimeoutError: booking <n> timed out" in why
    assert "tools: book, search_flights" in why
    assert result.first(Code) is not None


def test_description_and_selection():
    ctx = ToolContext(logs=_logs(), selection=["wx1"])
    top = similar_traces(ctx, description="password reset", limit=2).first(Table).frame
    assert set(top.get_column("root_span_id")) == {"pw1", "pw2"}
    assert "password" in top.get_column("why")[0]
    assert similar_traces(ctx).first(Table).frame.height == 4  # the selection, excluded from results
    assert similar_traces(ToolContext(logs=_logs())).is_error


def test_index_is_persisted_and_reused(tmp_path):
    logs = _logs()
    first = embeddings.trace_index(logs)
    files = sorted(p.name for p in (tmp_path / "cache" / "indexes").iterdir())
    assert files == [f"traces-{first.key}.npy", f"traces-{first.key}.parquet"]
    embeddings._MEMORY.clear()
    again = embeddings.load_index(first.key)
    assert again is not None and again.root_span_ids == first.root_span_ids
    np.testing.assert_array_equal(again.vectors, first.vectors)
    assert again.errors == first.errors and again.tools == first.tools
    # A changed frame gets another key.
    assert embeddings.frame_key(logs.head(3)) != first.key


def test_search_scores_match_an_independent_cosine():
    logs = _logs()
    index = embeddings.trace_index(logs)
    query = embeddings.embed(["flight booking"])[0]
    table = search(index, query, limit=5)
    expected = {rid: float(np.dot(index.vectors[i], query)) for i, rid in enumerate(index.root_span_ids)}
    for row in table.iter_rows(named=True):
        assert row["semantic"] == pytest.approx(expected[row["root_span_id"]], abs=1e-4)
    assert table.get_column("semantic").to_list() == sorted(table.get_column("semantic").to_list(), reverse=True)


def test_search_on_100k_traces_ranks_and_excludes():
    # Its speed is bench/bench_similar.py's job: a wall-clock bound in a test fails under CI load.
    rng = np.random.default_rng(0)
    n = 100_000
    vectors = embeddings.normalize(rng.standard_normal((n, embeddings.DIM)).astype(np.float32))
    names = [frozenset({"chat", f"tool{i % 7}"}) for i in range(n)]
    index = embeddings.TraceIndex(
        key="bench",
        root_span_ids=[f"t{i}" for i in range(n)],
        vectors=vectors,
        texts=[f"text {i}" for i in range(n)],
        span_names=names,
        tools=[frozenset({f"tool{i % 7}"}) for i in range(n)],
        errors=[frozenset() for _ in range(n)],
    )
    table = search(index, vectors[5], limit=10, exclude={5}, names=names[5], tools=index.tools[5], query_terms={"text"})
    assert table.height == 10 and "t5" not in table.get_column("root_span_id").to_list()


def test_generic_request_uses_the_selection():
    from loop_jupyter.analysis.similar import topic

    assert topic("Find similar traces") is None and topic("more like these ones please") is None
    assert topic("find traces similar to password resets") == "find traces similar to password resets"
    ctx = ToolContext(logs=_logs(), selection=["fl1"])
    table = similar_traces(ctx, description="Find similar traces").first(Table).frame
    assert table.get_column("root_span_id")[0] == "fl2"
