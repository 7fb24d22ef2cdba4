"""Who&When multi-agent failure logs (Magentic-One hand-crafted and AG2 CaptainAgent
algorithm-generated runs), one JSON file per run with human failure labels, and a user's own
multi-agent runs in the same layout without the labels (a ``question`` and a ``history``).

Each file is one trace: a root span with the question as input and ``ground_truth`` as
``expected``, the labels (``mistake_agent``, ``mistake_step``, ``mistake_reason``, ...) in its
metadata; one span per ``history`` message under the root, named after the agent. Each message span
carries its ``step`` (the index into ``history`` that ``mistake_step`` refers to), and the labelled
step is marked ``is_mistake_step: true``. A terminal output reporting a non-zero exit code has
its ``error`` set (``exit code 1: <last line>``). The format has no timestamps, tokens or parent ids:
``created`` is a synthetic order (1970-01-01 plus the step in microseconds). See
docs/formats/who-and-when.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ..report import LoadReport
from ._common import folder_files, load_files, load_path, read_document, sniff_json

FORMAT = "who-and-when"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LABELS = (
    "mistake_agent",
    "mistake_step",
    "mistake_reason",
    "mistake_type",
    "question_ID",
    "level",
    "is_correct",
    "is_corrected",
)
_KNOWN = {"question", "ground_truth", "history", *_LABELS}
_ROLE_SUFFIX = re.compile(r"\s*\(.*\)\s*$")


# A code executor's report at the start of a terminal output: AG2 "exitcode: 1 (execution failed)",
# Magentic-One "The script ran, then exited with Unix exit code: 1" / "The Unix exit code was: 1".
_EXIT_CODE = re.compile(r"\bexit\s?code(?:\s+was)?\s*[:=]?\s*(-?\d+)", re.IGNORECASE)
_EXIT_REPORT_START = re.compile(r"\s*exit\s?code\s*:\s*-?\d+", re.IGNORECASE)
_EXIT_WINDOW = 300  # the report heads the output; a code printed later is the program's own text


def _is_message(value: object) -> bool:
    return isinstance(value, dict) and "content" in value and ("role" in value or "name" in value)


def detect(sample: object) -> bool:
    """True for a multi-agent run in the Who&When layout: a ``history`` of messages plus the failure
    labels, or (a user's own run, unlabelled) a ``question`` and a ``history`` of
    ``{role, name?, content}`` messages."""
    if not isinstance(sample, dict) or not isinstance(sample.get("history"), list):
        return False
    if "mistake_agent" in sample or "mistake_step" in sample:
        return True
    history = sample["history"]
    return "question" in sample and bool(history) and all(_is_message(m) for m in history[:5])


def exit_error(agent: str, content: object) -> str | None:
    """The error of a terminal output that reports a non-zero exit code: ``exit code N`` and the
    output's last line (``exit code 1: NameError: name 'x' is not defined``); None otherwise.

    A terminal output is a message from an agent whose name says terminal, or one that opens
    with an ``exitcode: N`` report (AG2's executor, whatever the agent is called). Only a code
    near the start counts: a task quoting an old failure further down is not a failure.
    """
    if not isinstance(content, str):
        return None
    if "terminal" not in agent.lower() and not _EXIT_REPORT_START.match(content):
        return None
    match = _EXIT_CODE.search(content[:_EXIT_WINDOW])
    if match is None or int(match.group(1)) == 0:
        return None
    rest = content[match.end() :]
    lines = [line.strip() for line in rest.splitlines() if line.strip()]
    lines = [line for line in lines if line.lower().rstrip(":") not in ("code output", "its output was")]
    last = lines[-1] if lines else ""
    last = re.sub(r"^\(?execution failed\)?$|^code output:\s*", "", last, flags=re.IGNORECASE).strip()
    message = f"exit code {match.group(1)}"
    return f"{message}: {last[:160]}" if last else message


def _file_key(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def _order(trace: int, step: int) -> str:
    return (_EPOCH + timedelta(seconds=trace, microseconds=step)).isoformat()


def _step(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _span_type(agent: str, role: str) -> str:
    lowered = (
        _ROLE_SUFFIX.sub("", agent).lower() or agent.lower()
    )  # "Orchestrator (-> ComputerTerminal)" is the orchestrator
    if role == "human" or lowered in ("human", "user_proxy"):
        return "task"
    if "terminal" in lowered:
        return "tool"
    return "llm"


def _events(path: Path, report: LoadReport, trace: int) -> Iterator[tuple[int | None, dict[str, Any]]]:
    source = str(path)
    try:
        run = read_document(path.read_bytes(), report, source)
    except ValueError as exc:
        report.records_read += 1
        report.skip(None, f"invalid JSON: {exc}", source=source)
        return
    if not detect(run):
        report.records_read += 1
        report.skip(
            None, "not a multi-agent run (no history of messages with a question or mistake labels)", source=source
        )
        return
    root_id = f"whowhen-{_file_key(path)}-{path.stem}"
    mistake_step = _step(run.get("mistake_step"))
    metadata: dict[str, Any] = {
        "file": f"{path.parent.name}/{path.name}",
        "subset": path.parent.name,
        "question": run.get("question"),
        "synthetic_order": True,
    }
    for label in _LABELS:
        if label in run:
            metadata[label] = run[label]
    for extra in sorted(set(run) - _KNOWN):
        # system_prompt (Algorithm-Generated), labels, ...: kept as they are.
        metadata[extra] = run[extra]
        report.note_unmapped(extra)
    history = run["history"]
    if mistake_step is not None and not 0 <= mistake_step < len(history):
        report.warn(None, f"mistake_step {mistake_step} is outside history (0..{len(history) - 1})", source=source)
    last = history[-1] if history and isinstance(history[-1], dict) else None
    yield (
        None,
        {
            "id": root_id,
            "span_id": root_id,
            "root_span_id": root_id,
            "span_parents": [],
            "created": _order(trace, 0),
            "span_attributes": {"name": f"who&when {path.parent.name}/{path.stem}", "type": "task"},
            "input": run.get("question"),
            "output": last.get("content") if last else None,
            "expected": run.get("ground_truth"),
            "metadata": metadata | {"message_count": len(history)},
        },
    )
    for step, message in enumerate(history):
        span_id = f"{root_id}-s{step}"
        if not isinstance(message, dict):
            message = {"content": message}
            report.note_unmapped("history[] non-object")
        role = str(message.get("role") or "")
        name = str(message.get("name") or role or "message")
        agent = _ROLE_SUFFIX.sub("", name) or name
        span_meta: dict[str, Any] = {"step": step, "role": role, "agent": agent}
        if message.get("name"):
            span_meta["name"] = message["name"]
        if step == mistake_step:
            span_meta["is_mistake_step"] = True
        for extra in sorted(set(message) - {"role", "name", "content"}):
            span_meta[extra] = message[extra]
            report.note_unmapped(f"history.{extra}")
        yield (
            None,
            {
                "id": span_id,
                "span_id": span_id,
                "root_span_id": root_id,
                "span_parents": [root_id],
                "created": _order(trace, step + 1),
                "span_attributes": {"name": name, "type": _span_type(name, role)},
                "output": message.get("content"),
                "error": exit_error(agent, message.get("content")),
                "metadata": span_meta,
            },
        )


def load(path: str | Path, report: LoadReport) -> pl.DataFrame:
    """Load one Who&When JSON file (a directory: every run file inside it, recursively)."""
    return load_path(path, report, load_dir=load_dir, events=lambda file: _events(file, report, 0), fmt=FORMAT)


def load_dir(path: str | Path, report: LoadReport) -> pl.DataFrame:
    """Load every Who&When ``.json`` file under ``path``, recursively (one trace per file)."""
    path = Path(path)
    report.format = report.format or FORMAT
    # Natural order (2.json before 10.json) so the synthetic trace order follows the file numbers.
    # A run file is one JSON document: no first-line (JSONL) fallback when sniffing.
    files = sorted(
        (p for p in folder_files(path, report) if p.suffix == ".json" and sniff_json(p, detect, first_line=False)),
        key=lambda p: (str(p.parent), int(p.stem) if p.stem.isdigit() else float("inf"), p.name),
    )
    return load_files(path, files, report, lambda trace, file: _events(file, report, trace))
