"""Phoenix span-frame loader. The frames are built here, with plain Python, from the raw agent-prism
OTLP fixture (which carries OpenInference attributes), in the column layouts Phoenix produces."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from loop_jupyter.loaders import openinference
from loop_jupyter.report import LoadReport
from loop_jupyter.schema import is_canonical


def _value(value: dict):
    ((kind, raw),) = value.items()
    return int(raw) if kind == "intValue" else raw


def raw_spans(fixtures_dir: Path, name: str) -> list[dict]:
    bodies = json.loads((fixtures_dir / "agent-prism" / "otlp" / name).read_text())
    return [s for b in bodies for rs in b["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def phoenix_rows(spans: list[dict], *, nested: bool = False) -> list[dict]:
    """Rows as ``get_spans_dataframe`` has them: hex ids, datetimes, ``attributes.<key>`` columns
    (or, with ``nested``, one ``attributes`` column of nested dicts)."""
    rows = []
    for s in spans:
        attrs = {a["key"]: _value(a["value"]) for a in s["attributes"]}
        row = {
            "name": s["name"],
            "span_kind": attrs.get("openinference.span.kind", "UNKNOWN"),
            "parent_id": base64.b64decode(s["parentSpanId"]).hex() if s.get("parentSpanId") else None,
            "start_time": datetime.fromtimestamp(int(s["startTimeUnixNano"]) / 1e9, UTC),
            "end_time": datetime.fromtimestamp(int(s["endTimeUnixNano"]) / 1e9, UTC),
            "status_code": "OK" if s.get("status", {}).get("code") == "STATUS_CODE_OK" else "UNSET",
            "status_message": "",
            "context.span_id": base64.b64decode(s["spanId"]).hex(),
            "context.trace_id": base64.b64decode(s["traceId"]).hex(),
        }
        if nested:
            tree: dict = {}
            for key, value in attrs.items():
                node = tree
                parts = key.split(".")
                for part in parts[:-1]:
                    node = node.setdefault(part, {})
                node[parts[-1]] = value
            row["attributes"] = tree
        else:
            row.update({f"attributes.{key}": value for key, value in attrs.items()})
        rows.append(row)
    return rows


def expected(spans: list[dict]) -> dict:
    parent = {s["spanId"]: s.get("parentSpanId") for s in spans}

    def depth(span_id: str) -> int:
        n = 0
        while parent.get(span_id):
            span_id, n = parent[span_id], n + 1
        return n

    def total(key: str) -> int:
        return sum(int(a["value"]["intValue"]) for s in spans for a in s["attributes"] if a["key"] == key)

    return {
        "spans": len(spans),
        "depth": max(depth(s) for s in parent),
        "prompt_tokens": total("llm.token_count.prompt"),
        "tokens": total("llm.token_count.total"),
        "llm": sum(1 for s in spans for a in s["attributes"] if a["value"].get("stringValue") == "LLM"),
    }


def check(frame: pl.DataFrame, want: dict) -> None:
    assert is_canonical(frame)
    assert frame.height == want["spans"]
    assert set(frame["parent_id"].drop_nulls()) <= set(frame["span_id"])
    assert frame["depth"].null_count() == 0
    assert frame["depth"].max() == want["depth"]
    assert (frame["prompt_tokens"].sum() or 0) == want["prompt_tokens"]
    assert (frame["tokens"].sum() or 0) == want["tokens"]
    assert frame.filter(pl.col("type") == "llm").height == want["llm"]
    assert frame["root_span_id"].n_unique() == 1
    assert frame.filter(pl.col("is_root")).height == 1


@pytest.mark.parametrize("name", ["rag_earnings_agent.json", "smol_deep_research_agent.json", "quo_tav_agent.json"])
def test_polars_and_pandas_frames(fixtures_dir: Path, name: str) -> None:
    spans = raw_spans(fixtures_dir, name)
    want = expected(spans)
    rows = phoenix_rows(spans)
    polars_frame = pl.DataFrame(rows, infer_schema_length=None)
    pandas_frame = pd.DataFrame(rows)
    assert openinference.detect(polars_frame) and openinference.detect(pandas_frame)
    for source in (polars_frame, pandas_frame, pandas_frame.set_index("context.span_id")):
        report = LoadReport()
        frame = openinference.load(source, report)
        assert report.format == "openinference" and report.ok
        check(frame, want)


def test_nested_attributes_column(fixtures_dir: Path) -> None:
    # smol: no attribute key there is also a prefix of another (rag has db.operation and db.operation.status).
    spans = raw_spans(fixtures_dir, "smol_deep_research_agent.json")
    frame = openinference.load(pd.DataFrame(phoenix_rows(spans, nested=True)), LoadReport())
    check(frame, expected(spans))
    llm = frame.filter(pl.col("type") == "llm").row(0, named=True)
    assert json.loads(llm["input"])[0]["role"] == "user"
    assert llm["model"] is not None


def test_largest_value_survives(fixtures_dir: Path) -> None:
    spans = raw_spans(fixtures_dir, "quo_tav_agent.json")
    span, item = max(
        ((s, a) for s in spans for a in s["attributes"]), key=lambda p: len(p[1]["value"].get("stringValue", ""))
    )
    frame = openinference.load(pl.DataFrame(phoenix_rows(spans), infer_schema_length=None), LoadReport())
    row = frame.filter(pl.col("span_id") == base64.b64decode(span["spanId"]).hex()).row(0, named=True)
    assert json.loads(row[item["key"].split(".")[0]]) == json.loads(item["value"]["stringValue"])


def test_phoenix_list_columns_and_errors() -> None:
    """Phoenix stores message lists as lists of dicts with dotted keys, and exceptions as events."""
    rows = [
        {
            "name": "agent",
            "span_kind": "AGENT",
            "parent_id": None,
            "start_time": pd.Timestamp("2025-01-01T00:00:00Z"),
            "end_time": pd.Timestamp("2025-01-01T00:00:05Z"),
            "status_code": "ERROR",
            "status_message": "tool failed",
            "context.span_id": "aaaaaaaaaaaaaaaa",
            "context.trace_id": "t1",
            "attributes.input.value": "plan a trip",
            "attributes.llm.input_messages": None,
            "attributes.user.id": "u1",
            "attributes.tag.tags": ["prod"],
            "attributes.metadata": {"tenant": "acme"},
            "events": [
                {"name": "exception", "timestamp": "2025-01-01T00:00:04Z", "attributes": {"exception.type": "KeyError"}}
            ],
            "latency_ms": 5000.0,
        },
        {
            "name": "ChatOpenAI",
            "span_kind": "LLM",
            "parent_id": "aaaaaaaaaaaaaaaa",
            "start_time": pd.Timestamp("2025-01-01T00:00:01Z"),
            "end_time": pd.Timestamp("2025-01-01T00:00:03Z"),
            "status_code": "OK",
            "status_message": None,
            "context.span_id": "bbbbbbbbbbbbbbbb",
            "context.trace_id": "t1",
            "attributes.input.value": None,
            "attributes.llm.input_messages": [
                {"message.role": "system", "message.content": "be brief"},
                {"message.role": "user", "message.content": "hi"},
            ],
            "attributes.user.id": None,
            "attributes.tag.tags": None,
            "attributes.metadata": None,
            "events": [],
            "latency_ms": 2000.0,
        },
    ]
    report = LoadReport()
    frame = openinference.load(pd.DataFrame(rows), report)
    agent, llm = frame.row(0, named=True), frame.row(1, named=True)
    assert agent["type"] == "task" and llm["type"] == "llm"
    assert json.loads(agent["error"]) == {"status": "ERROR", "message": "tool failed", "type": "KeyError"}
    assert agent["tags"] == ["prod"] and agent["duration"] == 5.0
    metadata = json.loads(agent["metadata"])
    assert (metadata["user"], metadata["tenant"], metadata["latency_ms"]) == ("u1", "acme", 5000.0)
    assert json.loads(llm["input"]) == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert llm["error"] is None and llm["depth"] == 1
    assert report.unmapped["latency_ms"] == 2


def test_files(fixtures_dir: Path, tmp_path: Path) -> None:
    spans = raw_spans(fixtures_dir, "rag_earnings_agent.json")
    want = expected(spans)
    rows = phoenix_rows(spans)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    frame.write_parquet(tmp_path / "spans.parquet")
    pd.DataFrame(rows).to_json(tmp_path / "spans.json", orient="records", date_format="iso")
    pd.DataFrame(rows).to_json(tmp_path / "columns.json", date_format="iso")  # orient="columns"
    pd.DataFrame(rows).to_csv(tmp_path / "spans.csv", index=False)
    for name in ("spans.parquet", "spans.json", "columns.json", "spans.csv"):
        report = LoadReport()
        check(openinference.load(tmp_path / name, report), want)
        assert report.sources == [str(tmp_path / name)]
    assert openinference.detect(json.loads((tmp_path / "spans.json").read_text()))
    assert openinference.detect(json.loads((tmp_path / "columns.json").read_text()))
    assert not openinference.detect({"resourceSpans": []})
