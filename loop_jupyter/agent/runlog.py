"""The assistant's own runs, written as Braintrust-format spans under ``<workdir>/.loop/runs/``.

One JSONL file per UTC day (``2026-11-29.jsonl``), append-only, one span per line, written when
the span ends. One run (one question) is one trace:

============ ======== ===========================================================================
name         type     what
============ ======== ===========================================================================
question     task     root: input ``{"question"}``, output ``{"text", "artifacts", "tool_calls"}``,
                      ``error`` when the run ended in an error, metadata ``status`` (done, error,
                      interrupted), ``model``, ``run_id``, ``session``, ``tokens_sent``
model_call   llm      one model request (the offline planner included): metadata ``model``,
                      metrics ``prompt_tokens``/``completion_tokens``/``prompt_cached_tokens``
                      (as the provider reported them) and ``estimated_tokens_sent``
<tool name>  tool     one tool call: input = its arguments, output = result sizes, error = the
                      error text the model read when the call failed
confirmation function an action proposed for the person's confirmation, and later its outcome
compaction   function earlier messages summarized (output: the summary)
============ ======== ===========================================================================

Every span has ``metrics.start``/``metrics.end`` (epoch seconds), so ``lj.load_logs(".loop/runs")``
reads these files like any other logs and the assistant can answer "which of my questions failed"
or "which tools are slowest" over them. Secrets never reach the files: API keys (the session's and
any ``*KEY*``/``*TOKEN*``/``*SECRET*`` environment variable), bearer tokens, ``Authorization``
headers and passwords in URLs are replaced by ``[redacted]`` before a line is written.
``Loop(..., log_runs=False)`` (or ``LOOP_JUPYTER_LOG_RUNS=0``) turns the log off.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .events import Event
from .model_turn import AssistantTurn, ChatClient, StreamCallback

log = logging.getLogger(__name__)

RUNS_DIR = Path(".loop") / "runs"
#: Longest text kept in one field (answers are bounded already; this guards a runaway one).
MAX_TEXT = 20_000
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
_PATTERNS = (
    (re.compile(r"(?i)\b(authorization|proxy-authorization)(\s*[:=]\s*)(bearer\s+|basic\s+)?[^\s,;'\"}]+"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(x-api-key|api[_-]?key|access[_-]?token)(\"?\s*[:=]\s*\"?)[^\s,;'\"}]+"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer [redacted]"),
    (re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{12,}"), "[redacted]"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1[redacted]@"),
)  # fmt: skip


def enabled_by_default() -> bool:
    return os.environ.get("LOOP_JUPYTER_LOG_RUNS", "1").strip().lower() not in ("0", "false", "no", "off")


def secret_values(extra: tuple[str | None, ...] = ()) -> list[str]:
    """Values that must never be written: the session's key and secret-looking environment variables."""
    values = {v for v in extra if v and len(v) >= 6}
    values |= {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and v and len(v.strip()) >= 8}
    return sorted(values, key=len, reverse=True)


def redact(value: Any, secrets: list[str]) -> Any:
    """``value`` with secrets replaced in every string (keys of objects included)."""
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "[redacted]")
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {redact(str(k), secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinities are not JSON
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value), secrets)


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit:,} more characters]"


def _new_id() -> str:
    return str(uuid.uuid4())


class RunLog:
    """Writes one Loop's runs as spans. Subscribed to the Loop's events; model calls come through
    :meth:`client` (a wrapper timing each request). Writing never breaks a run: a failure is
    logged once and the log turns itself off."""

    def __init__(
        self,
        directory: Path,
        *,
        secrets: tuple[str | None, ...] = (),
        find_result: Callable[[str, Any], str | None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.session_id = uuid.uuid4().hex[:12]
        self.enabled = True
        self._secrets = secrets
        self._lock = threading.RLock()
        self._runs: dict[str, dict[str, Any]] = {}
        self._roots: dict[str, str] = {}  # run_id -> root span id (kept for later confirmations)
        #: (run_id, tool call id) -> the tool's full result text (the event carries the bounded one).
        self._find_result = find_result or (lambda run_id, call_id: None)

    # -- writing -----------------------------------------------------------------------------------
    def path_for(self, when: float) -> Path:
        return self.directory / f"{datetime.fromtimestamp(when, UTC):%Y-%m-%d}.jsonl"

    def write(self, span: dict[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            line = json.dumps(redact(span, secret_values(self._secrets)), ensure_ascii=False, allow_nan=False)
            with self._lock:
                self.directory.mkdir(parents=True, exist_ok=True)
                # Appending follows no symbolic link (a planted .loop/runs or day file would send
                # every run's text into whatever file it points to), as session files do.
                for folder in (self.directory, self.directory.parent):
                    if folder.is_symlink():
                        raise OSError(f"{folder} is a symbolic link")
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                fd = os.open(self.path_for(span["metrics"]["start"]), flags, 0o644)
                with os.fdopen(fd, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
        except OSError as exc:
            log.warning("run log turned off: could not write %s (%s)", self.directory, exc)
            self.enabled = False
        except (ValueError, TypeError, RecursionError) as exc:  # one span that cannot be JSON: skipped
            log.warning("run log: span %s not written (%s)", span.get("span_attributes"), exc)

    def span(
        self,
        run_id: str,
        name: str,
        kind: str,
        start: float,
        end: float,
        *,
        input: Any = None,
        output: Any = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> str:
        """Write one child span of run ``run_id``'s trace; returns its id."""
        root = self._root_for(run_id, start)
        span_id = _new_id()
        self.write(
            {
                "id": span_id,
                "span_id": span_id,
                "root_span_id": root,
                "span_parents": [root],
                "created": datetime.fromtimestamp(start, UTC).isoformat(),
                "input": input,
                "output": output,
                "error": error,
                "metadata": {"run_id": run_id, "session": self.session_id, **(metadata or {})},
                "metrics": {"start": start, "end": end, **(metrics or {})},
                "span_attributes": {"name": name, "type": kind},
            }
        )
        return span_id

    def _root_for(self, run_id: str, when: float) -> str:
        with self._lock:
            if run_id not in self._roots:
                self._roots[run_id] = _new_id()
                self._runs.setdefault(run_id, {"start": when, "question": "", "model": "", "tools": {}})
            return self._roots[run_id]

    # -- events --------------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        now = time.time()
        run_id, data = event.run_id, event.data
        if event.type == "started":
            self._root_for(run_id, now)
            with self._lock:
                self._runs[run_id].update(start=now, question=str(data.get("question", "")), model=data.get("model"))
        elif event.type == "tool_started":
            with self._lock:
                run = self._runs.setdefault(run_id, {"start": now, "question": "", "model": "", "tools": {}})
                run["tools"][data.get("id")] = (now, str(data.get("name")), data.get("input"))
        elif event.type == "tool_finished":
            self._tool_finished(run_id, data, now)
        elif event.type == "confirmation":
            self.span(
                run_id,
                "confirmation",
                "function",
                now,
                now,
                input={"action_id": data.get("action_id"), "description": data.get("description")},
                output={"status": "pending"},
            )
        elif event.type in ("done", "error", "interrupted"):
            self._finish(event, now)

    def _tool_finished(self, run_id: str, data: dict[str, Any], now: float) -> None:
        with self._lock:
            run = self._runs.get(run_id, {})
            start, _, arguments = run.get("tools", {}).pop(data.get("id"), (now, "", None))
        text = str(data.get("text") or "")
        raw = self._find_result(run_id, data.get("id"))
        is_error = bool(data.get("is_error"))
        self.span(
            run_id,
            str(data.get("name")),
            "tool",
            start,
            now,
            input=arguments,
            output={
                "status": "error" if is_error else "ok",
                "result_chars": len(raw) if raw is not None else None,
                "model_chars": len(text),
                "estimated_tokens": -(-len(text) // 4),
                "artifacts": data.get("artifacts", 0),
            },
            error=_clip(raw or text, 2000) if is_error else None,
            metadata={"tool_call_id": data.get("id")},
        )

    def _finish(self, event: Event, now: float) -> None:
        root = self._root_for(event.run_id, now)
        with self._lock:
            run = self._runs.pop(event.run_id, {"start": now, "question": "", "model": "", "tools": {}})
        answer = event.data.get("answer")
        status = {"done": "done", "error": "error", "interrupted": "interrupted"}[event.type]
        output: dict[str, Any] = {"text": _clip(str(event.data.get("text") or getattr(answer, "text", "") or ""))}
        if answer is not None:
            output["artifacts"] = [a.kind for a in answer.artifacts]
            output["tool_calls"] = len(answer.tool_calls)
        metadata: dict[str, Any] = {"run_id": event.run_id, "session": self.session_id, "status": status}
        metadata["model"] = run.get("model") or getattr(answer, "model", None)
        if answer is not None:
            metadata["tokens_sent"] = answer.tokens_sent
        if event.type == "error":
            metadata["error_kind"] = event.data.get("kind")
        for start, name, arguments in run.get("tools", {}).values():  # the run stopped mid-call
            self.span(event.run_id, name, "tool", start, now, input=arguments, error="not finished: the run stopped")
        error = _clip(str(event.data.get("message")), 4000) if event.type == "error" else None
        self.write(
            {
                "id": root,
                "span_id": root,
                "root_span_id": root,
                "span_parents": [],
                "created": datetime.fromtimestamp(run["start"], UTC).isoformat(),
                "input": {"question": run.get("question", "")},
                "output": output,
                "error": error,
                "metadata": metadata,
                "metrics": {"start": run["start"], "end": now},
                "span_attributes": {"name": "question", "type": "task"},
            }
        )

    # -- model calls and actions ---------------------------------------------------------------------
    def client(self, run_id: str, client: ChatClient) -> ChatClient:
        """``client`` with each request written as a model_call span of run ``run_id``."""
        return _LoggedClient(self, run_id, client)

    def action(self, run_id: str, action_id: str, description: str, status: str, artifacts: int = 0) -> None:
        """A pending action confirmed or cancelled (maybe long after its run): a span of that run."""
        now = time.time()
        self.span(
            run_id,
            "confirmation",
            "function",
            now,
            now,
            input={"action_id": action_id, "description": description},
            output={"status": status, "artifacts": artifacts},
        )


class _LoggedClient:
    def __init__(self, runlog: RunLog, run_id: str, inner: ChatClient) -> None:
        self._runlog = runlog
        self._run_id = run_id
        self._inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def complete(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        stream_callback: StreamCallback | None = None,
    ) -> AssistantTurn:
        start = time.time()
        sent = -(-len(json.dumps({"system": system, "messages": messages, "tools": tools}, default=str)) // 4)
        request = {"messages": len(messages), "tools": len(tools), "estimated_tokens": sent}

        def record(**fields: Any) -> None:
            """The call's span: the request, then its error or its answer."""
            self._runlog.span(
                self._run_id, "model_call", "llm", start, time.time(),
                input=request, metadata={"model": self.name}, **fields,
            )  # fmt: skip

        try:
            turn = self._inner.complete(system, messages, tools, stream_callback)
        except BaseException as exc:
            kind = getattr(exc, "kind", None) or type(exc).__name__.strip("_").lower()
            record(error=f"{kind}: {exc}" if str(exc) else str(kind), metrics={"estimated_tokens_sent": sent})
            raise
        calls = [{"name": c.name, "input": c.input} for c in turn.tool_calls]
        record(
            output={"text": _clip(turn.text), "tool_calls": calls, "stop_reason": turn.stop_reason},
            metrics={
                "prompt_tokens": turn.usage.input_tokens,
                "completion_tokens": turn.usage.output_tokens,
                "prompt_cached_tokens": turn.usage.cache_read_tokens,
                "estimated_tokens_sent": sent,
            },
        )
        return turn


def attach(loop: Any, log_runs: bool | None) -> RunLog | None:
    """The RunLog of ``loop`` (subscribed to its events), or None when logging is off."""
    if not (enabled_by_default() if log_runs is None else log_runs):
        return None

    def find_result(run_id: str, call_id: Any) -> str | None:
        for message in reversed(list(loop._conversation.messages)):
            if message.kind == "tool_result" and message.run_id == run_id and message.data.get("id") == call_id:
                return str(message.text)
        return None

    runlog = RunLog(Path(loop.workdir) / RUNS_DIR, secrets=(loop._api_key,), find_result=find_result)
    loop.subscribe(runlog.on_event)
    return runlog


__all__ = ["RUNS_DIR", "RunLog", "attach", "enabled_by_default", "redact", "secret_values"]
