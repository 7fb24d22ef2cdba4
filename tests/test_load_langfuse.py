"""Langfuse trace-export loader against the agent-prism and langfuse framework-trace fixtures.

Expected numbers are computed here from the raw JSON with plain ``json``."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.loaders import langfuse
from loop_jupyter.report import LoadReport
from loop_jupyter.schema import is_canonical

FRAMEWORKS = [
    "agno-2025-06-11",
    "autogen-2025-06-06",
    "beeai-2025-08-01",
    "claude-agent-2025-12-22",
    "crewai-2025-07-11",
    "csharp-agent-with-gemini-2026-03-09",
    "google-adk-2025-08-28",
    "google-gemini-2025-08-01",
    "koog-2025-08-26",
    "langgraph-js-2025-10-30",
    "langgraph-python-2025-08-22",
    "llamaindex-2025-06-05",
    "microsoft-agent-2025-12-17",
    "openai-agents-2025-09-30",
    "pydantic-ai-2025-06-06",
    "pydantic-ai-tools-2025-06-06",
    "pydantic-ai-tools-2025-12-04",
    "pydantic-ai-with-gemini-2025-12-24",
    "vercel-aisdk-2025-11-17",
    "vertex-ai-2025-08-01",
]
FILES = [f"agent-prism/langfuse/langfuse-{n}.json" for n in (1, 2, 3)] + [
    f"langfuse-framework-traces/{name}.trace.json" for name in FRAMEWORKS
]


def test_every_fixture_is_covered(fixtures_dir: Path) -> None:
    found = {
        str(p.relative_to(fixtures_dir))
        for pattern in ("agent-prism/langfuse/*.json", "langfuse-framework-traces/*.json")
        for p in fixtures_dir.glob(pattern)
    }
    assert found == set(FILES)


def raw_observations(doc: dict) -> list[dict]:
    """The full observation list: top-level copy, plus any only inside the trace."""
    observations = list(doc.get("observations") or [])
    ids = {o["id"] for o in observations}
    observations += [o for o in doc["trace"].get("observations") or [] if o["id"] not in ids]
    return observations


def iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def raw_depth(observations: list[dict]) -> int:
    """Depth with the trace as the root (0): a top-level observation is 1; one whose parent is not in
    the export counts as top-level."""
    parent = {o["id"]: o.get("parentObservationId") for o in observations}

    def depth(obs_id: str) -> int:
        n = 1
        while parent.get(obs_id) in parent:
            obs_id, n = parent[obs_id], n + 1
        return n

    return max((depth(i) for i in parent), default=0)


@pytest.mark.parametrize("name", FILES)
def test_fixture_loads(fixtures_dir: Path, name: str) -> None:
    path = fixtures_dir / name
    doc = json.loads(path.read_text())
    trace = doc["trace"]
    observations = raw_observations(doc)
    report = LoadReport()
    frame = langfuse.load(path, report)
    assert is_canonical(frame)
    assert report.format == "langfuse" and report.ok

    # One row for the trace plus one per observation; every parent link resolves.
    assert frame.height == len(observations) + 1
    assert set(frame["span_id"]) == {o["id"] for o in observations} | {trace["id"]}
    assert set(frame["parent_id"].drop_nulls()) <= set(frame["span_id"])
    assert frame["depth"].null_count() == 0
    assert frame["depth"].max() == raw_depth(observations)
    assert frame["root_span_id"].unique().to_list() == [trace["id"]]
    root = frame.filter(pl.col("is_root")).row(0, named=True)
    assert root["span_id"] == trace["id"] and root["type"] == "task" and root["name"] == trace["name"]

    # Tokens and cost from usageDetails / costDetails.
    def usage(key: str) -> int:
        return sum((o.get("usageDetails") or {}).get(key, 0) for o in observations)

    assert (frame["prompt_tokens"].sum() or 0) == usage("input")
    assert (frame["completion_tokens"].sum() or 0) == usage("output")
    assert (frame["tokens"].sum() or 0) == usage("total")
    cost = sum((o.get("costDetails") or {}).get("total", o.get("totalCost") or 0) for o in observations)
    assert (frame["cost"].sum() or 0) == pytest.approx(cost)

    # Errors: level ERROR (none in these files); WARNING/DEBUG kept in metadata.
    assert frame["error"].drop_nulls().len() == sum(o.get("level") == "ERROR" for o in observations)
    levels = [json.loads(m).get("level") for m in frame["metadata"]]
    assert sum(level == "DEBUG" for level in levels) == sum(o.get("level") == "DEBUG" for o in observations)

    # Durations come from start/end times, whatever unit ``latency`` used.
    by_id = {o["id"]: o for o in observations}
    for span_id, duration in frame.select("span_id", "duration").iter_rows():
        if span_id in by_id and by_id[span_id].get("endTime"):
            o = by_id[span_id]
            assert duration == pytest.approx(iso(o["endTime"]) - iso(o["startTime"]), abs=1e-3)

    # Trace-level user, session, tags and numeric scores on the root.
    metadata = json.loads(root["metadata"])
    assert metadata.get("user") == trace.get("userId")
    assert metadata.get("session_id") == trace.get("sessionId")
    assert root["tags"] == trace.get("tags", [])
    numeric = {s["name"]: s["value"] for s in trace.get("scores", []) if s["dataType"] == "NUMERIC"}
    assert (json.loads(root["scores"]) if root["scores"] else {}) == numeric
    assert len(metadata.get("langfuse_scores", [])) == len(trace.get("scores", []))

    # Models: every observation with a Langfuse model keeps it.
    models = dict(frame.select("span_id", "model").iter_rows())
    for o in observations:
        if o.get("model"):
            assert models[o["id"]] == o["model"]


def test_latency_units_differ_but_durations_agree(fixtures_dir: Path) -> None:
    agent_prism = langfuse.load(fixtures_dir / "agent-prism/langfuse/langfuse-2.json", LoadReport())
    doc = json.loads((fixtures_dir / "agent-prism/langfuse/langfuse-2.json").read_text())
    longest = max(doc["observations"], key=lambda o: o["latency"])
    assert longest["latency"] > 1000  # milliseconds in this file
    row = agent_prism.filter(pl.col("span_id") == longest["id"]).row(0, named=True)
    assert row["duration"] == pytest.approx(longest["latency"] / 1000, abs=1e-3)
    framework = langfuse.load(fixtures_dir / "langfuse-framework-traces/beeai-2025-08-01.trace.json", LoadReport())
    doc = json.loads((fixtures_dir / "langfuse-framework-traces/beeai-2025-08-01.trace.json").read_text())
    longest = max(doc["observations"], key=lambda o: o["latency"])
    assert longest["latency"] < 100  # seconds in this one
    row = framework.filter(pl.col("span_id") == longest["id"]).row(0, named=True)
    assert row["duration"] == pytest.approx(longest["latency"], abs=1e-3)


def test_missing_trace_observations_loads(fixtures_dir: Path) -> None:
    path = fixtures_dir / "langfuse-framework-traces/pydantic-ai-tools-2025-12-04.trace.json"
    doc = json.loads(path.read_text())
    assert "observations" not in doc["trace"]
    frame = langfuse.load(path, LoadReport())
    assert frame.height == len(doc["observations"]) + 1 == 13
    # The trace's input is JSON text twice over; it is decoded to the object.
    root = frame.filter(pl.col("is_root")).row(0, named=True)
    assert json.loads(root["input"]) == {"args": ["programming"], "kwargs": {}}


def test_orphan_observation_attached_to_trace_with_warning(fixtures_dir: Path) -> None:
    path = fixtures_dir / "langfuse-framework-traces/csharp-agent-with-gemini-2026-03-09.trace.json"
    doc = json.loads(path.read_text())
    ids = {o["id"] for o in doc["observations"]}
    (orphan,) = [o for o in doc["observations"] if o["parentObservationId"] and o["parentObservationId"] not in ids]
    report = LoadReport()
    frame = langfuse.load(path, report)
    row = frame.filter(pl.col("span_id") == orphan["id"]).row(0, named=True)
    assert row["parent_id"] == doc["trace"]["id"] and row["depth"] == 1
    assert json.loads(row["metadata"])["parent_observation_id"] == orphan["parentObservationId"]
    assert len(report.warnings) == 1 and orphan["id"] in report.warnings[0].reason


def test_otel_attributes_in_metadata_are_mapped(fixtures_dir: Path) -> None:
    path = fixtures_dir / "agent-prism/langfuse/langfuse-1.json"
    report = LoadReport()
    frame = langfuse.load(path, report)
    outer = frame.filter(pl.col("name") == "ai.streamText").row(0, named=True)
    metadata = json.loads(outer["metadata"])
    assert metadata["model"] == "gpt-5"  # from ai.model.id (Langfuse left model null here)
    assert metadata["resource"]["service.name"] == "unknown_service:node"
    assert metadata["promptName"] == "langfuse-docs-assistant-text"
    assert outer["tokens"] is None  # aggregate Vercel span: no double counting
    raw = next(o for o in json.loads(path.read_text())["observations"] if o["name"] == "ai.streamText.doStream")
    inner = frame.filter(pl.col("name") == "ai.streamText.doStream").row(0, named=True)
    ttft = iso(raw["completionStartTime"]) - iso(raw["startTime"])
    assert json.loads(inner["metrics"])["time_to_first_token"] == pytest.approx(ttft, abs=1e-3)
    assert ttft == pytest.approx(raw["timeToFirstToken"], abs=1e-3)
    assert report.unmapped["ai.settings.maxRetries"] >= 1


def test_langfuse_2_cached_and_reasoning_tokens(fixtures_dir: Path) -> None:
    doc = json.loads((fixtures_dir / "agent-prism/langfuse/langfuse-2.json").read_text())
    frame = langfuse.load(doc, LoadReport())
    metrics = [json.loads(m) for m in frame["metrics"]]
    cached = sum(o["usageDetails"].get("input_cached_tokens", 0) for o in doc["observations"])
    reasoning = sum(o["usageDetails"].get("output_reasoning_tokens", 0) for o in doc["observations"])
    assert sum(m.get("prompt_cached_tokens", 0) for m in metrics) == cached
    assert sum(m.get("completion_reasoning_tokens", 0) for m in metrics) == reasoning
    # Both are present (as 0 in this file), so they reached metrics rather than being dropped.
    assert sum("prompt_cached_tokens" in m for m in metrics) == 1
    assert sum("completion_reasoning_tokens" in m for m in metrics) == 1


def test_shapes_errors_and_detection(fixtures_dir: Path) -> None:
    doc = json.loads((fixtures_dir / "agent-prism/langfuse/langfuse-3.json").read_text())
    assert langfuse.detect(doc) and langfuse.detect([doc])
    assert not langfuse.detect({"resourceSpans": []})
    broken = copy.deepcopy(doc)
    generation = next(o for o in broken["observations"] if o["type"] == "GENERATION")
    generation["level"], generation["statusMessage"] = "ERROR", "context length exceeded"
    warned = next(o for o in broken["observations"] if o["type"] == "SPAN")
    warned["level"], warned["statusMessage"] = "WARNING", "slow"
    # A bare trace with observations inside, and a list of exports.
    bare = {**copy.deepcopy(broken["trace"]), "observations": broken["observations"]}
    assert langfuse.detect(bare)
    other = json.loads((fixtures_dir / "agent-prism/langfuse/langfuse-1.json").read_text())
    for source, rows in ((broken, 8), (bare, 8), ([broken, other], 8 + 6)):
        frame = langfuse.load(source, LoadReport())
        assert frame.height == rows
        assert frame["root_span_id"].n_unique() == (2 if isinstance(source, list) else 1)
        assert frame.filter(pl.col("error").is_not_null()).height == 1
        row = frame.filter(pl.col("span_id") == generation["id"]).row(0, named=True)
        assert json.loads(row["error"]) == {"level": "ERROR", "message": "context length exceeded"}
        meta = json.loads(frame.filter(pl.col("span_id") == warned["id"])["metadata"][0])
        assert (meta["level"], meta["status_message"]) == ("WARNING", "slow")


def test_each_file_is_one_source(fixtures_dir) -> None:
    from loop_jupyter import load_logs_with_report

    folder = fixtures_dir / "langfuse-framework-traces"
    _, report = load_logs_with_report(folder)
    files = sorted(str(p) for p in folder.glob("*.json"))
    assert sorted(report.sources) == files
