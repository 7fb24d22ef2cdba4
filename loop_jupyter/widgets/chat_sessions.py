"""The chat's saved sessions and branches: the transcript rebuilt from the Loop's history (on a reload,
a branch switch, an opened session), the session list (open, save as, delete) and the branch switcher.

A mixin of :class:`~loop_jupyter.widgets.chat.ChatWidget` (its ``_on_<type>`` request handlers); the
Loop does the work (:mod:`loop_jupyter.agent.saved`), this only turns it into browser messages.
"""

from __future__ import annotations

from typing import Any

from ..agent.persist import SavedTable
from ..artifacts import Artifact, Code
from ._base import RequestError
from .messages import (
    DeleteSessionRequest,
    OpenSessionRequest,
    SaveSessionRequest,
    SessionsRequest,
    SwitchBranchRequest,
    TranscriptRequest,
)

#: Questions of the live branch rebuilt in the browser (the oldest beyond are summarized).
MAX_RUNS = 100
TEXT_CHARS = 20_000


class ChatSessions:
    """Session and branch requests of the chat widget (``self.loop`` is the Loop)."""

    loop: Any
    session: str
    branch: dict[str, Any]

    def artifact_json(self, artifact: Artifact) -> dict[str, Any]:  # pragma: no cover - ChatWidget
        raise NotImplementedError

    def _loop_call(self, name: str, *args: Any) -> Any:
        method = getattr(self.loop, name, None)
        if not callable(method):
            raise RequestError(f"this session has no {name}: saved sessions need a Loop")
        try:
            return method(*args)
        except (ValueError, KeyError, IndexError, RuntimeError, OSError) as exc:
            raise RequestError(str(exc).strip("'\"")) from None

    def sync_session(self) -> None:
        """The synced ``session`` and ``branch`` traits from the Loop."""
        self.session = str(getattr(self.loop, "session", None) or "")
        listed = getattr(self.loop, "list_branches", None)
        branches = listed() if callable(listed) else []
        self.branch = {"id": int(getattr(self.loop, "branch_id", 1) or 1), "count": len(branches) or 1}

    def alternatives_of(self, run_id: str) -> dict[str, Any]:
        """The branch switcher of question ``run_id`` (``{"index", "position", "count", "branches"}``)."""
        history = list(getattr(self.loop, "history", []) or [])
        index = next((i for i, m in enumerate(history) if m.kind == "user" and m.run_id == run_id), None)
        alternatives = getattr(self.loop, "alternatives", None)
        if index is None or not callable(alternatives):
            return {}
        return {"index": index, **alternatives(index)}

    def transcript(self) -> dict[str, Any]:
        """The live branch as runs (question, answer text, tool steps, artifact cards, status)."""
        runs: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None
        shown: set[str] = set()
        history = list(getattr(self.loop, "history", []) or [])
        alternatives = getattr(self.loop, "alternatives", None)
        for index, message in enumerate(history):
            kind = message.kind
            if kind == "user":
                alt = alternatives(index) if callable(alternatives) else {"position": 1, "count": 1, "branches": []}
                current = {
                    "run_id": message.run_id,
                    "question": message.text[:TEXT_CHARS],
                    "text": "",
                    "steps": [],
                    "artifacts": [],
                    "error": "",
                    "status": "",
                    "alternatives": {"index": index, **alt},
                }
                runs.append(current)
                shown = set()
                continue
            if current is None:
                continue
            if kind == "assistant" and message.text:
                current["text"] = (current["text"] + "\n\n" + message.text if current["text"] else message.text)[
                    :TEXT_CHARS
                ]
            elif kind == "tool_result":
                current["steps"].append(
                    {"name": str(message.data.get("name", "")), "is_error": bool(message.data.get("is_error"))}
                )
            elif kind == "error":
                current["error"] = message.text[:TEXT_CHARS]
            elif kind == "interrupted":
                current["status"] = "interrupted"
            if kind in ("tool_result", "artifact"):
                for artifact in message.artifacts:
                    if isinstance(artifact, Code):  # a confirmed action repeats its proposal's code
                        if artifact.source in shown:
                            continue
                        shown.add(artifact.source)
                    card = self.artifact_json(artifact)
                    if isinstance(artifact, SavedTable) and artifact.total_rows > artifact.frame.height:
                        # A table read back from a session file holds its first rows only: say so.
                        card["title"] = (
                            f"{card.get('title') or 'Table'} (saved preview: first {artifact.frame.height} of "
                            f"{artifact.total_rows:,} rows; ask again for all)"
                        )
                    current["artifacts"].append(card)
        self.sync_session()
        hidden = max(len(runs) - MAX_RUNS, 0)
        return {"runs": runs[hidden:], "hidden": hidden, "session": self.session, "branch": dict(self.branch)}

    # -- requests ----------------------------------------------------------------------------------------
    def _on_transcript(self, request: TranscriptRequest) -> dict[str, Any]:
        return self.transcript()

    def _on_sessions(self, request: SessionsRequest) -> dict[str, Any]:
        listed = getattr(self.loop, "sessions", None)
        self.sync_session()
        return {"sessions": listed() if callable(listed) else [], "current": self.session}

    def _on_open_session(self, request: OpenSessionRequest) -> dict[str, Any]:
        self._loop_call("open_session", request.name)
        return self.transcript()

    def _on_save_session(self, request: SaveSessionRequest) -> dict[str, Any]:
        self._loop_call("save_session", request.name)
        return self._on_sessions(SessionsRequest(type="sessions"))

    def _on_delete_session(self, request: DeleteSessionRequest) -> dict[str, Any]:
        self._loop_call("delete_session", request.name)
        return self._on_sessions(SessionsRequest(type="sessions"))

    def _on_switch_branch(self, request: SwitchBranchRequest) -> dict[str, Any]:
        self._loop_call("switch_branch", request.branch)
        return self.transcript()


__all__ = ["ChatSessions"]
