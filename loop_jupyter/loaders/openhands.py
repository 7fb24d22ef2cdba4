"""OpenHands event streams: evaluation output (JSONL, one run per line with ``history``) and bare
event arrays (``runtime-trajs/*.json``, a trajectory or replay file).

One run is one trace. The root carries the run (``instance_id``, ``instruction`` as input,
``test_result`` as output, ``error``, ``metadata``, ``instance``). Every model response (a distinct
``tool_call_metadata.model_response.id``) becomes an llm span under the root, with its tokens
(``metrics.token_usages`` or the response's ``usage``) and latency (``metrics.response_latencies``);
every event becomes a span: actions under the llm span whose response issued them (or under the
root), observations under the action named by their ``cause``. ``observation: "error"`` events
get the error text as ``error``. See docs/formats/openhands.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ..frame import iter_json_lines, parse_timestamp
from ..report import LoadReport
from ._common import folder_files, load_files, load_path, read_document, sniff_json

FORMAT = "openhands"

_RUN_KEYS = {"instance_id", "instruction", "metadata", "history", "metrics", "error", "test_result", "instance"}
_EVENT_KEYS = {"id", "timestamp", "source", "message", "action", "observation", "cause", "args", "extras", "content"}


def _is_event(value: object) -> bool:
    return (
        isinstance(value, dict)
        and "id" in value
        and "source" in value
        and ("action" in value or "observation" in value)
    )


def detect(sample: object) -> bool:
    """True for an OpenHands run (``history`` of events, e.g. a JSONL line of eval output) or a
    bare event array."""
    if isinstance(sample, dict) and isinstance(sample.get("history"), list):
        history = sample["history"]
        return ("instance_id" in sample or "instruction" in sample) and (not history or _is_event(history[0]))
    if isinstance(sample, list) and sample:
        return _is_event(sample[0])
    return False


def _file_key(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _timestamp(value: object) -> float | None:
    try:
        moment = parse_timestamp(value)
    except ValueError:
        return None
    return moment.timestamp() if moment else None


def _token_metrics(usage: dict[str, Any]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for source, target in (("prompt_tokens", "prompt_tokens"), ("completion_tokens", "completion_tokens")):
        value = _number(usage.get(source))
        if value is not None:
            metrics[target] = value
    total = _number(usage.get("total_tokens"))
    if total is not None:
        metrics["tokens"] = total
    # OpenHands' own token_usages name cache fields cache_read/write_tokens; litellm's usage
    # (Anthropic) names them cache_read_input_tokens / cache_creation_input_tokens.
    for source, target in (
        ("cache_read_tokens", "prompt_cached_tokens"),
        ("cache_read_input_tokens", "prompt_cached_tokens"),
        ("cache_write_tokens", "prompt_cache_creation_tokens"),
        ("cache_creation_input_tokens", "prompt_cache_creation_tokens"),
    ):
        value = _number(usage.get(source))
        if value is not None:
            metrics[target] = value
    return metrics


def _run_events(
    run: dict[str, Any] | None,
    history: list[Any],
    *,
    key: str,
    index: int,
    line: int | None,
    report: LoadReport,
    source: str,
    default_name: str,
) -> Iterator[tuple[int | None, dict[str, Any]]]:
    run = run or {}
    name = run.get("instance_id")
    root_id = f"openhands-{key}-{index}" if name is None else f"openhands-{key}-{index}-{name}"
    events = [e for e in history if isinstance(e, dict)]
    if len(events) != len(history):
        report.warn(
            line, f"run {index}: {len(history) - len(events)} non-object events kept in root metadata", source=source
        )
        report.note_unmapped("history[] non-object", len(history) - len(events))
    times = [t for t in (_timestamp(e.get("timestamp")) for e in events) if t is not None]
    run_metrics = run.get("metrics") if isinstance(run.get("metrics"), dict) else {}
    usages = {
        u.get("response_id"): u
        for u in run_metrics.get("token_usages") or []
        if isinstance(u, dict) and u.get("response_id")
    }
    latencies = {
        u.get("response_id"): u
        for u in run_metrics.get("response_latencies") or []
        if isinstance(u, dict) and u.get("response_id")
    }

    metadata: dict[str, Any] = {"run_index": index}
    for field in ("instance_id", "metadata", "instance"):
        if field in run:
            metadata[field] = run[field]
    if run_metrics:
        # Run totals stay in metadata so that summing span metrics does not count them twice.
        metadata["run_metrics"] = run_metrics
    for extra in sorted(set(run) - _RUN_KEYS):
        metadata[extra] = run[extra]
        report.note_unmapped(extra)
    if len(events) != len(history):
        metadata["unparsed_events"] = [e for e in history if not isinstance(e, dict)]
    llm_config = run.get("metadata", {}).get("llm_config") if isinstance(run.get("metadata"), dict) else None
    if isinstance(llm_config, dict) and llm_config.get("model"):
        metadata["model"] = llm_config["model"]
    instruction = run.get("instruction")
    if instruction is None:
        first = next((e for e in events if e.get("source") == "user" and e.get("action") == "message"), None)
        instruction = first.get("message") if first else None
    root: dict[str, Any] = {
        "id": root_id,
        "span_id": root_id,
        "root_span_id": root_id,
        "span_parents": [],
        "created": events[0].get("timestamp") if events and times else None,
        "span_attributes": {"name": str(name or default_name), "type": "task"},
        "input": instruction,
        "output": run.get("test_result"),
        "error": run.get("error"),
        "metadata": metadata,
        "metrics": {"start": min(times), "end": max(times)} if times else None,
    }
    yield line, root

    event_span: dict[Any, str] = {}
    llm_span: dict[str, str] = {}
    seen: set[str] = {root_id}

    def unique(wanted: str) -> str:
        candidate, n = wanted, 1
        while candidate in seen:
            n += 1
            candidate = f"{wanted}#{n}"
        seen.add(candidate)
        return candidate

    for position, event in enumerate(events):
        created = event.get("timestamp")
        if _timestamp(created) is None:
            created = root["created"]
        tcm = event.get("tool_call_metadata") if isinstance(event.get("tool_call_metadata"), dict) else None
        response = tcm.get("model_response") if tcm and isinstance(tcm.get("model_response"), dict) else None
        response_id = response.get("id") if response else None
        parent = root_id
        if response_id and response_id not in llm_span and "action" in event:
            llm_id = unique(f"{root_id}-llm-{response_id}")
            llm_span[response_id] = llm_id
            usage = usages.get(response_id) or (
                response.get("usage") if isinstance(response.get("usage"), dict) else {}
            )
            llm_metrics = _token_metrics(usage) if usage else {}
            latency = _number((latencies.get(response_id) or {}).get("latency"))
            end = _timestamp(event.get("timestamp"))
            if latency is not None and end is not None:
                # The action is logged when the response arrives: end there, start latency before.
                llm_metrics["start"] = end - latency
                llm_metrics["end"] = end
            choices = response.get("choices")
            message = (
                choices[0].get("message")
                if isinstance(choices, list) and choices and isinstance(choices[0], dict)
                else None
            )
            model = (latencies.get(response_id) or {}).get("model") or usages.get(response_id, {}).get("model")
            llm_meta = {k: v for k, v in response.items() if k not in ("choices", "usage")}
            llm_meta["model"] = response.get("model") or model
            if model and model != llm_meta["model"]:
                llm_meta["configured_model"] = model
            llm_meta["response_id"] = response_id
            if usage:
                llm_meta["usage"] = usage
            if isinstance(choices, list) and len(choices) > 1:
                llm_meta["choices"] = choices
            yield (
                line,
                {
                    "id": llm_id,
                    "span_id": llm_id,
                    "root_span_id": root_id,
                    "span_parents": [root_id],
                    "created": (parse_timestamp(created) - timedelta(seconds=latency)).isoformat()
                    if latency is not None and _timestamp(created) is not None
                    else created,
                    "span_attributes": {"name": str(llm_meta["model"] or "llm"), "type": "llm"},
                    "output": message,
                    "metadata": llm_meta,
                    "metrics": llm_metrics or None,
                },
            )
        if "observation" in event:
            cause = event.get("cause")
            parent = event_span.get(cause, root_id)
            if cause is not None and cause not in event_span:
                report.warn(
                    line,
                    f"run {index}: event {event.get('id')} has cause {cause!r}, not in the run (parented to the root)",
                    source=source,
                )
            kind, label = "function", f"observation:{event.get('observation')}"
        else:
            parent = llm_span.get(response_id, root_id) if response_id else root_id
            kind = "tool" if tcm else "task"
            label = str((tcm or {}).get("function_name") or event.get("action"))
        span_id = unique(f"{root_id}-e{event.get('id', f'p{position}')}")
        if event.get("id") is not None:
            event_span.setdefault(event.get("id"), span_id)
        meta: dict[str, Any] = {
            "event_id": event.get("id"),
            "source": event.get("source"),
            "message": event.get("message"),
        }
        if "action" in event:
            meta["action"] = event["action"]
        else:
            meta["observation"] = event["observation"]
            meta["cause"] = event.get("cause")
        if tcm:
            meta["tool_call_metadata"] = {k: v for k, v in tcm.items() if k != "model_response"}
            if response_id:
                meta["tool_call_metadata"]["response_id"] = response_id
        for extra in sorted(set(event) - _EVENT_KEYS - {"tool_call_metadata"}):
            meta[extra] = event[extra]
            report.note_unmapped(f"event.{extra}")
        span: dict[str, Any] = {
            "id": span_id,
            "span_id": span_id,
            "root_span_id": root_id,
            "span_parents": [parent],
            "created": created,
            "span_attributes": {"name": label, "type": kind},
            "metadata": meta,
        }
        if "action" in event:
            span["input"] = event.get("args")
        else:
            span["output"] = event.get("content", event.get("message"))
            if event.get("extras"):
                meta["extras"] = event["extras"]
            if event.get("observation") == "error":
                span["error"] = event.get("content") or event.get("message")
        yield line, span


def _events(path: Path, report: LoadReport) -> Iterator[tuple[int | None, dict[str, Any]]]:
    source = str(path)
    key = _file_key(path)
    data = path.read_bytes()
    try:
        document = read_document(data, report, source)
        items: list[tuple[int | None, Any]] = [(None, document)]
    except ValueError:
        items = list(iter_json_lines(data, report, source=source))
    for index, (line, item) in enumerate(items):
        default = path.stem if len(items) == 1 else f"{path.stem}[{index}]"
        if isinstance(item, dict) and isinstance(item.get("history"), list):
            yield from _run_events(
                item,
                item["history"],
                key=key,
                index=index,
                line=line,
                report=report,
                source=source,
                default_name=default,
            )
        elif isinstance(item, list):
            yield from _run_events(
                None, item, key=key, index=index, line=line, report=report, source=source, default_name=default
            )
        else:
            report.records_read += 1
            report.skip(line, "not an OpenHands run or event array", source=source)


def load(path: str | Path, report: LoadReport) -> pl.DataFrame:
    """Load an OpenHands eval-output JSONL or an event-array JSON file (a directory: every such
    file inside it)."""
    return load_path(path, report, load_dir=load_dir, events=lambda file: _events(file, report), fmt=FORMAT)


def load_dir(path: str | Path, report: LoadReport) -> pl.DataFrame:
    """Load every OpenHands ``.json``/``.jsonl`` file under ``path``, recursively."""
    path = Path(path)
    report.format = report.format or FORMAT
    files = sorted(p for p in folder_files(path, report) if p.suffix in (".json", ".jsonl") and sniff_json(p, detect))
    return load_files(path, files, report, lambda _index, file: _events(file, report))
