"""Narrow reads of a store's working sample (issue 17, "each bench question answered ≤ 10 s"):
the sampled text tools (frustration, languages, intents) read only the trace columns they use,
not every span of the sample whole, and answer exactly as before.

Differential, on the demo and on real fixtures:

- old vs new read path: the same store and sample, once with the whole span frame read first
  (what every sampled tool read before) and once narrow; text and tables identical, in order;
- in-memory frame vs store: the tool on a frame holding exactly the sampled traces' spans (cut
  from the loaded frame, not from the store) gives the store's answer less its sampling note;
- below the threshold (no sample) the store's narrow answer is the frame's.
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
from loop_jupyter.agent.planner.conclusions import _frustrated
from loop_jupyter.artifacts import Chart, Code, SqlFilter, Table, ToolResult
from loop_jupyter.engine import LogEngine
from loop_jupyter.loaders import load_logs
from loop_jupyter.sources import DuckDBStore
from loop_jupyter.sources.importer import import_logs
from loop_jupyter.tools import ToolContext, load_all_tools
from loop_jupyter.tools.working_reads import working_spans_of, working_trace_count, working_traces

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TOOLS = load_all_tools()
#: The tools that read the working traces narrowly, with their argument sets.
NARROW_TOOLS: dict[str, list[dict[str, Any]]] = {
    "frustrated_users": [{}, {"limit": 3, "min_score": 0.0}],
    "detect_languages": [{}],
    "non_english_traces": [{}, {"language": "ja"}],
    "classify_intents": [{}],
}
#: Logs to compare on: the demo, and real fixtures (tau-bench: user turns and feedback; tielec:
#: Japanese Claude Code sessions whose roots hold no user message, so languages reads their prompts).
DATASETS = ["demo", "tau-bench", "tielec-ai-workflow", "who-and-when"]
_NOTE = re.compile(r"^\(sampled [\d,.M]+ of [\d,.M]+ traces, stratified by day\.\)\s*")


def _load(name: str, fixtures_dir: Path) -> pl.DataFrame:
    if name == "demo":
        return demo.demo_logs(240, seed=3, now=NOW)
    if name == "who-and-when":
        return load_logs(fixtures_dir / "who-and-when" / "Who&When" / "Hand-Crafted")
    return load_logs(fixtures_dir / name)


@pytest.fixture(scope="module", params=DATASETS)
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import FIXTURES

    logs = _load(request.param, FIXTURES)
    path = tmp_path_factory.mktemp(f"sampled-{request.param}") / "logs.duckdb"
    import_logs(logs, f"duckdb:///{path}", progress=False)
    store = DuckDBStore(path)
    traces = store.stats().traces
    yield request.param, logs, store, max(2, traces * 2 // 3)
    store.close()


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _exact(result: ToolResult) -> dict[str, Any]:
    """Text, error flag and artifacts, tables row by row in their order."""
    artifacts: list[Any] = []
    for artifact in result.artifacts:
        if isinstance(artifact, Table):
            artifacts.append(("table", artifact.title, artifact.frame.schema, artifact.frame.rows()))
        elif isinstance(artifact, SqlFilter):
            artifacts.append(("filter", artifact.sql, artifact.shape, artifact.count, list(artifact.ids)))
        elif isinstance(artifact, Chart):
            data = artifact.figure.to_plotly_json().get("data")
            artifacts.append(("chart", artifact.title, json.dumps(data, sort_keys=True, default=_plain)))
        elif isinstance(artifact, Code):
            artifacts.append(("code", artifact.source))
        else:
            artifacts.append((type(artifact).__name__, getattr(artifact, "title", None)))
    return {"text": result.text, "is_error": result.is_error, "artifacts": artifacts}


def _cases() -> list[tuple[str, dict[str, Any]]]:
    return [(name, args) for name, sets in NARROW_TOOLS.items() for args in sets]


@pytest.mark.parametrize(("name", "arguments"), _cases(), ids=lambda v: v if isinstance(v, str) else repr(v))
def test_narrow_read_answers_as_the_whole_sample(dataset: Any, name: str, arguments: dict[str, Any]) -> None:
    """Old vs new read path: the tool reading the sample's trace columns gives the answer it gave
    on the sample's whole span frame; and it never reads that frame."""
    label, _logs, store, k = dataset
    narrow = ToolContext(source=store, sample_traces=k)
    got = TOOLS[name].function(narrow, **arguments)
    working = narrow._working
    assert working is not None and working.sampled, label
    assert not working.frame_read, (label, name)  # only the columns it uses were read

    whole = ToolContext(source=store, sample_traces=k)
    assert whole.logs.get_column("root_span_id").n_unique() > 0  # the old path: every span, every column
    expected = TOOLS[name].function(whole, **arguments)
    assert _exact(got) == _exact(expected), (label, name, arguments)
    assert _NOTE.match(got.text), (label, got.text[:120])
    # Asked again, with the frame's engine built (at 10M detect_languages then lost its note).
    again = TOOLS[name].function(whole, **arguments)
    assert _exact(again) == _exact(expected), (label, name, arguments)
    assert _exact(TOOLS[name].function(narrow, **arguments)) == _exact(got)


@pytest.mark.parametrize(("name", "arguments"), _cases(), ids=lambda v: v if isinstance(v, str) else repr(v))
def test_store_sample_answers_as_the_frame_of_those_traces(
    dataset: Any, name: str, arguments: dict[str, Any], tmp_path: Path
) -> None:
    """In-memory frame vs store: the loaded frame cut to the sampled traces answers as the store's
    narrow read (less the note saying it is a sample)."""
    label, logs, store, k = dataset
    ctx = ToolContext(source=store, sample_traces=k, workdir=tmp_path)
    got = TOOLS[name].function(ctx, **arguments)
    ids = ctx._working.ids
    frame = logs.filter(pl.col("root_span_id").is_in(ids.implode()))
    expected = TOOLS[name].function(ToolContext(logs=frame, workdir=tmp_path), **arguments)
    stated = _exact(got)
    stated["text"] = _NOTE.sub("", stated["text"], count=1)
    assert stated == _exact(expected), (label, name, arguments)


def test_unsampled_store_answers_as_the_frame(dataset: Any, tmp_path: Path) -> None:
    """Below the threshold the narrow reads cover every trace: the frame's answers exactly."""
    label, logs, store, _k = dataset
    for name, arguments in _cases():
        ctx = ToolContext(source=store, workdir=tmp_path)
        got = TOOLS[name].function(ctx, **arguments)
        assert not ctx._working.sampled and not ctx._working.frame_read
        expected = TOOLS[name].function(ToolContext(logs=logs, workdir=tmp_path), **arguments)
        assert _exact(got) == _exact(expected), (label, name, arguments)


def test_working_reads_are_the_frames_traces_view(dataset: Any) -> None:
    """The reads themselves: the sample's trace columns, span columns and trace count are those
    of the traces view of its whole span frame (same rows, same order, same types)."""
    label, _logs, store, k = dataset
    narrow = ToolContext(source=store, sample_traces=k)
    whole = ToolContext(source=store, sample_traces=k)
    columns = ("root_span_id", "input", "scores", "created", "user", "has_error", "metadata", "span_count")
    view = whole.engine.traces.select(columns)
    assert working_traces(narrow, columns).equals(view), label
    assert working_trace_count(narrow) == view.height
    some = view.get_column("root_span_id").head(5)
    span_columns = ("root_span_id", "is_root", "type", "input", "start", "created", "depth")
    expected = whole.logs.filter(pl.col("root_span_id").is_in(some.implode())).select(span_columns)
    assert working_spans_of(narrow, some, span_columns).equals(expected), label
    assert not narrow._working.frame_read
    # Ids outside the sample name no spans (as they are not in its frame).
    outside = store.filter(shape="traces").filter(~pl.col("root_span_id").is_in(view["root_span_id"].implode()))
    assert working_spans_of(narrow, outside.get_column("root_span_id").head(3), span_columns).height == 0


def test_sample_ids_are_the_sample(dataset: Any) -> None:
    """``sample_ids`` draws the traces ``sample`` draws, in its order; ``sample_spans`` their spans."""
    label, _logs, store, k = dataset
    ids = store.sample_ids(k, stratify_by_day=True)
    assert ids.to_list() == store.sample(k, stratify_by_day=True).get_column("root_span_id").to_list(), label
    spans, read = store.sample_spans(k, stratify_by_day=True)
    assert read == len(ids)
    listed = ", ".join("'" + str(i).replace("'", "''") + "'" for i in ids.drop_nulls().to_list())
    assert spans.equals(store.filter(f"root_span_id IN ({listed})")), label
    engine = LogEngine(spans)
    assert store.traces_of(ids, ("root_span_id", "input", "user")).equals(
        engine.traces.select("root_span_id", "input", "user")
    )


def test_frustration_conclusion_counts_the_sample_without_reading_it(dataset: Any) -> None:
    """The planner's sentence about frustrated users counts the scored traces, not the whole frame."""
    label, _logs, store, k = dataset
    ctx = ToolContext(source=store, sample_traces=k)
    result = TOOLS["frustrated_users"].function(ctx, min_score=0.0)
    sentence = _frustrated({}, result.artifacts, ctx)
    assert not ctx._working.frame_read, label
    if result.first(Table) is not None and ctx._working.traces_read:
        whole = ToolContext(source=store, sample_traces=k)
        assert sentence == _frustrated({}, TOOLS["frustrated_users"].function(whole, min_score=0.0).artifacts, whole)
