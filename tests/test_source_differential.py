"""The same answers from the frame and from a DuckDB store (issue 17): every registered tool and
the bench questions run on both, and their results are compared (text, tables as row sets, filter
counts and ids, charts' data).

The store holds fewer traces than the sampling threshold, so no answer is sampled and every one
must be identical; sampling is tested on its own below, with a low threshold.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.agent.session import Loop
from loop_jupyter.artifacts import Chart, Code, Pending, SqlFilter, Table, ToolResult, TraceView
from loop_jupyter.sources import DuckDBStore, connect
from loop_jupyter.sources.importer import import_logs
from loop_jupyter.tools import ToolContext, load_all_tools
from loop_jupyter.tools.working_set import SAMPLE_TRACES
from tests.store_helpers import rows

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
N_TRACES = 600
#: The bench questions (bench/bench_context.py) and a few more routed to other tools.
QUESTIONS = [
    "What are the most common errors?",
    "Show me LLM spans from user John Smith",
    "Which traces took longer than 60 seconds?",
    "How many tokens did each model use?",
    "Chart tokens by model over time",
    "Which users are frustrated?",
    "What languages do users write in?",
    "Show usage trends per day",
    "Describe the logs",
]


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(N_TRACES, seed=0, now=NOW)


@pytest.fixture(scope="module")
def store(logs: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("store") / "logs.duckdb"
    import_logs(logs, f"duckdb:///{path}", progress=False)
    source = DuckDBStore(path)
    yield source
    source.close()


def _ids(logs: pl.DataFrame) -> dict[str, str]:
    """Ids the tools' arguments name: a failing trace, its error span, the biggest trace."""
    failing = logs.filter(pl.col("error").is_not_null()).row(0, named=True)
    biggest = logs.group_by("root_span_id").len().sort(["len", "root_span_id"], descending=[True, False]).row(0)[0]
    return {"failing": failing["root_span_id"], "span": failing["span_id"], "big": biggest}


def _arguments(ids: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Argument sets per tool: the defaults, and the arguments that reach the pushed-down paths."""
    return {
        "run_sql": [
            {"query": "SELECT model, sum(tokens) AS tokens, count(*) AS n FROM logs GROUP BY model ORDER BY model"},
            {"query": "SELECT root_span_id, duration FROM traces ORDER BY duration DESC, root_span_id LIMIT 20"},
            {"query": "SELECT count(*) FROM logs WHERE scores.Factuality < 0.5"},
        ],
        "generate_filter": [
            {"description": "llm spans", "where": "span_attributes.type = 'llm'"},
            {"description": "slow traces", "where": "duration > 60", "shape": "traces"},
            {"description": "John", "where": "metadata.user = 'John Smith'"},
        ],
        "describe_schema": [{}],
        "read_field": [
            {"span_id": ids["span"], "field": "error"},
            {"span_id": ids["failing"], "field": "input", "length": 300},
        ],
        "grep_field": [{"pattern": "rate limit", "field": "error"}, {"pattern": "deploy", "span_id": ids["span"]}],
        "attribute_failure": [{}, {"root_span_id": ids["failing"]}],
        "chart": [
            {"kind": "latency_histogram"},
            {"kind": "latency_percentiles"},
            {"kind": "error_rate"},
            {"kind": "tokens_by_model"},
            {"kind": "cost"},
        ],
        "create_dataset": [{"name": "slow", "where": "duration > 30"}],
        "list_datasets": [{}],
        "search_docs": [{"question": "how do I write a filter"}],
        "common_errors": [{}, {"where": "duration > 20", "limit": 5}],
        "model_errors": [{}],
        "context_overflows": [{}],
        "failure_modes": [{}],
        "frustrated_users": [{}],
        "similar_traces": [{"trace_ids": [ids["failing"]]}, {"description": "deploy failed"}],
        "classify_intents": [{}],
        "detect_languages": [{}],
        "non_english_traces": [{}],
        "slow_requests": [{}, {"threshold_s": 20.5, "limit": 5, "where": "llm_calls > 2"}],
        "latency_patterns": [{}],
        "root_causes": [{}, {"where": "has_error"}],
        "create_scorer": [{"name": "mentions_refund", "kind": "code", "keywords": ["refund"]}],
        "run_scorer": [{"name_or_path": "nonexistent"}],
        "tool_health": [{}],
        "summarize_trace": [{"root_span_id": ids["big"]}],
        "trace_view": [{"root_span_id": ids["big"]}, {"root_span_id": ids["failing"], "view": "tools"}],
        "usage_trends": [{}, {"period": "week"}],
        "search_tools": [{"query": "slow traces latency"}],
        "annotate": [{"label": "wrong tool", "span_id": ids["span"]}, {"label": "slow", "where": "duration > 30"}],
        "list_annotations": [{}],
        "failed_questions": [{}],
        "failure_modes_over_time": [{}, {"every": "week", "top": 3}],
        "mode_to_dataset_and_scorer": [{}],
    }


def _figure_data(figure: Any) -> str:
    """A chart's numbers (its traces' data), floats rounded, in a comparable form."""
    data = figure.to_plotly_json().get("data", [])
    return json.dumps(data, sort_keys=True, default=lambda v: round(v, 9) if isinstance(v, float) else str(v))


def _comparable(result: ToolResult) -> dict[str, Any]:
    """What must be equal on both sources: text, error flag, and each artifact's content."""
    artifacts: list[Any] = []
    for artifact in result.artifacts:
        if isinstance(artifact, Table):
            artifacts.append(("table", artifact.title, artifact.frame.columns, rows(artifact.frame)))
        elif isinstance(artifact, SqlFilter):
            artifacts.append(("filter", artifact.sql, artifact.shape, artifact.count, sorted(artifact.ids)))
        elif isinstance(artifact, Chart):
            artifacts.append(("chart", artifact.title, _figure_data(artifact.figure)))
        elif isinstance(artifact, Code):
            artifacts.append(("code", artifact.source))
        elif isinstance(artifact, TraceView):
            artifacts.append(("trace", artifact.root_span_id, artifact.title))
        elif isinstance(artifact, Pending):
            artifacts.append(("pending", artifact.description, artifact.preview))
        else:
            artifacts.append((type(artifact).__name__, artifact.title))
    # How long a search took (similar traces: "of 600, 607 ms") is no result.
    text = re.sub(r", \d+ ms\)", ", <ms>)", result.text)
    return {"text": text, "is_error": result.is_error, "artifacts": artifacts}


TOOLS = load_all_tools()


def test_every_tool_has_arguments_here(logs: pl.DataFrame) -> None:
    """A new tool joins the differential test (give it argument sets in _arguments)."""
    assert set(_arguments(_ids(logs))) == set(TOOLS)


def test_store_is_below_the_sampling_threshold(store: Any) -> None:
    assert store.stats().traces == N_TRACES < SAMPLE_TRACES


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_tool_gives_the_same_result_on_frame_and_store(
    name: str, logs: pl.DataFrame, store: Any, tmp_path: Path
) -> None:
    spec = TOOLS[name]
    for arguments in _arguments(_ids(logs))[name]:
        memory = ToolContext(logs=logs, workdir=tmp_path)
        stored = ToolContext(source=store, workdir=tmp_path)
        expected = spec.function(memory, **arguments)
        got = spec.function(stored, **arguments)
        assert stored.pushdown and not memory.pushdown
        assert _comparable(got) == _comparable(expected), (name, arguments)


def test_bench_questions_give_the_same_answers(logs: pl.DataFrame, store: Any, tmp_path: Path) -> None:
    on_frame = Loop(logs, model="offline", workdir=tmp_path)
    on_store = Loop(store, model="offline", workdir=tmp_path)
    try:
        for question in QUESTIONS:
            expected, got = on_frame.ask(question), on_store.ask(question)
            assert got.error is None and expected.error is None, question
            assert got.text == expected.text, question
            assert [c["name"] for c in got.tool_calls] == [c["name"] for c in expected.tool_calls], question
            assert [_comparable(ToolResult("", [a])) for a in got.artifacts] == [
                _comparable(ToolResult("", [a])) for a in expected.artifacts
            ], question
    finally:
        on_frame.close()
        on_store.close()


def test_loop_opens_a_store_url_and_closes_it(store: Any, tmp_path: Path) -> None:
    """``Loop("duckdb:///...")`` opens the store read-only and releases it on close."""
    url = store.url
    loop = Loop(url, model="offline", workdir=tmp_path)
    try:
        assert loop.context().pushdown
        assert loop.ask("How many tokens did each model use?").error is None
    finally:
        loop.close()
    reopened = connect(url)  # a second read-only open of the same file works before and after
    assert reopened.stats().traces == N_TRACES
    reopened.close()


def test_large_store_samples_and_says_so(logs: pl.DataFrame, store: Any) -> None:
    """Above the threshold the working frame is a day-stratified sample, and answers read from it say so;
    pushed-down tools still count every trace."""
    ctx = ToolContext(source=store, sample_traces=100)
    sampled = TOOLS["frustrated_users"].function(ctx)
    assert sampled.text.startswith(f"(sampled 100 of {N_TRACES:,} traces, stratified by day.)")
    assert ctx.logs.get_column("root_span_id").n_unique() == 100
    expected_spans = store.sample(100, shape="traces", stratify_by_day=True).get_column("root_span_id")
    assert set(ctx.logs.get_column("root_span_id").to_list()) == set(expected_spans.to_list())
    # Every day with traces is in the sample (stratified), whatever its share.
    days = logs.group_by(pl.col("created").dt.date()).len().height
    assert ctx.logs.filter(pl.col("is_root")).get_column("created").dt.date().n_unique() == days
    counted = TOOLS["generate_filter"].function(ctx, description="all", where="TRUE", shape="traces")
    assert counted.first(SqlFilter).count == N_TRACES
    assert "sampled" not in counted.text
    errors = TOOLS["common_errors"].function(ctx)
    assert "sampled" not in errors.text
    assert errors.text == TOOLS["common_errors"].function(ToolContext(logs=logs)).text


def test_single_trace_tools_read_that_trace_only(logs: pl.DataFrame, store: Any, monkeypatch: Any) -> None:
    """From a large store a single-trace tool reads its trace with source.trace (not the sample)."""
    ctx = ToolContext(source=store, sample_traces=10)
    read: list[str] = []
    original = type(store).trace
    monkeypatch.setattr(type(store), "trace", lambda self, root: read.append(root) or original(self, root))
    root = _ids(logs)["big"]
    got = TOOLS["summarize_trace"].function(ctx, root_span_id=root)
    expected = TOOLS["summarize_trace"].function(ToolContext(logs=logs), root_span_id=root)
    assert read == [root]
    assert got.text == expected.text
    assert ctx._working is None  # no sample was drawn for it


def test_similar_traces_of_a_trace_outside_the_sample(logs: pl.DataFrame, store: Any) -> None:
    """The asked-for trace joins a store's sample, so its neighbours are found (among the sample)."""
    ctx = ToolContext(source=store, sample_traces=50)
    sampled = set(ctx.logs.get_column("root_span_id").unique().to_list())
    outside = next(r for r in logs.get_column("root_span_id").unique(maintain_order=True).to_list() if r not in sampled)
    result = TOOLS["similar_traces"].function(ctx, trace_ids=[outside])
    assert not result.is_error, result.text
    assert result.text.startswith("(sampled 51 of 600 traces, stratified by day.)")
    found = result.first(Table).frame.get_column("root_span_id").to_list()
    assert found and set(found) <= sampled


#: Tools that read a store without the working frame (docs/sources.md): exact on a store of any size.
PUSHED_DOWN = ("run_sql", "generate_filter", "read_field", "common_errors", "model_errors", "context_overflows",
               "slow_requests", "chart", "usage_trends", "summarize_trace", "trace_view", "attribute_failure")  # fmt: skip


@pytest.mark.parametrize("name", PUSHED_DOWN)
def test_pushed_down_tools_are_exact_past_the_sampling_threshold(
    name: str, logs: pl.DataFrame, store: Any, tmp_path: Path
) -> None:
    """With a threshold below the store's size, these tools still read every trace (no sample drawn)."""
    arguments_sets = _arguments(_ids(logs))[name]
    if name == "attribute_failure":
        arguments_sets = [a for a in arguments_sets if "root_span_id" in a]
    for arguments in arguments_sets:
        stored = ToolContext(source=store, workdir=tmp_path, sample_traces=10)
        got = TOOLS[name].function(stored, **arguments)
        expected = TOOLS[name].function(ToolContext(logs=logs, workdir=tmp_path), **arguments)
        assert stored._working is None, (name, arguments)  # the sample was never drawn
        assert _comparable(got) == _comparable(expected), (name, arguments)


def test_drawing_the_sample_is_not_held_to_one_query_time_limit(store: Any) -> None:
    """At 10M spans ranking every trace for the sample took longer than a query's 20 s limit and the
    text tools failed; the draw gets its own budget, and the query limit is back afterwards."""
    limit = store.engine.timeout_s
    store.engine.timeout_s = 1e-9
    try:
        with pytest.raises(Exception, match="time limit"):
            store.count()
        ctx = ToolContext(source=store, sample_traces=100)
        assert ctx.logs.get_column("root_span_id").n_unique() == 100
        assert store.engine.timeout_s == 1e-9
    finally:
        store.engine.timeout_s = limit


class _ProtocolOnly:
    """A LogSource with the protocol's methods only (as another backend may be: no narrow reads,
    no sample_spans, no longer_limit), delegating to a store."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.url = "protocol-only:"

    def __getattr__(self, name: str) -> Any:
        if name in ("schema", "stats", "sql", "filter", "count", "trace", "sample", "page", "close"):
            return getattr(self._store, name)
        raise AttributeError(name)


@pytest.mark.parametrize("name", ["slow_requests", "chart", "usage_trends", "common_errors", "frustrated_users"])
def test_tools_on_a_source_with_the_protocol_only(name: str, logs: pl.DataFrame, store: Any, tmp_path: Path) -> None:
    source = _ProtocolOnly(store)
    got = TOOLS[name].function(ToolContext(source=source, workdir=tmp_path))
    expected = TOOLS[name].function(ToolContext(logs=logs, workdir=tmp_path))
    assert _comparable(got) == _comparable(expected)
    sampled = ToolContext(source=source, sample_traces=50)
    assert sampled.logs.get_column("root_span_id").n_unique() == 50
