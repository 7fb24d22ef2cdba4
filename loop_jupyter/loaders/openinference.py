"""Phoenix / OpenInference span frames (``px.Client().get_spans_dataframe()`` and its files).

Columns: ``name, span_kind, parent_id, start_time, end_time, status_code, status_message,
context.span_id, context.trace_id`` and either ``attributes.<key>`` columns or one ``attributes``
column of (possibly nested) dicts. Accepts a polars or pandas DataFrame, a list of row dicts, or a
parquet / CSV / JSON / JSONL file of one. Attributes are mapped by :mod:`.attributes`.
See ``docs/formats/openinference.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from ..frame import frame_from_events, iter_json_lines, parse_timestamp
from ..report import LoadError, LoadReport
from ._common import read_document, source_of
from .attributes import apply_mapping, map_attributes, parse_json_text

FORMAT = "openinference"

_SPAN_ID = "context.span_id"
_TRACE_ID = "context.trace_id"
# Columns with a canonical home; every other non-attribute column is kept in metadata.
_KNOWN = {
    "name",
    "span_kind",
    "parent_id",
    "start_time",
    "end_time",
    "status_code",
    "status_message",
    _SPAN_ID,
    _TRACE_ID,
    "attributes",
    "events",
}


def _columns(sample: object) -> list[str] | None:
    if isinstance(sample, pl.DataFrame):
        return sample.columns
    if _is_pandas(sample):
        names = [str(name) for name in sample.columns]  # type: ignore[attr-defined]
        index_name = sample.index.name  # type: ignore[attr-defined]
        return [*names, str(index_name)] if index_name else names
    if isinstance(sample, list) and sample and isinstance(sample[0], dict):
        return list(sample[0])
    if isinstance(sample, dict):
        return list(sample)
    return None


def _is_pandas(obj: object) -> bool:
    return type(obj).__name__ == "DataFrame" and type(obj).__module__.startswith("pandas")


def detect(sample: object) -> bool:
    """True for a Phoenix span frame (DataFrame) or its rows/columns parsed from JSON."""
    columns = _columns(sample)
    if not columns or _SPAN_ID not in columns:
        return False
    return any(name in ("span_kind", "attributes", "parent_id") or name.startswith("attributes.") for name in columns)


def _plain(value: Any) -> Any:
    """numpy / pandas scalars and arrays to plain Python; NaN, NaT and pd.NA to None."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str | bool | int | datetime | date):
        return value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    module = type(value).__module__
    if module.startswith(("numpy", "pandas")):
        if hasattr(value, "tolist"):  # numpy arrays and scalars
            return _plain(value.tolist())
        if hasattr(value, "to_pydatetime"):  # pd.Timestamp
            return value.to_pydatetime()
        try:
            import pandas as pd

            if pd.isna(value):
                return None
        except (ImportError, TypeError, ValueError):
            pass
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    return value


def flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """OpenInference's flat form: nested dicts become dotted keys, lists of dicts become indexed
    keys (``llm.input_messages.0.message.role``), lists of scalars stay lists. ``metadata`` and
    ``tool.parameters`` are user objects and stay whole."""
    value = _plain(value)
    if value is None:
        return
    if isinstance(value, dict) and prefix not in ("metadata", "tool.parameters"):
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else key, out)
        return
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for index, item in enumerate(value):
            flatten(item, f"{prefix}.{index}", out)
        return
    out[prefix] = value


def _attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    whole = row.get("attributes")
    if isinstance(whole, str):
        whole = parse_json_text(whole)
    if isinstance(whole, dict):
        flatten(whole, "", flat)
    for column, value in row.items():
        if column.startswith("attributes."):
            key = column[len("attributes.") :]
            if isinstance(value, str) and key not in ("input.value", "output.value"):
                # CSV and JSON round trips turn list/dict cells into JSON text.
                parsed = parse_json_text(value)
                value = parsed if isinstance(parsed, list | dict) else value
            flatten(value, key, flat)
    return flat


def _row_seconds(row: dict[str, Any], name: str, index: int, report: LoadReport, source: str) -> float | None:
    """A row's time in seconds; one that cannot be read (or lies outside years 1-9999) is a
    warning and null: the span loads, the rest of the file too."""
    try:
        return _seconds(row.get(name))
    except ValueError as exc:
        report.warn(index, f"{name}: {exc} (loaded as null)", source=source)
        return None


def _seconds(value: Any) -> float | None:
    value = _plain(value)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    parsed = parse_timestamp(value)
    return parsed.timestamp() if parsed else None


def _rows(source: object) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(source, pl.DataFrame):
        for index, row in enumerate(source.iter_rows(named=True), start=1):
            yield index, row
    elif _is_pandas(source):
        frame = source
        if _SPAN_ID not in frame.columns and frame.index.name == _SPAN_ID:  # type: ignore[attr-defined]
            frame = frame.reset_index()  # type: ignore[attr-defined]
        for index, row in enumerate(frame.to_dict("records"), start=1):  # type: ignore[attr-defined]
            yield index, {str(key): _plain(value) for key, value in row.items()}
    elif isinstance(source, list):
        for index, row in enumerate(source, start=1):
            if isinstance(row, dict):
                yield index, row
    elif isinstance(source, dict):
        # pandas ``to_json`` default (orient="columns"): {column: {index: value}} or {column: [values]}.
        columns = {name: list(cells.values()) if isinstance(cells, dict) else cells for name, cells in source.items()}
        length = max((len(cells) for cells in columns.values() if isinstance(cells, list)), default=0)
        for index in range(length):
            yield (
                index + 1,
                {name: cells[index] if isinstance(cells, list) else None for name, cells in columns.items()},
            )


def _read(path: Path, report: LoadReport, source: str) -> object:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema_length=0)  # all text: ids must not become numbers
    except (Exception, pl.exceptions.PanicException) as exc:  # a Rust panic is a BaseException
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise LoadError(f"{path}: not a readable {suffix[1:]} file ({type(exc).__name__}: {first})") from None
    data = path.read_bytes()
    if suffix == ".jsonl":
        return [obj for _line, obj in iter_json_lines(data, report, source=source)]
    try:
        return read_document(data, report, source)
    except ValueError:
        return [obj for _line, obj in iter_json_lines(data, report, source=source)]


def _error(row: Mapping[str, Any], events: list[Any], mapped: Any) -> tuple[Any, list[dict[str, Any]]]:
    error: dict[str, Any] = {}
    status = str(row.get("status_code") or "").upper()
    if status in ("ERROR", "STATUS_CODE_ERROR", "2"):
        error["status"] = "ERROR"
        if row.get("status_message"):
            error["message"] = row["status_message"]
    kept = []
    for event in events:
        if not isinstance(event, dict):
            kept.append(event)
            continue
        attrs: dict[str, Any] = {}
        flatten(event.get("attributes"), "", attrs)
        if event.get("name") == "exception":
            for field in ("type", "message", "stacktrace"):
                if f"exception.{field}" in attrs and field not in error:
                    error[field] = attrs.pop(f"exception.{field}")
            if not attrs:
                continue
        kept.append({**event, "attributes": attrs} if attrs else {k: v for k, v in event.items() if k != "attributes"})
    if isinstance(mapped, dict) and error:
        for key, value in mapped.items():
            error.setdefault(key, value)
    return error or None, kept


def _events(rows: list[tuple[int, dict[str, Any]]], report: LoadReport, source: str) -> Iterator[tuple[int, object]]:
    roots: dict[str, str] = {}
    for _index, row in rows:
        trace_id, span_id = row.get(_TRACE_ID), row.get(_SPAN_ID)
        if trace_id is not None and span_id is not None and _plain(row.get("parent_id")) in (None, ""):
            roots.setdefault(str(trace_id), str(span_id))
    warned: set[str] = set()
    for index, row in rows:
        span_id = _plain(row.get(_SPAN_ID))
        trace_id = _plain(row.get(_TRACE_ID))
        parent = _plain(row.get("parent_id"))
        root = roots.get(str(trace_id)) if trace_id is not None else None
        if root is None and trace_id is not None:
            root = str(trace_id)
            if root not in warned:
                warned.add(root)
                report.warn(
                    index, f"trace {trace_id}: no root span in the frame; its trace id stands in", source=source
                )
        start, end = (_row_seconds(row, name, index, report, source) for name in ("start_time", "end_time"))
        metrics = {key: value for key, value in (("start", start), ("end", end)) if value is not None}
        metadata: dict[str, Any] = {"trace_id": trace_id}
        event: dict[str, Any] = {
            "id": span_id,
            "span_id": span_id,
            "root_span_id": root,
            "span_parents": [str(parent)] if parent not in (None, "") else [],
            "created": start,
            "metadata": metadata,
            "metrics": metrics,
            "span_attributes": {"name": _plain(row.get("name"))},
            "tags": [],
        }
        attrs = _attributes(row)
        kind = _plain(row.get("span_kind"))
        if kind and "openinference.span.kind" not in attrs:
            attrs["openinference.span.kind"] = kind
        mapping = map_attributes(attrs)
        raw_events = _plain(row.get("events"))
        if isinstance(raw_events, str):
            raw_events = parse_json_text(raw_events)
        error, kept = _error(row, raw_events if isinstance(raw_events, list) else [], mapping.error)
        if error is not None:
            event["error"] = error
        if kept:
            metadata["events"] = kept
            report.note_unmapped("events")
        status = _plain(row.get("status_code"))
        if status and error is None:
            metadata["status_code"] = status
            if _plain(row.get("status_message")):
                metadata["status_message"] = _plain(row["status_message"])
        apply_mapping(event, mapping, report)
        for column, value in row.items():
            if column in _KNOWN or column.startswith("attributes."):
                continue
            value = _plain(value)
            if value is not None:
                metadata.setdefault(column, value.isoformat() if isinstance(value, datetime | date) else value)
                report.note_unmapped(column)
        yield index, event


def load(path_or_obj: object, report: LoadReport) -> pl.DataFrame:
    """Load a Phoenix span frame (polars/pandas), its rows, or a parquet/CSV/JSON(L) file of one."""
    source = source_of(path_or_obj, report, FORMAT)
    obj = path_or_obj
    if isinstance(path_or_obj, str | Path):
        obj = _read(Path(path_or_obj), report, source)
    if not detect(obj):
        raise LoadError(f"{source or 'input'}: not a Phoenix span frame (no {_SPAN_ID} column)")
    rows = list(_rows(obj))
    return frame_from_events(_events(rows, report, source), report, source=source)
