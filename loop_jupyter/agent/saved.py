"""Saved sessions and branches on a Loop: the methods :class:`~loop_jupyter.agent.session.Loop`
gets from :class:`SavedSessions` (a mixin, like ``ToolCalls``).

    loop = Loop(logs, session="errors-review")   # resumes .loop/sessions/errors-review.jsonl, or starts it
    Loop.sessions()                              # saved sessions in the current folder
    Loop.delete_session("old")                   # only ever deletes inside .loop/sessions
    loop.rewind(2)                               # a new branch keeping messages 0-1
    loop.list_branches(); loop.switch_branch(1)  # the earlier branch, whole
    loop.rerun(3)                                # tool call of message 3 again, on the current logs

See docs/sessions.md for the file format.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..artifacts import Artifact, Pending, ToolResult
from ..tools import ToolContext, ToolSpec, load_tools, model_call
from .branches import BranchedConversation, list_sessions, message_record, open_conversation
from .conversation import Message
from .persist import SessionFile, check_name, delete_session


class _ClassOrInstance:
    """A method callable on the class (``Loop.sessions()``: the current folder) or on a session
    (``loop.sessions()``: that session's folder)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def __get__(self, obj: Any, owner: type) -> Callable[..., Any]:
        return functools.partial(self.function, obj)


def _folder(obj: Any, workdir: str | Path | None) -> Path:
    if workdir is not None:
        return Path(workdir)
    return Path(obj.workdir) if obj is not None else Path.cwd()


class SavedSessions:
    """Session files and branches for :class:`~loop_jupyter.agent.session.Loop`."""

    # Set by Loop.__init__.
    workdir: Path
    _conversation: BranchedConversation
    _lock: threading.RLock
    _queue: Any
    _current: Any
    _pending: dict[str, tuple[str, Pending]]

    def context(self) -> ToolContext:  # pragma: no cover - Loop provides it
        raise NotImplementedError

    # -- sessions ------------------------------------------------------------------------------------
    @property
    def session(self) -> str | None:
        """The name this conversation is saved under (None: not saved)."""
        store = self._conversation.store
        return store.name if store is not None else None

    @property
    def session_warnings(self) -> list[str]:
        """Lines of the session file that were skipped when it was read (a cut-off write, an edit)."""
        return list(self._conversation.warnings)

    @_ClassOrInstance
    def sessions(obj: Any, workdir: str | Path | None = None) -> list[dict[str, Any]]:
        """Saved sessions, most recent first: ``name``, ``messages`` and ``questions`` (on the live
        branch), ``branches``, ``branch`` (the live one), ``last_activity`` (ISO 8601), ``warnings``."""
        return list_sessions(_folder(obj, workdir))

    @_ClassOrInstance
    def delete_session(obj: Any, name: str, workdir: str | Path | None = None) -> bool:
        """Delete a saved session (its file under ``.loop/sessions``; nothing else). A session open
        in this Loop stops being saved. Returns whether it existed."""
        check_name(name)
        if obj is not None and not isinstance(obj, type) and obj.session == name:
            obj._conversation.store = None
        return delete_session(_folder(obj, workdir), name)

    def open_session(self, name: str) -> None:
        """Continue saved session ``name`` here (or start it, empty): its transcript, branches and
        artifacts replace this conversation (which stays in its own file, if it had one)."""
        store = SessionFile(self.workdir, name)
        with self._lock:
            self._idle("open a session")
            conversation = open_conversation(store)
            self._conversation = conversation
            self._pending.clear()

    def save_session(self, name: str) -> None:
        """Save this conversation (all its branches) as session ``name`` and keep saving it there."""
        store = SessionFile(self.workdir, name)
        if store.exists():
            raise FileExistsError(f"session {name!r} exists: open it with open_session, or delete it first")
        with self._lock:
            conversation = self._conversation
            conversation.store = store
            for node in sorted(conversation.tree.values(), key=lambda b: b.id):
                if node.parent is not None:
                    store.append({"type": "branch", "id": node.id, "parent": node.parent, "fork": node.fork})
                for mid in node.mids[node.fork if node.parent is not None else 0 :]:
                    store.append(message_record(mid, node.id, conversation._by_mid[mid]))
            store.append({"type": "switch", "branch": conversation.live})

    # -- branches ------------------------------------------------------------------------------------
    def _idle(self, what: str) -> None:
        if self._current is not None or self._queue:
            raise RuntimeError(f"cannot {what} while a question is running or queued: wait, or interrupt it")

    @property
    def branch_id(self) -> int:
        """The live branch (1 is the first)."""
        return self._conversation.live

    def list_branches(self) -> list[dict[str, Any]]:
        """Every branch: ``id``, ``parent``, ``fork`` (messages shared with the parent), ``messages``,
        ``questions``, ``last_question``, ``live``."""
        return self._conversation.list_branches()

    def rewind(self, message_index: int) -> int:
        """Go back to before message ``message_index`` (a question, or ``len(history)``): a new live
        branch keeps the messages before it; the next question continues from there. The branch left
        stays whole (``switch_branch``). Returns the new branch's id."""
        with self._lock:
            self._idle("rewind")
            return self._conversation.rewind(message_index)

    def switch_branch(self, branch_id: int) -> None:
        """Make branch ``branch_id`` the live one (its transcript becomes ``history``)."""
        with self._lock:
            self._idle("switch branches")
            self._conversation.switch(branch_id)

    def alternatives(self, message_index: int) -> dict[str, Any]:
        """The versions of message ``message_index`` across branches (edits of a question):
        ``{"position", "count", "branches"}``, e.g. position 2 of count 2, and a branch id per version."""
        return self._conversation.alternatives(message_index)

    # -- artifacts -----------------------------------------------------------------------------------
    def rerun(self, message_index: int) -> ToolResult:
        """Run the tool call of tool result ``message_index`` again, with its saved parameters, on
        the current logs: the artifacts come back whole (a saved session keeps only previews).
        A tool that writes is not re-run here: ask again, and confirm."""
        message: Message = self._conversation.messages[message_index]
        if message.kind != "tool_result":
            raise ValueError(f"message {message_index} is a {message.kind} message, not a tool result")
        specs: dict[str, ToolSpec] = load_tools()
        name, arguments = message.data.get("name"), message.data.get("input") or {}
        spec = specs.get(str(name))
        if spec is None:
            raise ValueError(f"tool {name!r} is not available in this version")
        if spec.side_effects:
            raise ValueError(f"{name} writes files: ask the question again to propose it anew")
        with model_call():  # saved parameters are data from a file: tools may refuse some
            result = spec.function(self.context(), **spec.validate(arguments))
        if not isinstance(result, ToolResult):
            result = ToolResult(str(result))
        result.artifacts = [a for a in result.artifacts if not isinstance(a, Pending)]
        return result

    def saved_artifacts(self) -> list[tuple[int, Artifact]]:
        """(message index, artifact) for every artifact on the live branch, in order."""
        return [(i, a) for i, m in enumerate(self._conversation.messages) for a in m.artifacts]


__all__ = ["SavedSessions"]
