"""The Loop session shared by the CLI, the ``%loop`` magic and the chat widget.

    loop = Loop(logs)                      # offline planner unless an API key is set
    answer = loop.ask("LLM spans longer than 60 seconds in the last 5 days")
    answer.text, answer.artifacts, answer.tokens_sent

One worker thread runs questions in order (``submit`` queues, ``ask``/``stream`` block on their
own run). A run is a plain tool loop with a turn cap: the model (or the offline planner) answers
with text and tool calls; tools run against the enabled sources; their bounded, data-marked text
goes back to the model. Interrupting stops at the next safe point (between stream chunks, model
turns or tool calls) and leaves a consistent history. Tools with side effects only return a
:class:`~loop_jupyter.artifacts.Pending` action that runs on :meth:`Loop.confirm` (or at once when
the *user* set ``auto_accept``): nothing a model reads in the logs can write anything by itself.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ..artifacts import Pending
from ..schema import empty_frame
from ..sources import LogSource
from ..tools import ToolContext, load_tools, tool_load_errors
from .answer import Answer
from .branches import open_conversation
from .budget import TokenLedger
from .compaction import COMMAND as COMPACT_COMMAND
from .compaction import CompactionSettings, is_command, maybe_compact, run_command
from .compaction import model_messages as compacted_messages
from .conversation import Branch, Message
from .events import FINAL_TYPES, Event
from .judge import SessionModel
from .models import ChatClient, ModelError, default_model, resolve
from .persist import SessionFile
from .prompt import SYSTEM_PROMPT, system_prompt
from .runlog import RunLog
from .runlog import attach as attach_run_log
from .saved import SavedSessions
from .session_models import SessionModels
from .session_sources import SessionSources
from .store_context import as_source, open_logs, store_context
from .tool_calls import ToolCalls
from .tool_choice import ToolChoice
from .usage import AnswerUsage

log = logging.getLogger(__name__)

# load_tools / tool_load_errors live in loop_jupyter.tools (re-exported: callers imported them here).
__all__ = ["SYSTEM_PROMPT", "Answer", "Event", "Loop", "Message", "load_tools", "tool_load_errors"]


class _Interrupted(Exception):
    pass


#: Sessions alive in this process: closed at interpreter exit (see :meth:`Loop.close`).
_LIVE: weakref.WeakSet[Loop] = weakref.WeakSet()


@atexit.register
def _close_live_sessions() -> None:
    # The worker is a daemon thread waiting for questions; left running at shutdown it keeps the
    # session, its DuckDB engine and caches alive, and nanobind reports them as leaked.
    for loop in list(_LIVE):
        loop.close()


class Loop(ToolCalls, SessionModels, SessionSources, SavedSessions):
    """One assistant session over named data sources. See the module docstring."""

    #: Send a model the always-on tools plus search_tools (True), or every tool's schema (False);
    #: see :mod:`.tool_choice`.
    tool_search: bool = True

    def __init__(
        self,
        logs: pl.DataFrame | LogSource | str | Path,
        model: str | None = None,
        *,
        sources: dict[str, pl.DataFrame] | None = None,
        auto_accept: bool = False,
        workdir: str | Path | None = None,
        max_turns: int = 12,
        client: ChatClient | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int | None = None,
        timeout_s: float | None = None,
        log_runs: bool | None = None,
        session: str | None = None,
    ) -> None:
        # A frame stays a frame (today's path, unchanged); a store stays where it is (store_context.py).
        logs, self._owns_source = open_logs(logs)
        #: ``sources["logs"]`` is the span frame, or the LogSource (a store) the session reads.
        self.sources: dict[str, Any] = {"logs": logs, **(sources or {})}
        self.enabled_sources: set[str] = set(self.sources)
        self.auto_accept = auto_accept
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()
        self.max_turns = max_turns
        self.selection: list[str] = []
        self.scope: str | None = None
        self._base_url = base_url
        self._api_key = api_key
        self._max_retries = max_retries
        self._timeout_s = timeout_s
        self._injected_client = client
        self._model = model if model is not None else (client.name if client is not None else default_model())
        self._initial_model = self._model
        if client is None:
            resolve(self._model, base_url=base_url)  # unknown or disallowed names fail here, not mid-run
        self._clients: dict[str, ChatClient | None] = {}
        # session="name": saved as it goes in <workdir>/.loop/sessions/name.jsonl, resumed if it exists.
        self._conversation = open_conversation(SessionFile(self.workdir, session) if session is not None else None)
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[dict[str, Any]] = deque()
        self._current: dict[str, Any] | None = None
        self._interrupt = threading.Event()
        self._worker: threading.Thread | None = None
        self._subscribers: list[Callable[[Event], None]] = []
        self._pending: dict[str, tuple[str, Pending]] = {}
        self._answers: dict[str, Answer] = {}
        self._finished: dict[str, threading.Event] = {}
        self._ctx_key: tuple[Any, ...] | None = None
        self._ctx: ToolContext | None = None
        self._system_cache: dict[tuple[Any, ...], str] = {}
        self._cache: dict[str, Any] = {}
        self.token_log: list[dict[str, Any]] = []
        self.last_answer: Answer | None = None
        self._closed = False
        load_tools()
        # Every run written as spans under workdir/.loop/runs (None: off; see agent/runlog.py).
        self.run_log: RunLog | None = attach_run_log(self, log_runs)
        #: When and how long chats are compacted (see agent/compaction.py).
        self.compaction = CompactionSettings()
        _LIVE.add(self)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker thread (interrupting a run in progress) and release the SQL engine and
        caches. Called at interpreter exit for every open session; asking again reopens it."""
        with self._lock:
            self._closed = True
            while self._queue:  # nobody will run these: answer their waiters
                item = self._queue.popleft()
                answer = Answer(
                    "The session was closed before this question ran.", run_id=item["run_id"], error="closed"
                )
                self._answers[item["run_id"]] = answer
                self._finished[item["run_id"]].set()
            worker = self._worker
            if self._current is not None:
                self._interrupt.set()
            self._wake.notify_all()
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
        with self._lock:
            if self._worker is worker and (worker is None or not worker.is_alive()):
                self._worker = None
            self._ctx = None
            self._ctx_key = None
            self._cache.clear()
            self._clients.clear()
            if self._owns_source:  # opened here from a connection string: release its file
                self.sources["logs"].close()

    def fork(self) -> Loop:
        """A new session over the same sources, model and connection, with an empty conversation:
        for side questions (the explorer's Generate) that must not enter this conversation."""
        other = Loop(
            self.sources["logs"],
            self._model,
            sources={k: v for k, v in self.sources.items() if k != "logs"},
            workdir=self.workdir,
            max_turns=self.max_turns,
            client=self._injected_client,
            base_url=self._base_url,
            api_key=self._api_key,
            max_retries=self._max_retries,
            timeout_s=self._timeout_s,
            log_runs=self.run_log is not None,
        )
        other._initial_model = self._initial_model  # the key follows the same server as here
        other.enabled_sources = set(self.enabled_sources)
        other.tool_search = self.tool_search
        return other

    def __enter__(self) -> Loop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sources, scope ----------------------------------------------------------------------------
    def context(self) -> ToolContext:
        """The ToolContext for the enabled sources (reused while they do not change)."""
        enabled = tuple(sorted(n for n in self.enabled_sources if n in self.sources))
        logs = self.sources["logs"] if "logs" in enabled else empty_frame()
        others = {n: self.sources[n] for n in enabled if n != "logs"}
        if not isinstance(logs, pl.DataFrame):
            return self._store_context(logs, others)
        scope = self.scope
        key = (id(logs), tuple((n, id(f)) for n, f in others.items()), scope)
        if self._ctx is None or self._ctx_key != key:
            cache = self._cache
            unscoped = None
            if scope:
                # Scoped to a trace: every tool sees that trace's spans only, until the scope is left
                # (its own cache: indexes built over all the logs do not describe one trace); the
                # whole logs stay reachable for comparing the trace with the others.
                unscoped = ToolContext(logs=logs, sources=others, workdir=self.workdir, cache=self._cache)
                logs = logs.filter(pl.col("root_span_id") == scope)
                cache = self._cache.setdefault(f"scope:{scope}", {})
            self._ctx = ToolContext(logs=logs, sources=others, workdir=self.workdir, cache=cache, unscoped=unscoped)
            self._ctx_key = key
        self._ctx.workdir = self.workdir
        self._ctx.selection = list(self.selection)
        return self._ctx

    def _store_context(self, source: LogSource, others: dict[str, Any]) -> ToolContext:
        key = (id(source), tuple((n, id(f)) for n, f in others.items()), self.scope)
        if self._ctx is None or self._ctx_key != key:
            self._ctx = store_context(source, others, self.workdir, self._cache, self.scope)
            self._ctx_key = key
        self._ctx.workdir = self.workdir
        self._ctx.selection = list(self.selection)
        return self._ctx

    @property
    def source(self) -> LogSource:
        """The logs as a LogSource: the store the session reads, or a MemorySource over the frame."""
        return as_source(self.sources["logs"])

    def system_prompt(self, ctx: ToolContext | None = None) -> str:
        """Schema, facts and rules; its size does not depend on the number of spans."""
        ctx = ctx or self.context()
        key = (self._ctx_key, self.scope, tuple(self.selection[:20]), len(self.selection))
        if key not in self._system_cache:
            self._system_cache[key] = system_prompt(ctx, scope=self.scope, selection=self.selection)
        return self._system_cache[key]

    # -- history -----------------------------------------------------------------------------------
    @property
    def history(self) -> list[Message]:
        return list(self._conversation.messages)

    @property
    def branches(self) -> list[Branch]:
        return list(self._conversation.branches)

    @property
    def queue(self) -> list[dict[str, str]]:
        with self._lock:
            return [{"run_id": item["run_id"], "question": item["question"]} for item in self._queue]

    @property
    def running(self) -> dict[str, str] | None:
        with self._lock:
            current = self._current
            return None if current is None else {"run_id": current["run_id"], "question": current["question"]}

    @property
    def tokens_sent(self) -> int:
        """Estimated tokens sent to the model for the last question."""
        return self.token_log[-1]["sent"] if self.token_log else 0

    # -- events ------------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event (from the worker thread); returns unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a surface's bug must not kill the run
                log.exception("event subscriber failed on %s", event.type)

    # -- asking ------------------------------------------------------------------------------------
    def submit(self, question: str, *, _run_id: str | None = None, _edit_index: int | None = None) -> str:
        """Queue a question for the worker thread; returns its run id at once."""
        run_id = _run_id or uuid.uuid4().hex[:12]
        with self._lock:
            self._closed = False
            self._finished[run_id] = threading.Event()
            self._queue.append({"run_id": run_id, "question": question, "edit_index": _edit_index})
            position = len(self._queue) - (0 if self._current is None else -1)
            # Emitted while holding the (re-entrant) lock: the worker cannot take the job before
            # "queued" is out, so listeners always see queued → started.
            self._emit(Event("queued", run_id, {"question": question, "position": position}))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="loop-agent", daemon=True)
                self._worker.start()
            self._wake.notify_all()
        return run_id

    def ask(self, question: str) -> Answer:
        """Ask and wait for the answer (after any queued questions). Not from an event callback:
        those run on the worker thread, which would wait for itself."""
        run_id = self.submit(question)
        return self.wait(run_id)

    def wait(self, run_id: str, timeout: float | None = None) -> Answer:
        finished = self._finished[run_id]
        if not finished.wait(timeout):
            raise TimeoutError(f"run {run_id} still running after {timeout} s")
        return self._answers[run_id]

    def stream(self, question: str) -> Iterator[Event]:
        """Ask and yield this run's events as they happen, ending with done, error or interrupted."""
        run_id = uuid.uuid4().hex[:12]
        events: queue.Queue[Event] = queue.Queue()
        unsubscribe = self.subscribe(lambda e: events.put(e) if e.run_id == run_id else None)
        try:
            self.submit(question, _run_id=run_id)
            while True:
                event = events.get()
                yield event
                if event.type in FINAL_TYPES:
                    return
        finally:
            unsubscribe()

    def interrupt(self) -> None:
        """Stop the current run at its next safe point; the next queued question then starts."""
        with self._lock:
            if self._current is not None:
                self._interrupt.set()

    def compact(self) -> Answer:
        """Summarize the conversation so far for the model now (as typing ``/compact``); the full
        transcript stays in :attr:`history`. Returns the answer naming what was summarized."""
        return self.ask(COMPACT_COMMAND)

    def edit(self, message_index: int, new_text: str) -> str:
        """Replace user message ``message_index`` and re-run from there; later turns become a branch."""
        message = self._conversation.messages[message_index]
        if message.kind != "user":
            raise ValueError(f"message {message_index} is a {message.kind} message, not a user message")
        return self.submit(new_text, _edit_index=message_index)

    # -- the worker --------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    if self._closed or (not self._wake.wait(timeout=30) and not self._queue):
                        self._worker = None
                        return
                item = self._queue.popleft()
                self._current = item
                self._interrupt.clear()
            try:
                answer = self._run(item)
            except Exception as exc:  # never leave a waiter hanging
                log.exception("run %s failed", item["run_id"])
                answer = Answer(f"Internal error: {exc}", run_id=item["run_id"], error=str(exc))
                self._emit(Event("error", item["run_id"], {"message": str(exc), "kind": "internal"}))
            with self._lock:
                self._answers[item["run_id"]] = answer
                self.last_answer = answer
                self._current = None
                self._interrupt.clear()
            self._finished[item["run_id"]].set()

    def _check_interrupt(self) -> None:
        if self._interrupt.is_set():
            raise _Interrupted

    def _run(self, item: dict[str, Any]) -> Answer:
        run_id, question = item["run_id"], item["question"]
        if is_command(question):
            return run_command(self, item)
        model = self._model
        if item.get("edit_index") is not None:
            self._conversation.branch_at(item["edit_index"], run_id)
        self._conversation.append(Message("user", question, run_id, model=model))
        self._emit(Event("started", run_id, {"question": question, "model": model}))
        ledger = TokenLedger()
        answer = Answer("", run_id=run_id, model=model, usage=AnswerUsage(model=model))
        texts: list[str] = []
        try:
            ctx = self.context()
            client = self._client(model)
            if client is None:
                from .planner import OfflineClient

                client = OfflineClient(
                    lambda: (self.context(), self.scope), history=lambda: self._conversation.messages
                )
            offline = client.name == "offline"
            api_id = str(getattr(client, "model", "") or "")
            answer.usage = AnswerUsage.for_model(model, api_id, offline=offline)
            if self.run_log is not None:
                client = self.run_log.client(run_id, client)
            # Tools that need a model (LLM-as-judge, naming clusters) get the session's; None offline.
            # Their calls count in the answer's usage too.
            ctx.llm = None if offline else self._llm_for(client)
            if isinstance(ctx.llm, SessionModel):
                ctx.llm.on_usage = lambda reported: answer.usage.add(reported, api_id=api_id)
            specs = load_tools()
            # The always-on tools and what the model enables with search_tools (see tool_choice).
            choice = ToolChoice(specs, search=self.tool_search)
            choice.keep_used(self._conversation.model_messages())
            system = self.system_prompt(ctx) + choice.note()

            streamed = [0]

            def on_delta(text: str) -> None:
                self._check_interrupt()
                streamed[0] += 1
                self._emit(Event("text_delta", run_id, {"text": text}))

            def complete(messages: list[dict[str, Any]]) -> Any:
                # The SDKs retry failed requests; a stream that drops before any text is shown is
                # retried here once (after text was shown, a retry would repeat it: report instead).
                tools = choice.schemas()
                for attempt in range(2):
                    streamed[0] = 0
                    ledger.record({"system": system, "messages": messages, "tools": tools})
                    try:
                        return client.complete(system, messages, tools, on_delta)
                    except ModelError as exc:
                        if exc.kind != "connection" or streamed[0] or attempt:
                            raise
                        log.warning("model stream dropped before any text; retrying once")
                raise AssertionError("unreachable")

            for _ in range(self.max_turns):
                self._check_interrupt()
                maybe_compact(self, run_id, client, system, choice.schemas())
                turn = complete(compacted_messages(self._conversation))
                ledger.reported_input += turn.usage.input_tokens
                ledger.reported_output += turn.usage.output_tokens
                ledger.reported_cache_read += turn.usage.cache_read_tokens
                if not offline:
                    answer.usage.add(turn.usage, api_id=api_id)
                calls = [{"id": c.id, "name": c.name, "input": c.input} for c in turn.tool_calls]
                self._conversation.append(Message("assistant", turn.text, run_id, {"tool_calls": calls}, model=model))
                if turn.text:
                    texts.append(turn.text)
                if not turn.tool_calls:
                    break
                self._run_tools(run_id, turn.tool_calls, ctx, specs, answer)
                choice.after(turn.tool_calls)
                self._check_interrupt()
            else:
                note = f"(Stopped after {self.max_turns} model turns without a final answer.)"
                texts.append(note)
                self._emit(Event("text_delta", run_id, {"text": note}))
        except _Interrupted:
            answer.interrupted = True
            answer.text = "\n\n".join(texts)
            self._conversation.append(Message("interrupted", "Interrupted by the user.", run_id))
            self._finish_tokens(run_id, question, ledger, answer)
            self._emit(Event("interrupted", run_id, {"reason": "user"}))
            return answer
        except ModelError as exc:
            answer.error = str(exc)
            answer.text = "\n\n".join([*texts, str(exc)])
            self._conversation.append(Message("error", str(exc), run_id, {"kind": exc.kind}))
            self._finish_tokens(run_id, question, ledger, answer)
            self._emit(Event("error", run_id, {"message": str(exc), "kind": exc.kind}))
            return answer
        answer.text = "\n\n".join(texts)
        self._finish_tokens(run_id, question, ledger, answer)
        done = {"answer": answer, "text": answer.text, "tokens_sent": answer.tokens_sent}
        self._emit(Event("done", run_id, {**done, "usage": answer.usage.to_json()}))
        return answer

    def _finish_tokens(self, run_id: str, question: str, ledger: TokenLedger, answer: Answer) -> None:
        answer.tokens_sent = ledger.sent
        answer.tokens = ledger.to_json()
        self.token_log.append({"run_id": run_id, "question": question, **ledger.to_json()})
