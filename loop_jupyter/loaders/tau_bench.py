"""tau-bench trajectories and plain OpenAI chat-message lists.

A tau-bench file is a JSON array of runs ``{task_id, trial, reward, info, traj}`` where ``traj``
is a list of OpenAI chat messages. Each run becomes one trace: a root span for the run, a span per
system/user/assistant message, and a tool span per tool call (a child of the assistant message that
made it) whose output is the matching ``role: tool`` message. A bare list of chat messages (an
OpenAI ``messages`` JSON file), or ``{"messages": [...]}``, loads the same way as one trace.

The format has no timestamps, ids or token counts: ``created`` is a synthetic, monotonic order
(1970-01-01 plus the run index in seconds plus the message index in microseconds) and start/end
stay null so no duration is invented. See docs/formats/tau-bench.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ..frame import iter_json_lines
from ..report import LoadReport
from ._common import folder_files, load_files, load_path, read_document, sniff_json

FORMAT = "tau-bench"
FORMAT_MESSAGES = "openai-messages"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RUN_KEYS = {"task_id", "trial", "reward", "info", "traj"}
_MESSAGE_KEYS = {"role", "content", "tool_calls", "tool_call_id", "name"}


def _is_run(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("traj"), list) and ("task_id" in value or "reward" in value)


def _is_message(value: object) -> bool:
    return (
        isinstance(value, dict) and isinstance(value.get("role"), str) and ("content" in value or "tool_calls" in value)
    )


def detect(sample: object) -> bool:
    """True for a tau-bench run array (or one run, e.g. a JSONL line), an OpenAI message list,
    or ``{"messages": [...]}``."""
    if _is_run(sample):
        return True
    if isinstance(sample, list) and sample:
        return _is_run(sample[0]) or (_is_message(sample[0]) and all(_is_message(m) for m in sample[:5]))
    if isinstance(sample, dict) and set(sample) <= {"messages", "model", "tools", "metadata"}:
        messages = sample.get("messages")
        return isinstance(messages, list) and bool(messages) and _is_message(messages[0])
    return False


def _file_key(path: Path) -> str:
    # A short hash of the resolved path keeps ids unique across files with the same name.
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def _order(run: int, position: int) -> str:
    return (_EPOCH + timedelta(seconds=run, microseconds=position)).isoformat()


def _read(path: Path, report: LoadReport) -> list[tuple[int | None, Any]]:
    """The runs (or message lists) in a file: a JSON document, or JSONL with one run per line."""
    data = path.read_bytes()
    try:
        document = read_document(data, report, str(path))
    except ValueError:
        return list(iter_json_lines(data, report, source=str(path)))
    if isinstance(document, list) and document and _is_run(document[0]):
        return [(index, run) for index, run in enumerate(document)]
    return [(None, document)]


def _arguments(text: object) -> object:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _run_events(
    run: dict[str, Any] | None,
    messages: list[Any],
    *,
    key: str,
    run_index: int,
    line: int | None,
    report: LoadReport,
) -> Iterator[tuple[int | None, dict[str, Any]]]:
    root_id = f"tau-{key}-r{run_index}"
    root: dict[str, Any] = {
        "id": root_id,
        "span_id": root_id,
        "root_span_id": root_id,
        "span_parents": [],
        "created": _order(run_index, 0),
        "span_attributes": {"type": "task"},
        "metadata": {"run_index": run_index, "synthetic_order": True},
    }
    if run is not None:
        info = run.get("info") if isinstance(run.get("info"), dict) else {}
        task = info.get("task") if isinstance(info.get("task"), dict) else {}
        task_id, trial = run.get("task_id"), run.get("trial")
        root["span_attributes"]["name"] = f"task {task_id} trial {trial}"
        root["input"] = task.get("instruction")
        expected = {k: task[k] for k in ("actions", "outputs") if k in task}
        root["expected"] = expected or None
        metadata = root["metadata"]
        metadata.update({"task_id": task_id, "trial": trial})
        if "user_id" in task:
            metadata["user_id"] = task["user_id"]
        for extra in sorted(set(task) - {"instruction", "actions", "outputs", "user_id"}):
            metadata[f"task.{extra}"] = task[extra]
            report.note_unmapped(f"info.task.{extra}")
        scores: dict[str, float] = {}
        reward = run.get("reward")
        if isinstance(reward, int | float) and not isinstance(reward, bool):
            scores["reward"] = float(reward)
            if reward == 0:
                # A failed run is a score of 0 and a tag; tau-bench gives no error message.
                root["tags"] = ["failed"]
        reward_info = info.get("reward_info")
        if isinstance(reward_info, dict):
            metadata["reward_info"] = reward_info
            report.note_unmapped("info.reward_info")
            sub = reward_info.get("info")
            for name, value in sub.items() if isinstance(sub, dict) else ():
                if name.startswith("r_") and isinstance(value, int | float) and not isinstance(value, bool):
                    scores[name] = float(value)
        root["scores"] = scores or None
        user_cost = info.get("user_cost")
        if isinstance(user_cost, int | float) and not isinstance(user_cost, bool):
            # The simulated user's LLM cost, not the agent's: kept apart from estimated_cost.
            root["metrics"] = {"user_cost": float(user_cost)}
        elif "user_cost" in info:
            metadata["user_cost"] = user_cost
        if "reward_info" in info and not isinstance(reward_info, dict):
            metadata["reward_info"] = reward_info
        for extra in sorted(set(info) - {"task", "reward_info", "user_cost"}):
            metadata[extra] = info[extra]
            report.note_unmapped(f"info.{extra}")
        for extra in sorted(set(run) - _RUN_KEYS):
            metadata[extra] = run[extra]
            report.note_unmapped(extra)
    else:
        root["span_attributes"]["name"] = "conversation"
        first_user = next((m for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
        root["input"] = first_user.get("content") if first_user else None
    last_assistant = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "assistant"), None)
    root["output"] = last_assistant.get("content") if last_assistant else None
    root["metadata"]["message_count"] = len(messages)
    yield line, root

    position = 0
    tool_spans: dict[str, dict[str, Any]] = {}
    pending: list[dict[str, Any]] = []  # messages since the last assistant turn: that turn's input
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        position += 1
        if not isinstance(message, dict):
            report.warn(line, f"run {run_index} message {index} is not an object (kept in root metadata)")
            root["metadata"].setdefault("unparsed_messages", []).append({"index": index, "value": message})
            report.note_unmapped("traj[] non-object")
            continue
        role = message.get("role")
        extra = {k: v for k, v in message.items() if k not in _MESSAGE_KEYS}
        if role == "tool" and message.get("tool_call_id") in tool_spans:
            span = tool_spans.pop(message["tool_call_id"])
            span["output"] = message.get("content")
            span["metadata"]["result_index"] = index
            if message.get("name") and message.get("name") != span["span_attributes"]["name"]:
                span["metadata"]["result_name"] = message["name"]
            if extra:
                span["metadata"]["result_extra"] = extra
            pending.append(message)
            continue
        span_id = f"{root_id}-m{index}"
        span: dict[str, Any] = {
            "id": span_id,
            "span_id": span_id,
            "root_span_id": root_id,
            "span_parents": [root_id],
            "created": _order(run_index, position),
            "metadata": {"message_index": index, "role": role},
        }
        if extra:
            span["metadata"].update(extra)
            for name in extra:
                report.note_unmapped(f"message.{name}")
        if role == "assistant":
            span["span_attributes"] = {"name": "assistant", "type": "llm"}
            span["input"] = pending or None
            span["output"] = {k: message[k] for k in ("role", "content", "tool_calls") if k in message}
            pending = []
            out.append(span)
            for call_index, call in enumerate(message.get("tool_calls") or []):
                position += 1
                function = call.get("function") if isinstance(call, dict) else None
                function = function if isinstance(function, dict) else {}
                call_id = call.get("id") if isinstance(call, dict) else None
                tool_id = f"{span_id}-t{call_index}"
                tool: dict[str, Any] = {
                    "id": tool_id,
                    "span_id": tool_id,
                    "root_span_id": root_id,
                    "span_parents": [span_id],
                    "created": _order(run_index, position),
                    "span_attributes": {"name": function.get("name") or "tool", "type": "tool"},
                    "input": _arguments(function.get("arguments")),
                    "metadata": {"tool_call_id": call_id, "message_index": index, "call_index": call_index},
                }
                out.append(tool)
                if isinstance(call_id, str):
                    tool_spans[call_id] = tool
        elif role == "tool":
            # A tool result whose call is not in the trajectory: kept as its own span.
            span["span_attributes"] = {"name": message.get("name") or "tool", "type": "tool"}
            span["output"] = message.get("content")
            span["metadata"]["tool_call_id"] = message.get("tool_call_id")
            span["metadata"]["unmatched_tool_result"] = True
            pending.append(message)
            out.append(span)
        else:
            span["span_attributes"] = {"name": str(role or "message"), "type": "task"}
            span["input"] = message.get("content")
            if message.get("name"):
                span["metadata"]["name"] = message["name"]
            pending.append(message)
            out.append(span)
    for span in out:
        yield line, span


def _events(path: Path, report: LoadReport) -> Iterator[tuple[int | None, dict[str, Any]]]:
    key = _file_key(path)
    for run_index, (line, item) in enumerate(_read(path, report)):
        if not report.format:
            report.format = FORMAT if _is_run(item) else FORMAT_MESSAGES
        if _is_run(item):
            yield from _run_events(item, item["traj"], key=key, run_index=run_index, line=line, report=report)
        elif isinstance(item, dict) and isinstance(item.get("messages"), list):
            for name in sorted(set(item) - {"messages"}):
                report.note_unmapped(name)
            yield from _run_events(None, item["messages"], key=key, run_index=run_index, line=line, report=report)
        elif isinstance(item, list):
            yield from _run_events(None, item, key=key, run_index=run_index, line=line, report=report)
        else:
            report.records_read += 1
            report.skip(line, "not a tau-bench run or a list of chat messages", source=str(path))


def load(path: str | Path, report: LoadReport) -> pl.DataFrame:
    """Load a tau-bench trajectory file (or an OpenAI messages file); a directory loads every
    matching ``.json``/``.jsonl`` file inside it."""
    # fmt=None: a single file's format (run or plain messages) is set by _events from its content.
    return load_path(path, report, load_dir=load_dir, events=lambda file: _events(file, report), fmt=None)


def load_dir(path: str | Path, report: LoadReport) -> pl.DataFrame:
    """Load every tau-bench / OpenAI-messages JSON(L) file under ``path``, recursively."""
    path = Path(path)
    report.format = report.format or FORMAT
    files = sorted(p for p in folder_files(path, report) if p.suffix in (".json", ".jsonl") and sniff_json(p, detect))
    return load_files(path, files, report, lambda _index, file: _events(file, report))
