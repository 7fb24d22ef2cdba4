"""ClickHouse test tables built from the real DDL (../shared/fixtures/clickhouse), filled with our
real fixtures mapped as the exporters / Langfuse write them.

- Langfuse: every migration in ``clickhouse/langfuse/*.up.sql`` applied in file order (v3
  ``traces``/``observations``/``scores``, v4 events tables); rows from the Langfuse trace exports.
- OTel: the collector exporter's ``traces_table.sql`` template with ``%s`` filled as the exporter
  does (table name, empty ON CLUSTER, ``MergeTree()``, no TTL); rows from the OTLP exports, with
  attribute values as text the way the exporter's ``AsString()`` writes them.
- native: adapters.NATIVE_DDL, rows from ``lj.load_logs`` of the same files.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from loop_jupyter.clickhouse.adapters import NATIVE_DDL
from loop_jupyter.loaders.otlp import _get, iter_spans, key_values, normalize_id
from loop_jupyter.schema import COLUMNS


def statements(path: Path) -> list[str]:
    return [s.strip() for s in path.read_text().split(";") if s.strip()]


def apply_langfuse_migrations(session: Any, fixtures: Path) -> int:
    applied = 0
    for path in sorted((fixtures / "clickhouse" / "langfuse").glob("*.up.sql")):
        for statement in statements(path):
            session.query(statement)
            applied += 1
    return applied


def create_otel_table(session: Any, fixtures: Path, name: str = "otel_traces") -> None:
    template = (fixtures / "clickhouse" / "otel-collector" / "traces_table.sql").read_text()
    session.query(template % (name, "", "MergeTree()", ""))


def _text(value: Any) -> str:
    """pcommon.Value.AsString(): strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _ts(nanos: int) -> str:
    seconds, rest = divmod(int(nanos), 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S") + f".{rest:09d}"


_STATUS = {"STATUS_CODE_OK": "Ok", "STATUS_CODE_ERROR": "Error", 1: "Ok", 2: "Error"}


def otel_rows(paths: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        data = json.loads(path.read_text())
        bodies = data if isinstance(data, list) else [data]
        for span, resource, scope in iter_spans(bodies):
            start = int(_get(span, "startTimeUnixNano", "start_time_unix_nano"))
            end = int(_get(span, "endTimeUnixNano", "end_time_unix_nano"))
            status = span.get("status") or {}
            events = span.get("events") or []
            kind = span.get("kind") or "SPAN_KIND_UNSPECIFIED"
            rows.append(
                {
                    "Timestamp": _ts(start),
                    "TraceId": normalize_id(_get(span, "traceId", "trace_id"), 16) or "",
                    "SpanId": normalize_id(_get(span, "spanId", "span_id"), 8) or "",
                    "ParentSpanId": normalize_id(_get(span, "parentSpanId", "parent_span_id"), 8) or "",
                    "TraceState": span.get("traceState") or "",
                    "SpanName": span.get("name") or "",
                    "SpanKind": str(kind).removeprefix("SPAN_KIND_").title().replace("Unspecified", "Unset"),
                    "ServiceName": str(resource.get("service.name", "")),
                    "ResourceAttributes": {k: _text(v) for k, v in resource.items()},
                    "ScopeName": scope.get("name") or "",
                    "ScopeVersion": scope.get("version") or "",
                    "SpanAttributes": {k: _text(v) for k, v in key_values(span.get("attributes")).items()},
                    "Duration": end - start,
                    "StatusCode": _STATUS.get(status.get("code"), "Unset"),
                    "StatusMessage": status.get("message") or "",
                    "Events.Timestamp": [_ts(int(_get(e, "timeUnixNano", "time_unix_nano") or 0)) for e in events],
                    "Events.Name": [str(e.get("name", "")) for e in events],
                    "Events.Attributes": [
                        {k: _text(v) for k, v in key_values(e.get("attributes")).items()} for e in events
                    ],
                    "Links.TraceId": [],
                    "Links.SpanId": [],
                    "Links.TraceState": [],
                    "Links.Attributes": [],
                }
            )
    return rows


def _lf_time(value: Any) -> str | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%S.") + f"{parsed.microsecond // 1000:03d}"


def _lf_content(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _lf_metadata(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"metadata": value}
    if not isinstance(value, dict):
        return {}
    return {k: _text(v) for k, v in value.items() if v is not None}


def langfuse_rows(paths: list[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(traces, observations, scores) rows as Langfuse v3 stores an export."""
    traces, observations, scores = [], [], []
    for path in paths:
        data = json.loads(path.read_text())
        for item in data if isinstance(data, list) else [data]:
            trace = item.get("trace", item)
            obs_list = list(item.get("observations") or [])
            seen = {o.get("id") for o in obs_list}
            obs_list += [o for o in trace.get("observations") or [] if o.get("id") not in seen]
            ts = _lf_time(trace.get("timestamp"))
            traces.append(
                {
                    "id": trace["id"],
                    "timestamp": ts,
                    "name": trace.get("name") or "",
                    "user_id": trace.get("userId"),
                    "metadata": _lf_metadata(trace.get("metadata")),
                    "project_id": trace.get("projectId") or "p",
                    "public": bool(trace.get("public")),
                    "bookmarked": bool(trace.get("bookmarked")),
                    "tags": [t for t in trace.get("tags") or [] if isinstance(t, str)],
                    "input": _lf_content(trace.get("input")),
                    "output": _lf_content(trace.get("output")),
                    "session_id": trace.get("sessionId"),
                    "event_ts": ts,
                    "is_deleted": 0,
                }
            )
            for score in trace.get("scores") or []:
                value = score.get("value")
                scores.append(
                    {
                        "id": score["id"],
                        "timestamp": _lf_time(score.get("timestamp")),
                        "project_id": score.get("projectId") or "p",
                        "trace_id": score.get("traceId") or trace["id"],
                        "observation_id": score.get("observationId"),
                        "name": score.get("name") or "",
                        "value": float(value)
                        if isinstance(value, int | float) and not isinstance(value, bool)
                        else 0.0,
                        "source": score.get("source") or "API",
                        "comment": score.get("comment"),
                        "data_type": score.get("dataType") or "NUMERIC",
                        "string_value": score.get("stringValue"),
                        "event_ts": _lf_time(score.get("updatedAt") or score.get("timestamp")),
                        "is_deleted": 0,
                    }
                )
            for obs in obs_list:
                usage = {k: int(v) for k, v in (obs.get("usageDetails") or {}).items() if isinstance(v, int | float)}
                costs = {k: v for k, v in (obs.get("costDetails") or {}).items() if isinstance(v, int | float)}
                observations.append(
                    {
                        "id": obs["id"],
                        "trace_id": obs.get("traceId") or trace["id"],
                        "project_id": obs.get("projectId") or trace.get("projectId") or "p",
                        "type": obs.get("type") or "SPAN",
                        "parent_observation_id": obs.get("parentObservationId"),
                        "start_time": _lf_time(obs.get("startTime")),
                        "end_time": _lf_time(obs.get("endTime")),
                        "name": obs.get("name") or "",
                        "metadata": _lf_metadata(obs.get("metadata")),
                        "level": obs.get("level") or "DEFAULT",
                        "status_message": obs.get("statusMessage"),
                        "input": _lf_content(obs.get("input")),
                        "output": _lf_content(obs.get("output")),
                        "provided_model_name": obs.get("model"),
                        "usage_details": usage,
                        "cost_details": costs,
                        "total_cost": obs.get("totalCost"),
                        "event_ts": _lf_time(obs.get("updatedAt") or obs.get("startTime")),
                        "is_deleted": 0,
                    }
                )
    return traces, observations, scores


def langfuse_v4_rows(traces: list[dict[str, Any]], observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The v3 rows as Langfuse v4 writes them into ``events_full``: one row per span, the trace
    itself an app-root span (id = trace id, its name/input/output), trace-level columns on every row."""
    by_trace = {t["id"]: t for t in traces}
    rows = []

    def row(trace: dict[str, Any], **values: Any) -> dict[str, Any]:
        metadata = values.pop("metadata")
        return {
            "project_id": trace["project_id"],
            "trace_id": trace["id"],
            "trace_name": trace["name"],
            "user_id": trace["user_id"] or "",
            "session_id": trace["session_id"] or "",
            "tags": trace["tags"],
            "metadata_names": list(metadata),
            "metadata_values": list(metadata.values()),
            "event_ts": values["start_time"],
            "is_deleted": 0,
            **values,
        }

    for trace in traces:
        rows.append(
            row(
                trace,
                span_id=trace["id"],
                parent_span_id="",
                start_time=trace["timestamp"],
                end_time=None,
                name=trace["name"],
                type="SPAN",
                is_app_root=True,
                level="DEFAULT",
                input=trace["input"] or "",
                output=trace["output"] or "",
                metadata=trace["metadata"],
            )
        )
    for obs in observations:
        trace = by_trace[obs["trace_id"]]
        rows.append(
            row(
                trace,
                span_id=obs["id"],
                parent_span_id=obs["parent_observation_id"] or "",
                start_time=obs["start_time"],
                end_time=obs["end_time"],
                name=obs["name"],
                type=obs["type"],
                is_app_root=False,
                level=obs["level"],
                status_message=obs["status_message"] or "",
                input=obs["input"] or "",
                output=obs["output"] or "",
                provided_model_name=obs["provided_model_name"] or "",
                usage_details=obs["usage_details"],
                cost_details=obs["cost_details"],
                metadata=obs["metadata"],
            )
        )
    return rows


def insert_rows(session: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    body = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    session.query(f"INSERT INTO {table} SETTINGS date_time_input_format = 'best_effort' FORMAT JSONEachRow\n{body}")


def insert_frame(session: Any, table: str, frame: pl.DataFrame) -> None:
    """A canonical frame into the native table (through a Parquet file, types kept)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spans.parquet"
        frame.select(COLUMNS).with_columns(pl.int_range(frame.height, dtype=pl.Int64).alias("_row")).write_parquet(path)
        session.query(f"INSERT INTO {table} SELECT * FROM file('{path}', Parquet)")


def build_database(path: str, fixtures: Path, frames: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Create every table in a chDB database at ``path`` and fill it; returns row counts.
    ``frames`` holds the canonical frames ('otel', 'langfuse') of the same files for ``native``
    (one native table per schema: ``native_otel``, ``native_langfuse``)."""
    from chdb import session as chs

    session = chs.Session(path)
    try:
        apply_langfuse_migrations(session, fixtures)
        create_otel_table(session, fixtures)
        insert_rows(session, "otel_traces", otel_rows(otlp_files(fixtures)))
        traces, observations, scores = langfuse_rows(langfuse_files(fixtures))
        insert_rows(session, "traces", traces)
        insert_rows(session, "observations", observations)
        insert_rows(session, "scores", scores)
        # Langfuse v4 keeps the same traces one row per span (the v3 tables' rows, deduplicated).
        keep_traces = {t["id"]: t for t in traces}
        keep_obs = {o["id"]: o for o in observations}
        insert_rows(session, "events_full", langfuse_v4_rows(list(keep_traces.values()), list(keep_obs.values())))
        counts = {}
        for name, frame in frames.items():
            session.query(NATIVE_DDL.format(table=f"native_{name}"))
            insert_frame(session, f"native_{name}", frame)
        for table in (
            "otel_traces",
            "traces",
            "observations",
            "scores",
            "events_full",
            *(f"native_{n}" for n in frames),
        ):
            counts[table] = int(str(session.query(f"SELECT count() FROM {table}", "CSV")).strip())
        return counts
    finally:
        session.close()


def otlp_files(fixtures: Path) -> list[Path]:
    return sorted((fixtures / "agent-prism" / "otlp").glob("*.json"))


def langfuse_files(fixtures: Path) -> list[Path]:
    return sorted((fixtures / "agent-prism" / "langfuse").glob("*.json")) + sorted(
        (fixtures / "langfuse-framework-traces").glob("*.trace.json")
    )


# -- one database for every ClickHouse test module (chDB opens one directory per process) ----------
# Built once per test session (the ``chdb_tables`` fixture in tests/conftest.py) and shared by
# test_clickhouse_chdb.py, test_clickhouse_sources.py and test_clickhouse_agent.py.
DEMO_TRACES = 300
DEMO_SEED = 0
DEMO_NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def build_all(path: str, fixtures: Path, demo_file: Path) -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
    """Every table: the fixtures in otel / langfuse_v3 / langfuse_v4 / native, and the demo logs
    imported by ``import --to chdb:///`` into ``loop_spans``. Returns the loaders' frames
    ('otel', 'langfuse', 'demo') and the tables' row counts."""
    import loop_jupyter as lj
    from loop_jupyter.clickhouse.importer import import_to_chdb
    from loop_jupyter.demo import write_demo_jsonl

    otel = pl.concat([lj.load_logs(p) for p in otlp_files(fixtures)])
    langfuse = pl.concat([lj.load_logs(p) for p in langfuse_files(fixtures)], how="vertical_relaxed")
    # Two fixture files hold the same trace: Langfuse's ReplacingMergeTree keeps one row per id.
    langfuse = langfuse.unique(subset="id", keep="first", maintain_order=True)
    counts = build_database(path, fixtures, {"otel": otel, "langfuse": langfuse})
    write_demo_jsonl(demo_file, n_traces=DEMO_TRACES, seed=DEMO_SEED, now=DEMO_NOW)
    result = import_to_chdb(demo_file, f"chdb:///{path}", progress=False)
    assert result.report.ok and result.spans_added > 0
    return {"otel": otel, "langfuse": langfuse, "demo": lj.load_logs(demo_file)}, counts
