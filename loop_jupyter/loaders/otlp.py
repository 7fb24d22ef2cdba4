"""OTLP JSON trace exports: ``{resourceSpans: [{resource, scopeSpans: [{scope, spans}]}]}``.

Accepts one ``ExportTraceServiceRequest`` body, a JSON array of them, or JSONL with one body per
line; ids in hex or base64 (protobuf JSON); times as numbers or strings. Span attributes are mapped
by :mod:`.attributes` (GenAI, OpenInference, Vercel AI SDK). See ``docs/formats/otlp.md``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ..frame import frame_from_events, iter_json_lines
from ..report import LoadError, LoadReport
from ._common import read_document, source_of
from .attributes import apply_mapping, map_attributes

FORMAT = "otlp"

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_STATUS_ERROR = ("STATUS_CODE_ERROR", 2, "2", "ERROR")
_STATUS_OK = ("STATUS_CODE_OK", 1, "1", "OK")


def _get(obj: dict[str, Any], *names: str) -> Any:
    """A field under its protobuf-JSON (camelCase) or proto (snake_case) name."""
    for name in names:
        if name in obj:
            return obj[name]
    return None


def _bodies(sample: object) -> list[dict[str, Any]]:
    if isinstance(sample, dict):
        return [sample]
    if isinstance(sample, list):
        return [item for item in sample if isinstance(item, dict)]
    return []


def _is_body(obj: object) -> bool:
    return isinstance(obj, dict) and isinstance(_get(obj, "resourceSpans", "resource_spans"), list)


def detect(sample: object) -> bool:
    """True for an OTLP request body or a list of them (the first element is checked)."""
    if isinstance(sample, list):
        return bool(sample) and _is_body(sample[0])
    return _is_body(sample)


def normalize_id(value: object, size: int) -> str | None:
    """Lowercase hex for a trace id (``size`` 16) or span id (8) given in hex or base64.

    Empty and all-zero ids mean "none" in OTLP. Ids that are neither are returned unchanged.
    """
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) == size * 2 and _HEX.match(text):
        hexed = text.lower()
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return text
        if len(raw) != size:
            return text
        hexed = raw.hex()
    return None if set(hexed) == {"0"} else hexed


def any_value(value: object) -> Any:
    """Decode an OTLP ``AnyValue`` (``{"stringValue": ...}`` and friends) to plain JSON."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value or "string_value" in value:
        return _get(value, "stringValue", "string_value")
    if "intValue" in value or "int_value" in value:
        raw = _get(value, "intValue", "int_value")
        try:
            return int(raw)
        except (TypeError, ValueError):
            return raw
    if "doubleValue" in value or "double_value" in value:
        raw = _get(value, "doubleValue", "double_value")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return raw
        # NaN and infinities are not JSON: keep the text the exporter wrote.
        return number if number == number and abs(number) != float("inf") else str(raw)
    if "boolValue" in value or "bool_value" in value:
        return bool(_get(value, "boolValue", "bool_value"))
    if "arrayValue" in value or "array_value" in value:
        array = _get(value, "arrayValue", "array_value") or {}
        return [any_value(item) for item in array.get("values", [])]
    if "kvlistValue" in value or "kvlist_value" in value:
        kvlist = _get(value, "kvlistValue", "kvlist_value") or {}
        return key_values(kvlist.get("values", []))
    if "bytesValue" in value or "bytes_value" in value:
        return _get(value, "bytesValue", "bytes_value")  # base64 text, as exported
    return None


def key_values(items: object) -> dict[str, Any]:
    """``[{key, value: AnyValue}]`` to a dict (later duplicates win, as in the OTel SDKs)."""
    out: dict[str, Any] = {}
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and "key" in item:
                out[str(item["key"])] = any_value(item.get("value"))
    return out


def _nanos(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        nanos = int(value)
    except (TypeError, ValueError):
        try:
            nanos = int(float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    return nanos or None


def iter_spans(bodies: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Yield ``(span, resource attributes, scope)`` for every span in the request bodies."""
    for body in bodies:
        for resource_spans in _get(body, "resourceSpans", "resource_spans") or []:
            resource = key_values((resource_spans.get("resource") or {}).get("attributes"))
            scopes = _get(resource_spans, "scopeSpans", "scope_spans", "instrumentationLibrarySpans") or []
            for scope_spans in scopes:
                scope = _get(scope_spans, "scope", "instrumentationLibrary") or {}
                for span in scope_spans.get("spans") or []:
                    yield span, resource, scope


def _ttft_event(name: str) -> bool:
    lowered = name.lower().replace("_", " ")
    return "first token" in lowered


def span_event(
    span: dict[str, Any],
    resource: dict[str, Any],
    scope: dict[str, Any],
    root_span_id: str,
    report: LoadReport,
) -> dict[str, Any]:
    """One OTLP span as a Braintrust log event."""
    span_id = normalize_id(_get(span, "spanId", "span_id"), 8)
    trace_id = normalize_id(_get(span, "traceId", "trace_id"), 16)
    parent = normalize_id(_get(span, "parentSpanId", "parent_span_id"), 8)
    start = _nanos(_get(span, "startTimeUnixNano", "start_time_unix_nano"))
    end = _nanos(_get(span, "endTimeUnixNano", "end_time_unix_nano"))
    metrics: dict[str, Any] = {}
    if start is not None:
        metrics["start"] = start / 1e9
    if end is not None:
        metrics["end"] = end / 1e9
    metadata: dict[str, Any] = {"trace_id": trace_id}
    event: dict[str, Any] = {
        "id": span_id,
        "span_id": span_id,
        "root_span_id": root_span_id,
        "span_parents": [parent] if parent else [],
        "created": metrics.get("start"),
        "metadata": metadata,
        "metrics": metrics,
        "span_attributes": {"name": span.get("name")},
        "tags": [],
    }
    attrs = key_values(span.get("attributes"))
    mapping = map_attributes(attrs)

    # Status and exception events make the error; other events are kept in metadata.
    error: dict[str, Any] = {}
    status = span.get("status") or {}
    code = status.get("code")
    if code in _STATUS_ERROR:
        error["status"] = "ERROR"
        if status.get("message"):
            error["message"] = status["message"]
    elif code is not None or status.get("message"):
        metadata["status_code"] = "OK" if code in _STATUS_OK else code
        if status.get("message"):
            metadata["status_message"] = status["message"]
    kept_events = []
    for raw_event in span.get("events") or []:
        name = str(raw_event.get("name", ""))
        event_attrs = key_values(raw_event.get("attributes"))
        when = _nanos(_get(raw_event, "timeUnixNano", "time_unix_nano"))
        if name == "exception":
            for field in ("type", "message", "stacktrace"):
                if f"exception.{field}" in event_attrs and field not in error:
                    error[field] = event_attrs.pop(f"exception.{field}")
            if not event_attrs:
                continue
        elif _ttft_event(name) and when is not None and start is not None and "time_to_first_token" not in metrics:
            metrics["time_to_first_token"] = (when - start) / 1e9
            if not event_attrs:
                continue
        kept = {"name": name, "time": when / 1e9 if when is not None else None}
        if event_attrs:
            kept["attributes"] = event_attrs
        kept_events.append(kept)
    if kept_events:
        metadata["events"] = kept_events
        report.note_unmapped("events")
    if error:
        if isinstance(mapping.error, dict):
            for key, value in mapping.error.items():
                error.setdefault(key, value)
        event["error"] = error

    apply_mapping(event, mapping, report)

    # Span-level OTLP fields nothing canonical holds.
    for key, target in (
        ("kind", "otel.span_kind"),
        ("flags", "otel.flags"),
        ("traceState", "otel.trace_state"),
        ("links", "otel.links"),
        ("droppedAttributesCount", "otel.dropped_attributes_count"),
        ("droppedEventsCount", "otel.dropped_events_count"),
        ("droppedLinksCount", "otel.dropped_links_count"),
    ):
        if span.get(key) not in (None, "", 0, []):
            metadata[target] = span[key]
            report.note_unmapped(target)
    if scope:
        metadata["otel.scope"] = {key: value for key, value in scope.items() if key != "attributes"} | (
            {"attributes": key_values(scope["attributes"])} if scope.get("attributes") else {}
        )
        report.note_unmapped("otel.scope")
    if resource:
        metadata["resource"] = resource
        report.note_unmapped("resource")
    return event


def events_from_bodies(
    bodies: list[tuple[int | None, dict[str, Any]]], report: LoadReport, *, source: str = ""
) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Braintrust events for every span in ``(line, body)`` pairs, with each trace's root resolved."""
    spans: list[tuple[int | None, dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    for line, body in bodies:
        for span, resource, scope in iter_spans([body]):
            spans.append((line, span, resource, scope))
    # The root of a trace is its span without a parent; with several, the earliest.
    roots: dict[str, tuple[int, str]] = {}
    for _line, span, _resource, _scope in spans:
        trace_id = normalize_id(_get(span, "traceId", "trace_id"), 16) or ""
        if normalize_id(_get(span, "parentSpanId", "parent_span_id"), 8):
            continue
        span_id = normalize_id(_get(span, "spanId", "span_id"), 8)
        start = _nanos(_get(span, "startTimeUnixNano", "start_time_unix_nano")) or 0
        if span_id and (trace_id not in roots or start < roots[trace_id][0]):
            roots[trace_id] = (start, span_id)
    warned: set[str] = set()
    for index, (line, span, resource, scope) in enumerate(spans, start=1):
        trace_id = normalize_id(_get(span, "traceId", "trace_id"), 16) or ""
        if trace_id in roots:
            root = roots[trace_id][1]
        else:
            root = trace_id
            if trace_id not in warned:
                warned.add(trace_id)
                report.warn(line, f"trace {trace_id}: no root span in the export; its traceId stands in", source=source)
        where = line if line is not None else index
        try:
            event = span_event(span, resource, scope, root, report)
        except (TypeError, ValueError, AttributeError) as exc:
            # A span too malformed to map (an attribute list that is not a list...): skip it, located.
            report.records_read += 1
            report.skip(where, f"malformed OTLP span: {exc}", source=source, excerpt=str(span)[:200])
            continue
        yield where, event


def load(path_or_obj: object, report: LoadReport) -> pl.DataFrame:
    """Load an OTLP JSON file (body, array of bodies, or JSONL) or an already parsed body/list."""
    source = source_of(path_or_obj, report, FORMAT)
    if isinstance(path_or_obj, str | Path):
        data = Path(path_or_obj).read_bytes()
        try:
            parsed: object = read_document(data, report, source)
            bodies = [(None, body) for body in _bodies(parsed)]
        except ValueError:
            bodies = []
            for line, obj in iter_json_lines(data, report, source=source):
                if _is_body(obj):
                    bodies.append((line, obj))
                else:
                    report.records_read += 1
                    report.skip(line, "not an OTLP request body (no resourceSpans)", source=source)
    else:
        bodies = [(None, body) for body in _bodies(path_or_obj)]
    if not bodies:
        raise LoadError(f"{source or 'input'}: no OTLP resourceSpans found")
    return frame_from_events(events_from_bodies(bodies, report, source=source), report, source=source)
