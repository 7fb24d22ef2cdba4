"""ChatWidget: the Loop conversation in a notebook output, streamed as custom messages.

The transcript is never a trait: the Loop's events (from its worker thread) are forwarded to the
browser one by one with ``self.send``. Artifacts are sent as small JSON cards; a table sends its
first page and the rest is paged on request by artifact id. Synced traits are the small settings
(models, model, auto-accept, queue, sources).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import traitlets

from ..artifacts import Artifact, Code, Pending, SqlFilter, Table
from ._base import STATIC, RequestError, RequestWidget, frame_rows
from .cards import card, cell_code
from .chat_sessions import ChatSessions
from .messages import (
    ApplyFilterRequest,
    AskRequest,
    CancelRequest,
    ConfirmRequest,
    EditRequest,
    HistoryRequest,
    InsertCodeRequest,
    InterruptRequest,
    PageRequest,
    ScopeRequest,
    usage_message,
)
from .model_choices import locked_models
from .session import ChatSession

#: Artifacts kept for paging (oldest dropped first).
KEEP_ARTIFACTS = 200


class ChatWidget(ChatSessions, RequestWidget):
    """Chat with a :class:`~loop_jupyter.agent.session.Loop` in the notebook.

    ``ChatWidget(loop)``; ``chat.explorer = explorer`` makes "Apply to explorer" on SQL filters
    filter that explorer.
    """

    widget_name = "chat"
    _esm = STATIC / "chat.js"
    _css = STATIC / "chat.css"

    models = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: Models that cannot run here, by the key variable that enables them: the picker offers the
    #: usable ones and shows the rest disabled with that variable.
    locked_models = traitlets.Dict().tag(sync=True)
    model = traitlets.Unicode("").tag(sync=True)
    auto_accept = traitlets.Bool(False).tag(sync=True)
    queue = traitlets.List(traitlets.Dict()).tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)  # run_id of the running question, "" when idle
    sources = traitlets.List(traitlets.Unicode()).tag(sync=True)
    enabled_sources = traitlets.List(traitlets.Unicode()).tag(sync=True)
    scope = traitlets.Unicode("").tag(sync=True)
    has_explorer = traitlets.Bool(False).tag(sync=True)
    title = traitlets.Unicode("Loop").tag(sync=True)
    #: The saved session this chat writes to ("" when not saved) and the live branch (id, count).
    session = traitlets.Unicode("").tag(sync=True)
    branch = traitlets.Dict({"id": 1, "count": 1}).tag(sync=True)

    def __init__(self, loop: ChatSession, *, explorer: Any = None, title: str = "Loop") -> None:
        self.loop = loop
        self._artifacts: OrderedDict[str, Artifact] = OrderedDict()
        self._next_artifact = 0
        self._code_shown: dict[str, set[str]] = {}
        self._explorer = None
        names = list(loop.models())
        injected = getattr(getattr(loop, "_injected_client", None), "name", None)
        super().__init__(
            models=names,
            locked_models=locked_models(names, session_key=getattr(loop, "_api_key", None), injected=injected),
            model=str(loop.model or ""),
            auto_accept=bool(loop.auto_accept),
            sources=sorted(getattr(loop, "sources", {}) or {}),
            enabled_sources=sorted(getattr(loop, "enabled_sources", set()) or set()),
            title=title,
        )
        self.explorer = explorer
        self.sync_session()
        self._unsubscribe = loop.subscribe(self._on_event)

    # -- links ---------------------------------------------------------------------------------------
    @property
    def explorer(self) -> Any:
        return self._explorer

    @explorer.setter
    def explorer(self, value: Any) -> None:
        self._explorer = value
        self.has_explorer = value is not None

    def close(self) -> None:
        unsubscribe = getattr(self, "_unsubscribe", None)
        if callable(unsubscribe):
            unsubscribe()
        super().close()

    # -- settings go to the Loop ------------------------------------------------------------------------
    @traitlets.observe("model")
    def _model_changed(self, change: dict[str, Any]) -> None:
        if change["new"] and change["new"] != self.loop.model:
            self.loop.model = change["new"]

    @traitlets.observe("auto_accept")
    def _auto_accept_changed(self, change: dict[str, Any]) -> None:
        self.loop.auto_accept = bool(change["new"])

    @traitlets.observe("enabled_sources")
    def _sources_changed(self, change: dict[str, Any]) -> None:
        wanted = set(change["new"])
        unknown = wanted - set(self.sources)
        if unknown:
            raise traitlets.TraitError(f"unknown sources: {sorted(unknown)}")
        if hasattr(self.loop, "enabled_sources") and set(self.loop.enabled_sources) != wanted:
            self.loop.enabled_sources = wanted

    # -- Python API ------------------------------------------------------------------------------------
    def ask(self, question: str) -> str:
        """Queue a question as if typed in the chat; returns its run id."""
        return self.loop.submit(question)

    def ask_scoped(self, root_span_id: str | None, question: str) -> str:
        """Scope the Loop to one trace (None clears it) and queue a question."""
        self.loop.scope_trace(root_span_id)
        self.scope = root_span_id or ""
        return self.loop.submit(question)

    # -- events from the Loop (worker thread) -------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        if self._shown_already(event):
            self._sync_queue(event)
            return
        try:
            message = self.event_message(event)
        except Exception as exc:  # never let a rendering bug kill the Loop's worker
            message = {
                "type": "event",
                "event": "error",
                "run_id": getattr(event, "run_id", ""),
                "data": {"message": f"could not show an event: {type(exc).__name__}: {exc}"},
            }
        self._sync_queue(event)
        self.send(message)

    def _shown_already(self, event: Any) -> bool:
        """True for a second "reproduce" card with the same code in one run (a confirmed action
        returns the code its proposal already showed): one card per action."""
        artifact = (event.data or {}).get("artifact")
        if event.type != "artifact" or not isinstance(artifact, Code):
            return False
        shown = self._code_shown.setdefault(str(event.run_id), set())
        if artifact.source in shown:
            return True
        shown.add(artifact.source)
        while len(self._code_shown) > KEEP_ARTIFACTS:
            self._code_shown.pop(next(iter(self._code_shown)))
        return False

    def _sync_queue(self, event: Any) -> None:
        kind = event.type
        if kind in ("queued", "started", "done", "error", "interrupted"):
            self.queue = [
                {"run_id": str(q.get("run_id", "")), "question": str(q.get("question", ""))[:300]}
                for q in list(getattr(self.loop, "queue", []))
            ]
        if kind == "started":
            self.busy = str(event.run_id)
        elif kind in ("done", "error", "interrupted") and self.busy == str(event.run_id):
            self.busy = ""

    def event_message(self, event: Any) -> dict[str, Any]:
        """The browser message for one Loop event (artifacts become small JSON cards)."""
        data = dict(event.data or {})
        data.pop("json", None)  # the card below replaces it (a table's JSON holds 50 rows)
        data.pop("answer", None)  # done carries text and tokens_sent already
        if event.type == "done" and data.get("usage") is not None:
            data["usage"] = usage_message(data["usage"])  # the context line's numbers, typed
        artifact = data.pop("artifact", None)
        if event.type == "confirmation" and artifact is None:
            artifact = self._find_pending(str(data.get("action_id", "")))
        if isinstance(artifact, Artifact):
            data["artifact"] = self.artifact_json(artifact)
        elif event.type == "confirmation":
            data["artifact"] = {"kind": "confirmation", "artifact_id": "", "status": "pending", **data}
        if event.type == "started":
            data["scope"] = str(getattr(self.loop, "scope", None) or "")  # shown on the question
            data["alternatives"] = self.alternatives_of(str(event.run_id))  # the edit's "‹ 2/2 ›"
            self.sync_session()
        if event.type == "tool_started":
            data["summary"] = json.dumps(data.pop("input", {}), default=str)[:160]
        if event.type == "tool_finished":
            data["text"] = str(data.get("text", ""))[:300]
        safe = json.loads(json.dumps(data, default=str))
        return {"type": "event", "event": event.type, "run_id": str(event.run_id), "data": safe}

    def _find_pending(self, action_id: str) -> Pending | None:
        pending = getattr(self.loop, "pending", None)
        for item in pending() if callable(pending) else []:
            if item.action_id == action_id:
                return item
        return None

    def message_index(self, run_id: str) -> int:
        """Index in ``loop.history`` of the question asked by run ``run_id``."""
        for index, message in enumerate(list(getattr(self.loop, "history", []) or [])):
            if getattr(message, "kind", None) == "user" and getattr(message, "run_id", None) == run_id:
                return index
        raise RequestError("that message is no longer in the conversation")

    def artifact_json(self, artifact: Artifact) -> dict[str, Any]:
        """A bounded JSON card for an artifact; tables and pending actions keep an id for requests."""
        artifact_id = f"a{self._next_artifact}"
        self._next_artifact += 1
        self._artifacts[artifact_id] = artifact
        while len(self._artifacts) > KEEP_ARTIFACTS:
            self._artifacts.popitem(last=False)
        return card(artifact, artifact_id)

    # -- requests from the browser ---------------------------------------------------------------------------
    def _on_ask(self, request: AskRequest) -> dict[str, Any]:
        text = request.text.strip()
        if not text:
            raise RequestError("type a question first")
        run_id = self.loop.submit(text)
        if request.interrupt and self.busy:
            # Enter while a run is going: stop it; the worker then takes the next queued question.
            self.loop.interrupt()
        return {"run_id": run_id}

    def _on_interrupt(self, request: InterruptRequest) -> dict[str, Any]:
        self.loop.interrupt()
        return {}

    def _on_edit(self, request: EditRequest) -> dict[str, Any]:
        text = request.text.strip()
        if not text:
            raise RequestError("the edited question is empty")
        index = request.message_index
        if index is None:
            index = self.message_index(request.run_id)
        try:
            return {"run_id": self.loop.edit(index, text)}
        except (IndexError, ValueError) as exc:
            raise RequestError(f"cannot edit message {index}: {exc}") from None

    def _on_page(self, request: PageRequest) -> dict[str, Any]:
        artifact = self._artifacts.get(request.artifact_id)
        if not isinstance(artifact, Table):
            raise RequestError("this table is no longer available: re-run the question")
        frame = artifact.frame
        sort = request.sort
        if sort:
            if sort not in frame.columns:
                raise RequestError(f"no column {sort!r}")
            frame = frame.sort(sort, descending=request.descending, nulls_last=True)
        offset = max(request.offset, 0)
        limit = min(max(request.limit, 1), 500)
        return {"rows": frame_rows(frame.slice(offset, limit)), "offset": offset, "total_rows": frame.height}

    def _on_confirm(self, request: ConfirmRequest) -> dict[str, Any]:
        action_id = request.action_id
        try:
            produced = self.loop.confirm(action_id)
        except KeyError:
            raise RequestError(f"no pending action {action_id!r}") from None
        # The produced artifacts also arrive as "artifact" events, rendered in the run's answer.
        return {"status": "confirmed", "produced": [a.kind for a in produced or []]}

    def _on_cancel(self, request: CancelRequest) -> dict[str, Any]:
        action_id = request.action_id
        try:
            self.loop.cancel(action_id)
        except KeyError:
            raise RequestError(f"no pending action {action_id!r}") from None
        return {"status": "cancelled"}

    def _on_apply_filter(self, request: ApplyFilterRequest) -> dict[str, Any]:
        if self.explorer is None:
            raise RequestError("no explorer linked: TraceExplorer(logs, chat=chat) links one")
        artifact = self._artifacts.get(request.artifact_id)
        sql = artifact.sql if isinstance(artifact, SqlFilter) else request.sql
        if isinstance(artifact, SqlFilter) and artifact.shape == "spans":
            # The explorer lists traces: keep the traces that have a matching span.
            sql = f"root_span_id IN (SELECT root_span_id FROM logs WHERE {sql})"
        return {"total": self.explorer.set_filter(sql)}

    def _on_insert_code(self, request: InsertCodeRequest) -> dict[str, Any]:
        """Kernel side of "insert as a cell": ``set_next_input`` only reaches the front end as part of
        an execute reply, so it works for ``%loop`` cells, not from widget messages. The browser copies
        the code to the clipboard; here we keep it for ``%loop --insert`` (which does set_next_input)."""
        artifact = self._artifacts.get(request.artifact_id)
        source = cell_code(artifact) if artifact is not None else request.source
        self.last_code = source
        return {"source": source}

    def _on_scope(self, request: ScopeRequest) -> dict[str, Any]:
        root = request.root_span_id or None
        self.loop.scope_trace(root)
        self.scope = root or ""
        return {}

    def _on_history(self, request: HistoryRequest) -> dict[str, Any]:
        """The question and answer text so far: what a view shows when the kernel cannot send the
        ``transcript`` (runs with their cards, :mod:`.chat_sessions`)."""
        out = []
        for item in list(getattr(self.loop, "history", []) or [])[-200:]:
            role = getattr(item, "kind", None)
            text = getattr(item, "text", None)
            if role in ("user", "assistant") and isinstance(text, str) and text:
                out.append({"role": role, "text": text[:4000]})
        return {"messages": out}


__all__ = ["ChatWidget"]
