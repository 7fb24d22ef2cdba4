"""Langfuse public-API trace exports: ``{trace: {...}, observations: [...]}``.

Also accepted: a list of those, or a bare trace with ``observations`` inside. The trace becomes the
root span (type ``task``); observations hang below it by ``parentObservationId``. An observation's
``metadata`` often holds the raw OTel ``attributes`` as JSON text; they are mapped by
:mod:`.attributes`, but Langfuse's own fields (model, usage, cost, input, output) win because
Langfuse already resolved them. See ``docs/formats/langfuse.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ..frame import frame_from_events, iter_json_lines, loads, parse_timestamp
from ..report import LoadError, LoadReport
from ._common import read_document, source_of
from .attributes import apply_mapping, map_attributes, number, parse_json_text, restore_metric_sources

FORMAT = "langfuse"

#: Langfuse observation types onto Braintrust span types (original kept in metadata).
OBSERVATION_TYPES: dict[str, str | None] = {
    "GENERATION": "llm",
    "EMBEDDING": "llm",
    "TOOL": "tool",
    "AGENT": "task",
    "CHAIN": "function",
    "RETRIEVER": "function",
    "GUARDRAIL": "function",
    "EVALUATOR": "score",
    "SPAN": "function",
    "EVENT": "function",
}

# usageDetails keys onto Braintrust metrics (Langfuse's keys vary by SDK and provider).
_USAGE: dict[str, str] = {
    "input": "prompt_tokens",
    "output": "completion_tokens",
    "total": "tokens",
    "input_cached_tokens": "prompt_cached_tokens",
    "input_cache_read": "prompt_cached_tokens",
    "cached": "prompt_cached_tokens",
    "cache_read_input_tokens": "prompt_cached_tokens",
    "prompt_details.cache_read": "prompt_cached_tokens",
    "input_cache_creation": "prompt_cache_creation_tokens",
    "cache_creation_input_tokens": "prompt_cache_creation_tokens",
    "output_reasoning_tokens": "completion_reasoning_tokens",
    "output_reasoning": "completion_reasoning_tokens",
    "completion_details.reasoning": "completion_reasoning_tokens",
    "reasoning": "completion_reasoning_tokens",
}

_TOKEN_METRICS = (
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "prompt_cached_tokens",
    "prompt_cache_creation_tokens",
    "completion_reasoning_tokens",
    "prompt_audio_tokens",
    "completion_audio_tokens",
    "estimated_cost",
)

# Observation fields handled explicitly; ``inputUsage`` and friends are Langfuse's flat copies of
# usageDetails/costDetails, and ``latency``/``timeToFirstToken`` are derived from the timestamps
# (``latency`` is in ms in some exports and seconds in others, so it is kept only as raw metadata).
_OBSERVATION_HANDLED = {
    "id",
    "traceId",
    "type",
    "parentObservationId",
    "startTime",
    "endTime",
    "completionStartTime",
    "name",
    "metadata",
    "level",
    "statusMessage",
    "model",
    "usageDetails",
    "costDetails",
    "totalCost",
    "inputCost",
    "outputCost",
    "inputUsage",
    "outputUsage",
    "totalUsage",
    "input",
    "output",
}
_TRACE_HANDLED = {
    "id",
    "name",
    "timestamp",
    "tags",
    "userId",
    "sessionId",
    "input",
    "output",
    "metadata",
    "scores",
    "observations",
}


def _is_bare_trace(obj: object) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("observations"), list) and "id" in obj and "trace" not in obj


def _is_export(obj: object) -> bool:
    if not isinstance(obj, dict):
        return False
    trace = obj.get("trace")
    if isinstance(trace, dict) and "id" in trace:
        return isinstance(obj.get("observations"), list) or isinstance(trace.get("observations"), list)
    return _is_bare_trace(obj) and any(key in obj for key in ("timestamp", "projectId", "sessionId", "userId"))


def detect(sample: object) -> bool:
    """True for a Langfuse trace export, a bare trace with observations, or a list of either."""
    if isinstance(sample, list):
        return bool(sample) and _is_export(sample[0])
    return _is_export(sample)


def _exports(obj: object) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """``(trace, observations)`` pairs; the top-level observation list is the full copy (the one
    inside the trace has input and output nulled), so it wins, and ids only inside the trace are
    added."""
    items = obj if isinstance(obj, list) else [obj]
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("trace"), dict):
            trace = item["trace"]
            observations = list(item.get("observations") or [])
        else:
            trace, observations = item, []
        seen = {o.get("id") for o in observations if isinstance(o, dict)}
        for obs in trace.get("observations") or []:
            if isinstance(obs, dict) and obs.get("id") not in seen:
                observations.append(obs)
                seen.add(obs.get("id"))
        out.append((trace, [o for o in observations if isinstance(o, dict)]))
    return out


def _seconds(value: Any) -> float | None:
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        return None
    return parsed.timestamp() if parsed else None


def _content(value: Any) -> Any:
    """Decode input/output that Langfuse returns as JSON text; some SDKs encoded it twice (a JSON
    string holding JSON text), hence up to two rounds. Text that is not JSON is returned as is."""
    for _round in range(2):
        if not isinstance(value, str):
            break
        text = value.strip()
        if text[:1] not in ("{", "[", '"'):
            break
        try:
            value = loads(text)
        except ValueError:
            break
    return value


def _split_metadata(raw: Any, metadata: dict[str, Any], report: LoadReport) -> dict[str, Any]:
    """Spread Langfuse ``metadata`` (JSON text or object) into ``metadata``; return OTel attributes."""
    parsed = parse_json_text(raw) if isinstance(raw, str) else raw
    if parsed is None or parsed == {}:
        return {}
    if not isinstance(parsed, dict):
        metadata["langfuse_metadata"] = parsed
        report.note_unmapped("metadata")
        return {}
    attributes = parsed.get("attributes")
    for key, value in parsed.items():
        if key == "attributes" and isinstance(value, dict):
            continue
        target = {"resourceAttributes": "resource", "scope": "otel.scope"}.get(key, key)
        metadata.setdefault(target, value)
        report.note_unmapped(f"metadata.{key}")
    return attributes if isinstance(attributes, dict) else {}


def _scores(trace: dict[str, Any]) -> tuple[dict[str, dict[str, float]], list[dict[str, Any]]]:
    """Numeric scores by target (trace id or observation id), and the full score records."""
    numeric: dict[str, dict[str, float]] = {}
    records = [s for s in trace.get("scores") or [] if isinstance(s, dict)]
    for score in records:
        value = score.get("value")
        if score.get("dataType") in ("CATEGORICAL",) or isinstance(value, bool) or number(value) is None:
            continue
        if not isinstance(value, int | float) or not isinstance(score.get("name"), str):
            continue
        target = score.get("observationId") or trace.get("id")
        numeric.setdefault(str(target), {})[score["name"]] = value
    return numeric, records


def _trace_event(
    trace: dict[str, Any],
    root_id: str,
    observations: list[dict[str, Any]],
    scores: dict[str, float],
    records: list[dict[str, Any]],
    report: LoadReport,
) -> dict[str, Any]:
    start = _seconds(trace.get("timestamp"))
    starts = [s for s in (_seconds(o.get("startTime")) for o in observations) if s is not None]
    ends = [e for e in (_seconds(o.get("endTime")) for o in observations) if e is not None]
    if starts and (start is None or min(starts) < start):
        start = min(starts)
    metrics: dict[str, Any] = {}
    if start is not None:
        metrics["start"] = start
    if ends:
        metrics["end"] = max(ends)
    metadata: dict[str, Any] = {"trace_id": trace.get("id"), "observation_type": "TRACE"}
    if trace.get("userId") is not None:
        metadata["user"] = trace["userId"]
    if trace.get("sessionId") is not None:
        metadata["session_id"] = trace["sessionId"]
    event: dict[str, Any] = {
        "id": root_id,
        "span_id": root_id,
        "root_span_id": root_id,
        "span_parents": [],
        "created": trace.get("timestamp"),
        "input": _content(trace.get("input")),
        "output": _content(trace.get("output")),
        "tags": [t for t in trace.get("tags") or [] if isinstance(t, str)],
        "scores": scores or None,
        "metadata": metadata,
        "metrics": metrics,
        "span_attributes": {"name": trace.get("name"), "type": "task"},
    }
    # Every score record is kept whole (comments, sources, non-numeric values).
    if records:
        metadata["langfuse_scores"] = records
        report.note_unmapped("scores")
    attributes = _split_metadata(trace.get("metadata"), metadata, report)
    if attributes:
        mapping = map_attributes(attributes)
        restore_metric_sources(mapping, _TOKEN_METRICS)  # the root must not double-count its children
        mapping.span_type = None
        apply_mapping(event, mapping, report)
    for key, value in trace.items():
        if key not in _TRACE_HANDLED and value not in (None, [], {}):
            metadata.setdefault(key, value)
            report.note_unmapped(f"trace.{key}")
    return event


def _usage_metrics(obs: dict[str, Any], metadata: dict[str, Any], report: LoadReport) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    leftover: dict[str, Any] = {}
    usage = obs.get("usageDetails")
    if isinstance(usage, dict):
        for key, value in usage.items():
            name = _USAGE.get(key)
            if name is not None and name not in metrics and number(value) is not None:
                metrics[name] = number(value)
            elif value is not None:
                leftover[key] = value
    if leftover:
        metadata["usage_details"] = leftover
        report.note_unmapped("usageDetails")
    costs = obs.get("costDetails") if isinstance(obs.get("costDetails"), dict) else {}
    total = number(costs.get("total")) if costs else None
    if total is None and number(obs.get("totalCost")) and number(obs.get("totalCost")) != 0:
        total = number(obs.get("totalCost"))
    if total is not None:
        metrics["estimated_cost"] = total
    other_costs = {key: value for key, value in (costs or {}).items() if key != "total"}
    if other_costs:
        metadata["cost_details"] = other_costs
        report.note_unmapped("costDetails")
    return metrics


def _observation_event(
    obs: dict[str, Any],
    root_id: str,
    known: set[str],
    scores: dict[str, float],
    index: int,
    report: LoadReport,
    source: str,
) -> dict[str, Any]:
    start, end = _seconds(obs.get("startTime")), _seconds(obs.get("endTime"))
    metadata: dict[str, Any] = {"trace_id": obs.get("traceId"), "observation_type": obs.get("type")}
    parent = obs.get("parentObservationId")
    if parent and parent not in known:
        # Its parent was not exported (a span of an outer service): hang it under the trace root.
        metadata["parent_observation_id"] = parent
        report.warn(
            index,
            f"observation {obs.get('id')}: parent {parent} is not in the export; attached to the trace root",
            source=source,
        )
        parent = None
    metrics: dict[str, Any] = {}
    if start is not None:
        metrics["start"] = start
    if end is not None:
        metrics["end"] = end
    first_token = _seconds(obs.get("completionStartTime"))
    if first_token is not None and start is not None:
        metrics["time_to_first_token"] = first_token - start
    metrics.update(_usage_metrics(obs, metadata, report))
    if obs.get("model") is not None:
        metadata["model"] = obs["model"]
    obs_type = str(obs.get("type") or "").upper()
    event: dict[str, Any] = {
        "id": obs.get("id"),
        "span_id": obs.get("id"),
        "root_span_id": root_id,
        "span_parents": [parent or root_id],
        "created": obs.get("startTime"),
        "input": _content(obs.get("input")),
        "output": _content(obs.get("output")),
        "tags": [],
        "scores": scores or None,
        "metadata": metadata,
        "metrics": metrics,
        "span_attributes": {"name": obs.get("name")},
    }
    level = obs.get("level")
    if level == "ERROR":
        event["error"] = {"level": "ERROR", "message": obs.get("statusMessage")}
    else:
        if level not in (None, "DEFAULT"):
            metadata["level"] = level
        if obs.get("statusMessage"):
            metadata["status_message"] = obs["statusMessage"]
    attributes = _split_metadata(obs.get("metadata"), metadata, report)
    mapping = map_attributes(attributes)
    # Langfuse's usage and cost are authoritative (it already read these attributes and left them
    # off aggregate spans); attribute counts go back to metadata rather than being double-counted.
    restore_metric_sources(mapping, _TOKEN_METRICS)
    native = OBSERVATION_TYPES.get(obs_type)
    if obs_type in ("SPAN", "EVENT") and mapping.span_type is not None:
        native = mapping.span_type  # older exports typed everything SPAN; the attributes know better
    event["span_attributes"]["type"] = native
    apply_mapping(event, mapping, report)
    for key, value in obs.items():
        if key not in _OBSERVATION_HANDLED and value not in (None, [], {}):
            metadata.setdefault(key, value)
            report.note_unmapped(f"observation.{key}")
    return event


def _events(
    exports: list[tuple[dict[str, Any], list[dict[str, Any]]]], report: LoadReport, source: str
) -> Iterator[tuple[int, object]]:
    index = 0
    for trace, observations in exports:
        known = {str(o["id"]) for o in observations if o.get("id") is not None}
        trace_id = str(trace.get("id"))
        root_id = trace_id if trace_id not in known else f"trace:{trace_id}"
        numeric, records = _scores(trace)
        index += 1
        yield index, _trace_event(trace, root_id, observations, numeric.get(trace_id, {}), records, report)
        for obs in observations:
            index += 1
            try:
                event = _observation_event(
                    obs, root_id, known, numeric.get(str(obs.get("id")), {}), index, report, source
                )
            except (TypeError, ValueError, AttributeError) as exc:
                report.records_read += 1
                report.skip(index, f"malformed observation: {exc}", source=source, excerpt=str(obs)[:200])
                continue
            yield index, event


def load(path_or_obj: object, report: LoadReport) -> pl.DataFrame:
    """Load a Langfuse trace export file (JSON or JSONL of exports) or an already parsed export."""
    source = source_of(path_or_obj, report, FORMAT)
    obj = path_or_obj
    if isinstance(path_or_obj, str | Path):
        data = Path(path_or_obj).read_bytes()
        try:
            obj = read_document(data, report, source)
        except ValueError:
            obj = [item for _line, item in iter_json_lines(data, report, source=source)]
    exports = _exports(obj)
    if not exports:
        raise LoadError(f"{source or 'input'}: no Langfuse trace found")
    return frame_from_events(_events(exports, report, source), report, source=source)
