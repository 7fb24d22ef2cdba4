"""OTLP JSON loader (and the shared attribute mapping) against the agent-prism OTLP fixtures.

Expected numbers are computed here from the raw JSON with plain ``json``/``base64``, not with the
loader's helpers.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.loaders import otlp
from loop_jupyter.loaders.attributes import map_attributes
from loop_jupyter.report import LoadReport
from loop_jupyter.schema import is_canonical

FILES = ["quo_tav_agent.json", "rag_earnings_agent.json", "smol_deep_research_agent.json"]
# From SOURCES.md: spans and max depth per file.
PINNED = {"quo_tav_agent.json": (29, 5), "rag_earnings_agent.json": (18, 7), "smol_deep_research_agent.json": (8, 1)}


def raw_spans(path: Path) -> list[dict]:
    return [
        span
        for body in json.loads(path.read_text())
        for rs in body["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]


def hexid(b64: str) -> str:
    return base64.b64decode(b64).hex()


def attr(span: dict, key: str):
    for item in span["attributes"]:
        if item["key"] == key:
            return next(iter(item["value"].values()))
    return None


def raw_depth(spans: list[dict]) -> int:
    parent = {s["spanId"]: s.get("parentSpanId") for s in spans}

    def depth(span_id: str) -> int:
        n = 0
        while parent.get(span_id):
            span_id = parent[span_id]
            n += 1
        return n

    return max(depth(s) for s in parent)


@pytest.fixture(params=FILES)
def otlp_file(request, fixtures_dir: Path) -> Path:
    return fixtures_dir / "agent-prism" / "otlp" / request.param


def test_detect(otlp_file: Path) -> None:
    assert otlp.detect(json.loads(otlp_file.read_text()))
    assert otlp.detect(json.loads(otlp_file.read_text())[0])
    assert not otlp.detect({"trace": {}, "observations": []})
    assert not otlp.detect([{"id": 1}])


def test_fixture_loads_with_counts_links_depth_tokens(otlp_file: Path) -> None:
    spans = raw_spans(otlp_file)
    report = LoadReport()
    frame = otlp.load(otlp_file, report)
    assert is_canonical(frame)
    assert report.format == "otlp"
    assert report.ok and not report.warnings
    assert frame.height == len(spans) == PINNED[otlp_file.name][0]
    assert set(frame["span_id"]) == {hexid(s["spanId"]) for s in spans}
    # Every parent link resolves, and depth matches the raw parent chain.
    parents = set(frame["parent_id"].drop_nulls())
    assert parents <= set(frame["span_id"])
    assert frame["depth"].null_count() == 0
    assert frame["depth"].max() == raw_depth(spans) == PINNED[otlp_file.name][1]
    # One trace, one root; root_span_id is the parentless span's hex id.
    (root,) = [s for s in spans if not s.get("parentSpanId")]
    assert frame["root_span_id"].unique().to_list() == [hexid(root["spanId"])]
    assert frame.filter(pl.col("is_root"))["span_id"].to_list() == [hexid(root["spanId"])]
    trace_ids = frame["metadata"].str.json_path_match("$.trace_id").unique().to_list()
    assert trace_ids == [hexid(root["traceId"])]
    # Token totals.
    for key, column in (
        ("llm.token_count.prompt", "prompt_tokens"),
        ("llm.token_count.completion", "completion_tokens"),
        ("llm.token_count.total", "tokens"),
    ):
        expected = sum(int(attr(s, key) or 0) for s in spans)
        assert (frame[column].sum() or 0) == expected
    # Errors: status ERROR or exception events (none in these files).
    errors = sum(
        1
        for s in spans
        if s.get("status", {}).get("code") == "STATUS_CODE_ERROR"
        or any(e["name"] == "exception" for e in s.get("events", []))
    )
    assert frame["error"].drop_nulls().len() == errors == 0
    # Times: start/end from the nanosecond strings.
    by_id = {hexid(s["spanId"]): s for s in spans}
    for row in frame.select("span_id", "duration").iter_rows():
        s = by_id[row[0]]
        assert row[1] == pytest.approx((int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e9, abs=1e-5)
    # OpenInference kinds map to Braintrust types; the kind is kept.
    kinds = {hexid(s["spanId"]): attr(s, "openinference.span.kind") for s in spans}
    expected_type = {"LLM": "llm", "TOOL": "tool", "AGENT": "task", "CHAIN": "function", "RETRIEVER": "function"}
    for span_id, span_type, metadata in frame.select("span_id", "type", "metadata").iter_rows():
        kind = kinds[span_id]
        assert span_type == expected_type.get(kind)
        if kind:
            assert json.loads(metadata)["span_kind"] == kind


def test_smol_tokens_and_models(fixtures_dir: Path) -> None:
    frame = otlp.load(fixtures_dir / "agent-prism/otlp/smol_deep_research_agent.json", LoadReport())
    assert frame.filter(pl.col("type") == "llm").height == 6
    assert frame["tokens"].sum() == 25074  # "25k tokens in total" (SOURCES.md), summed from the raw file
    assert frame["model"].drop_nulls().len() == 6
    assert frame["duration"].max() > 90


def test_largest_attribute_survives_whole(fixtures_dir: Path) -> None:
    path = fixtures_dir / "agent-prism/otlp/quo_tav_agent.json"
    spans = raw_spans(path)
    best = max(
        ((s, a) for s in spans for a in s["attributes"]),
        key=lambda pair: len(json.dumps(pair[1]["value"])),
    )
    span, item = best
    assert len(json.dumps(item["value"])) > 267_000  # the 267k-character attribute (as escaped in the file)
    frame = otlp.load(path, LoadReport())
    row = frame.filter(pl.col("span_id") == hexid(span["spanId"])).row(0, named=True)
    field = item["key"].split(".")[0]  # input.value -> input, output.value -> output
    assert json.loads(row[field]) == json.loads(item["value"]["stringValue"])
    # A 120k message content inside an indexed message list survives too.
    for s in spans:
        content = attr(s, "llm.input_messages.5.message.content")
        if content and len(content) > 100_000:
            loaded = json.loads(frame.filter(pl.col("span_id") == hexid(s["spanId"]))["input"][0])
            assert loaded[5]["content"] == content


def test_time_to_first_token_from_stream_events(fixtures_dir: Path) -> None:
    path = fixtures_dir / "agent-prism/otlp/quo_tav_agent.json"
    expected = {
        hexid(s["spanId"]): (int(e["timeUnixNano"]) - int(s["startTimeUnixNano"])) / 1e9
        for s in raw_spans(path)
        for e in s.get("events", [])
        if e["name"] == "First Token Stream Event"
    }
    assert len(expected) == 3
    frame = otlp.load(path, LoadReport())
    got = {
        span_id: json.loads(metrics).get("time_to_first_token")
        for span_id, metrics in frame.select("span_id", "metrics").iter_rows()
    }
    for span_id, ttft in expected.items():
        assert got[span_id] == pytest.approx(ttft)
    assert sum(v is not None for v in got.values()) == 3


def test_unmapped_attributes_kept_in_metadata(fixtures_dir: Path) -> None:
    path = fixtures_dir / "agent-prism/otlp/rag_earnings_agent.json"
    report = LoadReport()
    frame = otlp.load(path, report)
    assert report.unmapped["app.name"] == 18
    chroma = frame.filter(pl.col("name") == "chroma.collection.query").row(0, named=True)
    metadata = json.loads(chroma["metadata"])
    assert metadata["db.system.name"] == attr(
        next(s for s in raw_spans(path) if s["name"] == "chroma.collection.query"), "db.system.name"
    )
    assert metadata["resource"]["service.name"] == "unknown_service"
    assert metadata["otel.scope"]["name"] == "quotientai.chroma"
    retriever = frame.filter(pl.col("name") == "VectorStoreRetriever").row(0, named=True)
    documents = json.loads(retriever["output"])
    assert len(documents) == 3 and "content" in documents[0]


def _hex_body(path: Path) -> list[dict]:
    bodies = json.loads(path.read_text())
    for body in bodies:
        for rs in body["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if s.get(key):
                            s[key] = base64.b64decode(s[key]).hex().upper()
                    s["startTimeUnixNano"] = int(s["startTimeUnixNano"])
    return bodies


def test_hex_ids_single_body_and_jsonl(fixtures_dir: Path, tmp_path: Path) -> None:
    path = fixtures_dir / "agent-prism/otlp/rag_earnings_agent.json"
    expected = otlp.load(path, LoadReport())
    bodies = _hex_body(path)
    # Upper-case hex ids and integer times, given as parsed objects.
    from_objects = otlp.load(bodies, LoadReport())
    assert sorted(from_objects["span_id"]) == sorted(expected["span_id"])
    assert from_objects["depth"].max() == 7
    # One body per line (JSONL) and a single body.
    jsonl = tmp_path / "spans.jsonl"
    jsonl.write_text("\n".join(json.dumps(b) for b in bodies) + "\n")
    from_lines = otlp.load(jsonl, LoadReport())
    assert from_lines.height == 18 and from_lines["tokens"].sum() == 648
    single = {"resourceSpans": [rs for b in bodies for rs in b["resourceSpans"]]}
    assert otlp.detect(single)
    assert otlp.load(single, LoadReport()).height == 18


def test_missing_root_uses_trace_id_and_warns(fixtures_dir: Path) -> None:
    bodies = json.loads((fixtures_dir / "agent-prism/otlp/smol_deep_research_agent.json").read_text())
    for body in bodies:
        for rs in body["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                ss["spans"] = [s for s in ss["spans"] if s.get("parentSpanId")]
    report = LoadReport()
    frame = otlp.load(bodies, report)
    trace_hex = hexid("uoqwG/CGgzyYnOKnop7uMQ==")
    assert frame.height == 7
    assert frame["root_span_id"].unique().to_list() == [trace_hex]
    assert any("no root span" in w.reason for w in report.warnings)
    assert any("not in the logs" in w.reason for w in report.warnings)  # orphans reported by the frame


def _span(**extra) -> dict:
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "chat gpt-4o",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000002500000000",
        "attributes": [],
    }
    span.update(extra)
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]}


def test_errors_from_status_and_exception_events() -> None:
    body = _span(
        status={"code": "STATUS_CODE_ERROR", "message": "rate limited"},
        events=[
            {
                "name": "exception",
                "timeUnixNano": "1700000001000000000",
                "attributes": [
                    {"key": "exception.type", "value": {"stringValue": "RateLimitError"}},
                    {"key": "exception.stacktrace", "value": {"stringValue": "Traceback ..."}},
                    {"key": "exception.escaped", "value": {"boolValue": False}},
                ],
            },
            {"name": "retry", "timeUnixNano": "1700000001500000000"},
        ],
    )
    frame = otlp.load(body, LoadReport())
    error = json.loads(frame["error"][0])
    assert error == {
        "status": "ERROR",
        "message": "rate limited",
        "type": "RateLimitError",
        "stacktrace": "Traceback ...",
    }
    events = json.loads(frame["metadata"][0])["events"]
    assert [e["name"] for e in events] == ["exception", "retry"]  # leftover exception.escaped kept
    assert frame["duration"][0] == pytest.approx(2.5)


def test_any_value_decoding_and_genai_attributes() -> None:
    attributes = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
        {"key": "gen_ai.response.model", "value": {"stringValue": "gpt-4o-2024-08-06"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 30}},
        {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}},
        {"key": "gen_ai.response.finish_reasons", "value": {"arrayValue": {"values": [{"stringValue": "stop"}]}}},
        {"key": "gen_ai.input.messages", "value": {"stringValue": '[{"role": "user", "parts": []}]'}},
        {"key": "gen_ai.system_instructions", "value": {"stringValue": '[{"type": "text", "content": "Be brief"}]'}},
        {"key": "gen_ai.output.messages", "value": {"stringValue": '[{"role": "assistant", "parts": []}]'}},
        {"key": "app.flag", "value": {"boolValue": True}},
        {"key": "app.blob", "value": {"bytesValue": "AAEC"}},
        {
            "key": "app.kv",
            "value": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}},
        },
        {"key": "error.type", "value": {"stringValue": "timeout"}},
    ]
    report = LoadReport()
    frame = otlp.load(_span(attributes=attributes), report)
    row = frame.row(0, named=True)
    assert row["type"] == "llm"
    assert row["model"] == "gpt-4o-2024-08-06"
    assert (row["prompt_tokens"], row["completion_tokens"], row["tokens"]) == (120, 30, 150)
    metadata = json.loads(row["metadata"])
    assert metadata["provider"] == "openai"
    assert metadata["request_model"] == "gpt-4o"
    assert metadata["finish_reasons"] == ["stop"]
    assert metadata["gen_ai.request.temperature"] == 0.2
    assert metadata["app.flag"] is True and metadata["app.blob"] == "AAEC" and metadata["app.kv"] == {"a": 1}
    assert json.loads(row["input"])[0] == {"role": "system", "parts": [{"type": "text", "content": "Be brief"}]}
    assert json.loads(row["output"]) == [{"role": "assistant", "parts": []}]
    assert json.loads(row["error"]) == {"type": "timeout"}
    assert report.unmapped["app.flag"] == 1


def test_attribute_mapping_vercel_and_tools() -> None:
    outer = map_attributes({"ai.operationId": "ai.generateText", "ai.usage.promptTokens": "10", "ai.model.id": "gpt-5"})
    # The outer Vercel span sums its children: its usage stays in metadata, not metrics.
    assert outer.span_type == "function" and outer.metrics == {}
    assert outer.metadata["ai.usage.promptTokens"] == "10" and outer.metadata["model"] == "gpt-5"
    inner = map_attributes(
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.usage.inputTokens": "62",
            "ai.usage.outputTokens": "85",
            "ai.prompt.messages": '[{"role": "user", "content": "hi"}]',
            "ai.response.text": "hello",
        }
    )
    assert inner.span_type == "llm" and inner.metrics == {"prompt_tokens": 62, "completion_tokens": 85}
    assert inner.input == [{"role": "user", "content": "hi"}] and inner.output == "hello"
    tool = map_attributes(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.call.arguments": '{"city": "Tokyo"}',
            "gen_ai.tool.call.result": '{"temp": 20}',
        }
    )
    assert tool.span_type == "tool" and tool.input == {"city": "Tokyo"} and tool.output == {"temp": 20}
    assert tool.metadata["tool_name"] == "get_weather" and tool.metadata["tool_call_id"] == "call_1"
    oi = map_attributes(
        {
            "openinference.span.kind": "LLM",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "search",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
            "llm.tools.0.tool.json_schema": '{"type": "function"}',
            "llm.cost.total": 0.25,
            "tag.tags": ["a", "b"],
            "metadata": '{"tenant": "acme"}',
            "user.id": "u1",
            "session.id": "s1",
            "exception.message": "boom",
        }
    )
    assert oi.output == [{"role": "assistant", "tool_calls": [{"function": {"name": "search", "arguments": "{}"}}]}]
    assert oi.metadata["tools"] == [{"type": "function"}]
    assert oi.metrics == {"estimated_cost": 0.25}
    assert oi.tags == ["a", "b"]
    assert (oi.metadata["tenant"], oi.metadata["user"], oi.metadata["session_id"]) == ("acme", "u1", "s1")
    assert oi.error == {"message": "boom"}
    assert oi.unmapped == []


def test_malformed_input_reported_not_crashing(tmp_path: Path) -> None:
    body = _span()
    broken = copy.deepcopy(body)
    broken["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = ""
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(body) + "\n{not json\n" + json.dumps({"other": 1}) + "\n" + json.dumps(broken) + "\n")
    report = LoadReport()
    frame = otlp.load(path, report)
    assert frame.height == 1
    assert report.records_read == 4 and len(report.skipped) == 3
    assert sorted(p.line for p in report.skipped) == [2, 3, 4]
