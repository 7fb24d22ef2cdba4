"""Claude Agent SDK / Claude Code ``--output-format stream-json`` sessions, and the AI-workflow
folders (``issue-N/metadata.json`` + ``NN_phase/<step>/agent_log_raw.txt``) built from them.

One session (one JSONL stream) is one trace: a session root span carrying the ``system/init``
facts and the final ``result`` (cost, duration, turns, usage); an llm span per assistant message
(the stream repeats a message once per content block, so lines are grouped by ``message.id``);
a tool span per ``tool_use`` matched to its ``tool_result``; spans for compaction boundaries and
for user text. A workflow folder becomes one trace: workflow root → phase spans → session spans.

The stream has no per-message timestamps. ``created`` only orders spans (session start plus the
line number in microseconds); only sessions (``result.duration_ms``) and phases
(``started_at``/``completed_at``) get start/end. See docs/formats/claude-stream-json.md.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ..frame import frame_from_events, iter_json_lines, loads, parse_timestamp
from ..report import LoadReport
from ._common import folder_files, load_path

FORMAT = "claude-stream-json"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TYPES = {"system", "assistant", "user", "result", "stream_event"}
_STEP_ORDER = {"execute": 0, "review": 1, "revise": 2}
_PHASE_DIR = re.compile(r"^(\d+)_(.+)$")
_LOG_NAMES = ("agent_log_raw.txt",)
_LINE_KEYS = {"type", "message", "parent_tool_use_id", "session_id", "uuid"}
_MESSAGE_KEYS = {"id", "model", "content", "usage", "role", "type"}
_RESULT_KEYS = {
    "type",
    "subtype",
    "is_error",
    "duration_ms",
    "duration_api_ms",
    "num_turns",
    "result",
    "session_id",
    "total_cost_usd",
    "usage",
    "modelUsage",
    "uuid",
}


def _is_workflow(sample: object) -> bool:
    return isinstance(sample, dict) and isinstance(sample.get("phases"), dict) and "cost_tracking" in sample


def detect(sample: object) -> bool:
    """True for a stream-json line (``type`` system/assistant/user/result with a ``session_id``)
    or for an AI-workflow ``metadata.json`` (``phases`` + ``cost_tracking``)."""
    if _is_workflow(sample):
        return True
    return isinstance(sample, dict) and sample.get("type") in _TYPES and "session_id" in sample


def _file_key(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class _Ids:
    """Hands out ids, suffixing repeats so every span id in one load is unique."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, wanted: str) -> str:
        candidate, n = wanted, 1
        while candidate in self.seen:
            n += 1
            candidate = f"{wanted}#{n}"
        self.seen.add(candidate)
        return candidate


def _usage_metrics(usage: dict[str, Any]) -> dict[str, float]:
    """Braintrust's Anthropic convention: prompt_tokens counts cached input too."""
    fresh = _number(usage.get("input_tokens")) or 0.0
    cache_read = _number(usage.get("cache_read_input_tokens")) or 0.0
    cache_write = _number(usage.get("cache_creation_input_tokens")) or 0.0
    metrics: dict[str, float] = {"prompt_tokens": fresh + cache_read + cache_write}
    output = _number(usage.get("output_tokens"))
    if output is not None:
        metrics["completion_tokens"] = output
    metrics["tokens"] = metrics["prompt_tokens"] + (output or 0.0)
    metrics["prompt_cached_tokens"] = cache_read
    metrics["prompt_cache_creation_tokens"] = cache_write
    return metrics


def _session_events(
    path: Path,
    report: LoadReport,
    ids: _Ids,
    *,
    parent: tuple[str, str] | None = None,
    start: datetime | None = None,
    name: str | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> tuple[list[tuple[int | None, dict[str, Any]]], datetime | None]:
    """The spans of one session file, and the session's end (start + duration_ms) when known.

    ``parent`` is ``(root_span_id, parent_span_id)`` when the session sits inside a workflow.
    """
    source = str(path)
    lines = list(iter_json_lines(path.read_bytes(), report, source=source))
    init = next((o for _, o in lines if isinstance(o, dict) and o.get("subtype") == "init"), None)
    result = next((o for _, o in reversed(lines) if isinstance(o, dict) and o.get("type") == "result"), None)
    session_id = next((o.get("session_id") for _, o in lines if isinstance(o, dict) and o.get("session_id")), None)
    synthetic = start is None
    begin = start or _EPOCH
    root_id = ids(str(session_id) if session_id else f"claude-{_file_key(path)}")
    trace_id = parent[0] if parent else root_id

    metadata: dict[str, Any] = {"source_file": path.name}
    if extra_metadata:
        metadata.update(extra_metadata)
    if synthetic:
        metadata["synthetic_order"] = True
    else:
        metadata["start_estimated"] = True
    root: dict[str, Any] = {
        "id": root_id,
        "span_id": root_id,
        "root_span_id": trace_id,
        "span_parents": [parent[1]] if parent else [],
        "created": _iso(begin),
        "span_attributes": {"name": name or "claude session", "type": "task"},
        "metadata": metadata,
    }
    metrics: dict[str, float] = {}
    if init is not None:
        for key, value in init.items():
            if key in ("type", "subtype", "uuid"):
                continue
            metadata[key] = value
        metadata["init_uuid"] = init.get("uuid")
    end: datetime | None = None
    if result is not None:
        root["output"] = result.get("result")
        if result.get("is_error"):
            root["error"] = result.get("result") or result.get("subtype")
        for key in ("subtype", "is_error", "usage", "modelUsage"):
            if key in result:
                metadata[f"result_{key}" if key in ("subtype", "is_error") else key] = result[key]
        metadata["result_uuid"] = result.get("uuid")
        for key in sorted(set(result) - _RESULT_KEYS):
            metadata[key] = result[key]
            report.note_unmapped(f"result.{key}")
        cost = _number(result.get("total_cost_usd"))
        if cost is not None:
            metrics["estimated_cost"] = cost
        for key in ("duration_ms", "duration_api_ms", "num_turns"):
            value = _number(result.get(key))
            if value is not None:
                metrics[key] = value
        duration = _number(result.get("duration_ms"))
        if duration is not None:
            # The duration is real; the start is the phase start or (standalone) synthetic.
            end = begin + timedelta(milliseconds=duration)
            metrics["start"] = begin.timestamp()
            metrics["end"] = end.timestamp()
    root["metrics"] = metrics or None
    prompt = path.parent / "prompt.txt"
    if prompt.is_file():
        root["input"] = prompt.read_text(encoding="utf-8", errors="replace")
        metadata["input_source"] = "prompt.txt"

    spans: list[tuple[int | None, dict[str, Any]]] = [(lines[0][0] if lines else None, root)]
    messages: dict[str, dict[str, Any]] = {}  # message.id -> llm span
    tools: dict[str, dict[str, Any]] = {}  # tool_use id -> tool span
    first_user_text: str | None = None

    def new_span(line: int, wanted: str, parent_id: str, name: str, kind: str) -> dict[str, Any]:
        span_id = ids(wanted)
        span: dict[str, Any] = {
            "id": span_id,
            "span_id": span_id,
            "root_span_id": trace_id,
            "span_parents": [parent_id],
            "created": _iso(begin + timedelta(microseconds=line)),
            "span_attributes": {"name": name, "type": kind},
            "metadata": {},
        }
        spans.append((line, span))
        return span

    def parent_of(obj: dict[str, Any]) -> str:
        # Sub-agent messages name the Task tool call that spawned them.
        owner = obj.get("parent_tool_use_id")
        if isinstance(owner, str) and owner in tools:
            return tools[owner]["span_id"]
        return root_id

    for line, obj in lines:
        if not isinstance(obj, dict):
            report.warn(line, "line is not a JSON object (ignored)", source=source)
            report.note_unmapped("non-object line")
            continue
        kind = obj.get("type")
        if obj is init or obj is result:
            continue
        if kind == "assistant" and isinstance(obj.get("message"), dict):
            message = obj["message"]
            message_id = str(message.get("id") or obj.get("uuid") or f"line{line}")
            span = messages.get(message_id)
            if span is None:
                span = new_span(line, message_id, parent_of(obj), "assistant", "llm")
                span["metadata"].update({"message_id": message.get("id"), "model": message.get("model"), "uuids": []})
                span["output"] = {"role": "assistant", "content": []}
                messages[message_id] = span
            span["metadata"]["uuids"].append(obj.get("uuid"))
            content = message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            span["output"]["content"].extend(blocks)
            usage = message.get("usage")
            if isinstance(usage, dict):
                # Each repeat carries the usage so far; the last one is the message's total.
                span["metadata"]["usage"] = usage
                span["metrics"] = _usage_metrics(usage)
            for key in ("stop_reason", "stop_sequence"):
                if message.get(key) is not None:
                    span["metadata"][key] = message[key]
            for key in sorted(set(message) - _MESSAGE_KEYS - {"stop_reason", "stop_sequence"}):
                span["metadata"][key] = message[key]
                report.note_unmapped(f"message.{key}")
            for key in sorted(set(obj) - _LINE_KEYS):
                span["metadata"][key] = obj[key]
                report.note_unmapped(f"assistant.{key}")
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    use_id = str(block.get("id") or f"{message_id}-tool{len(tools)}")
                    tool = new_span(line, use_id, span["span_id"], str(block.get("name") or "tool"), "tool")
                    tool["input"] = block.get("input")
                    tool["metadata"]["tool_use_id"] = block.get("id")
                    tools[use_id] = tool
        elif kind == "user" and isinstance(obj.get("message"), dict):
            content = obj["message"].get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
            texts: list[Any] = []
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    tool = tools.get(str(block.get("tool_use_id")))
                    if tool is None:
                        tool = new_span(line, f"{root_id}-result-{line}", parent_of(obj), "tool_result", "tool")
                        tool["metadata"]["unmatched_tool_result"] = True
                    tool["output"] = block.get("content")
                    tool["metadata"]["result_uuid"] = obj.get("uuid")
                    if "is_error" in block:
                        tool["metadata"]["is_error"] = block["is_error"]
                    if block.get("is_error"):
                        tool["error"] = block.get("content")
                    for key in sorted(set(block) - {"type", "tool_use_id", "content", "is_error"}):
                        tool["metadata"][key] = block[key]
                        report.note_unmapped(f"tool_result.{key}")
                else:
                    texts.append(block)
            if texts:
                span = new_span(line, str(obj.get("uuid") or f"{root_id}-user-{line}"), parent_of(obj), "user", "task")
                span["input"] = texts
                for key in sorted(set(obj) - _LINE_KEYS):
                    span["metadata"][key] = obj[key]
                if first_user_text is None:
                    first = texts[0]
                    first_user_text = first.get("text") if isinstance(first, dict) else str(first)
        elif kind == "system":
            subtype = str(obj.get("subtype") or "system")
            span = new_span(line, str(obj.get("uuid") or f"{root_id}-system-{line}"), root_id, subtype, "task")
            span["metadata"].update({k: v for k, v in obj.items() if k not in ("type", "session_id")})
            if subtype != "compact_boundary":
                report.note_unmapped(f"system.{subtype}")
        else:
            span = new_span(line, str(obj.get("uuid") or f"{root_id}-line-{line}"), root_id, str(kind), "task")
            span["metadata"]["raw"] = obj
            report.note_unmapped(f"line.{kind}")
    if root.get("input") is None and first_user_text is not None:
        root["input"] = first_user_text
    return spans, end


def _find_logs(folder: Path) -> list[Path]:
    return [p for p in folder_files(folder) if p.name in _LOG_NAMES]


def _workflow_events(folder: Path, report: LoadReport, ids: _Ids) -> list[tuple[int | None, dict[str, Any]]]:
    source = str(folder / "metadata.json")
    state = loads((folder / "metadata.json").read_bytes())
    phases = state.get("phases") if isinstance(state.get("phases"), dict) else {}
    created = _parse(state.get("created_at"), report, source)
    updated = _parse(state.get("updated_at"), report, source)
    root_id = ids(f"workflow-{_file_key(folder)}-{folder.name}")
    metadata = {k: v for k, v in state.items() if k != "phases"}
    metadata["folder"] = folder.name
    root: dict[str, Any] = {
        "id": root_id,
        "span_id": root_id,
        "root_span_id": root_id,
        "span_parents": [],
        "created": _iso(created or _EPOCH),
        "span_attributes": {"name": f"ai-workflow {folder.name}", "type": "task"},
        "input": {k: state[k] for k in ("issue_url", "issue_title", "issue_number") if k in state} or None,
        "metadata": metadata,
        # Totals stay in metadata (cost_tracking): the sessions carry the cost, summing stays right.
        "metrics": {"start": created.timestamp(), "end": updated.timestamp()} if created and updated else None,
    }
    events: list[tuple[int | None, dict[str, Any]]] = [(None, root)]
    for key in ("design_decisions", "github_integration"):
        if key in state:
            report.note_unmapped(f"workflow.{key}")

    logs = _find_logs(folder)
    by_phase: dict[str, list[Path]] = {}
    phase_dirs: dict[str, Path] = {}
    for log in logs:
        relative = log.relative_to(folder).parts
        phase_dir = folder / relative[0] if len(relative) > 1 else folder
        match = _PHASE_DIR.match(phase_dir.name)
        phase = match.group(2) if match else phase_dir.name
        phase_dirs.setdefault(phase, phase_dir)
        by_phase.setdefault(phase, []).append(log)
    names = list(phase_dirs)
    for phase, entry in phases.items():
        if phase not in phase_dirs and isinstance(entry, dict) and entry.get("status") not in (None, "pending"):
            names.append(phase)
    order = {name: i for i, name in enumerate(phases)}
    names.sort(key=lambda n: (order.get(n, len(order)), n))
    for index, phase in enumerate(names):
        entry = phases.get(phase) if isinstance(phases.get(phase), dict) else {}
        started = _parse(entry.get("started_at"), report, source)
        completed = _parse(entry.get("completed_at"), report, source)
        phase_id = ids(f"{root_id}-{phase}")
        phase_metrics: dict[str, float] = {}
        if started:
            phase_metrics["start"] = started.timestamp()
        if completed:
            phase_metrics["end"] = completed.timestamp()
        retry = _number(entry.get("retry_count"))
        if retry is not None:
            phase_metrics["retry_count"] = retry
        phase_created = started or (created or _EPOCH) + timedelta(microseconds=index)
        events.append(
            (
                None,
                {
                    "id": phase_id,
                    "span_id": phase_id,
                    "root_span_id": root_id,
                    "span_parents": [root_id],
                    "created": _iso(phase_created),
                    "span_attributes": {"name": phase, "type": "task"},
                    "output": entry.get("review_result") or entry.get("decision"),
                    "metadata": {"phase": phase, "phase_dir": phase_dirs[phase].name if phase in phase_dirs else None}
                    | entry,
                    "metrics": phase_metrics or None,
                },
            )
        )
        cursor = started or phase_created
        sessions = sorted(by_phase.get(phase, []), key=lambda p: (_STEP_ORDER.get(p.parent.name, 9), str(p)))
        for log in sessions:
            step = log.parent.name
            spans, end = _session_events(
                log,
                report,
                ids,
                parent=(root_id, phase_id),
                start=cursor,
                name=f"{phase}/{step}",
                extra_metadata={"phase": phase, "step": step},
            )
            events.extend(spans)
            cursor = end or cursor
    return events


def _parse(value: object, report: LoadReport, source: str) -> datetime | None:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        report.warn(None, f"bad timestamp {value!r}: {exc}", source=source)
        return None


def _workflow_folder(path: Path) -> Path | None:
    """The workflow folder a path is (or whose metadata.json it is), if any."""
    candidate = path.parent if path.is_file() else path
    meta = candidate / "metadata.json"
    if meta.is_file():
        try:
            if _is_workflow(loads(meta.read_bytes())):
                return candidate
        except ValueError:
            return None
    return None


def load(path: str | Path, report: LoadReport) -> pl.DataFrame:
    """Load one stream-json session file, a workflow ``metadata.json`` (its whole folder), or a
    directory (see :func:`load_dir`)."""

    def events(file: Path) -> list[tuple[int | None, dict[str, Any]]]:
        ids = _Ids()
        if file.name == "metadata.json" and _workflow_folder(file) is not None:
            return _workflow_events(file.parent, report, ids)
        spans, _ = _session_events(file, report, ids)
        return spans

    return load_path(path, report, load_dir=load_dir, events=events, fmt=FORMAT)


def _is_session_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            first = handle.readline()
        return detect(loads(first))
    except (OSError, ValueError):
        return False


def load_dir(path: str | Path, report: LoadReport) -> pl.DataFrame:
    """Load a directory: every workflow folder (a ``metadata.json`` with ``phases``) inside it as
    one trace each, and every other stream-json file (``agent_log_raw.txt``, ``*.jsonl``) as one
    session trace each."""
    path = Path(path)
    report.format = report.format or FORMAT
    ids = _Ids()
    events: list[tuple[int | None, dict[str, Any]]] = []
    every = folder_files(path, report)  # symbolic links out of the folder: skipped, reported
    workflows = sorted({p.parent for p in every if p.name == "metadata.json" and _workflow_folder(p) is not None})
    for folder in workflows:
        events.extend(_workflow_events(folder, report, ids))
    candidates = sorted(
        p
        for p in every
        if (p.name in _LOG_NAMES or p.suffix == ".jsonl") and not any(w in p.parents for w in workflows)
    )
    for file in candidates:
        if _is_session_file(file):
            spans, _ = _session_events(file, report, ids)
            events.extend(spans)
    return frame_from_events(events, report, source=str(path))
