"""Branches of a conversation, kept and switchable, optionally saved as they happen.

A conversation is a tree: every message belongs to the branch it was written on, and a branch is
"the first ``fork`` messages of its parent branch, then its own". Rewinding (or editing a question)
starts a new branch at that message; the old branch is kept whole and can be switched back to.
``Conversation.messages`` is always the live branch's view, so the rest of the agent (the model
messages, the widgets) reads one list as before.

:class:`BranchedConversation` keeps the tree in memory and, given a
:class:`~loop_jupyter.agent.persist.SessionFile`, appends every message, branch and switch to it.
:func:`replay` rebuilds the tree from a file's records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conversation import Branch, Conversation, Message
from .persist import (
    SessionFile,
    SessionNameError,
    artifact_from_ref,
    artifact_ref,
    check_name,
    read_records,
    sessions_dir,
)

log = logging.getLogger(__name__)

_KINDS = ("user", "assistant", "tool_call", "tool_result", "artifact", "error", "interrupted")


@dataclass
class BranchNode:
    id: int
    parent: int | None
    fork: int
    mids: list[int] = field(default_factory=list)
    updated: str = ""


def message_record(mid: int, branch: int, message: Message) -> dict[str, Any]:
    """A message as a session-file record (its artifacts by reference; the text the model saw kept)."""
    return {
        "type": "message",
        "id": mid,
        "branch": branch,
        "kind": message.kind,
        "text": message.text,
        "run_id": message.run_id,
        "model": message.model,
        "data": message.data,
        "artifacts": [artifact_ref(a) for a in message.artifacts],
    }


def message_from_record(record: dict[str, Any]) -> Message | None:
    kind = record.get("kind")
    if kind not in _KINDS:
        return None
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    if kind == "assistant":
        calls = data.get("tool_calls")
        data["tool_calls"] = [
            c
            for c in (calls if isinstance(calls, list) else [])
            if isinstance(c, dict)
            and isinstance(c.get("id"), str)
            and isinstance(c.get("name"), str)
            and isinstance(c.get("input"), dict)
        ]
    if kind == "tool_result" and not (isinstance(data.get("id"), str) and isinstance(data.get("name"), str)):
        return None
    refs = record.get("artifacts") if isinstance(record.get("artifacts"), list) else []
    artifacts = []
    for ref in refs:
        try:
            artifact = artifact_from_ref(ref) if isinstance(ref, dict) else None
        except Exception:  # a reference this version cannot read: the message is kept without it
            artifact = None
        if artifact is not None:
            artifacts.append(artifact)
    text = record.get("text")
    return Message(
        kind,
        text if isinstance(text, str) else "",
        str(record.get("run_id") or ""),
        data,
        artifacts,
        model=str(record.get("model") or ""),
    )


class BranchedConversation(Conversation):
    """A :class:`Conversation` whose edits and rewinds start branches that stay switchable."""

    def __init__(self, store: SessionFile | None = None) -> None:
        super().__init__()
        self.store = store
        self.warnings: list[str] = []
        self.tree: dict[int, BranchNode] = {1: BranchNode(1, None, 0)}
        self.live = 1
        self._by_mid: dict[int, Message] = {}
        self._mid_of: dict[int, int] = {}  # id(message) -> mid

    # -- writing -------------------------------------------------------------------------------------
    def _save(self, record: dict[str, Any]) -> None:
        if self.store is None:
            return
        try:
            self.store.append(record)
        except OSError as exc:  # a full disk must not end the answer: say so and stop saving
            log.error("session %s is no longer saved: %s", self.store.name, exc)
            self.warnings.append(f"not saved from here on: {exc}")
            self.store = None

    def _add(self, message: Message) -> int:
        mid = len(self._by_mid)
        self._by_mid[mid] = message
        self._mid_of[id(message)] = mid
        return mid

    def append(self, message: Message) -> int:
        index = super().append(message)
        mid = self._add(message)
        self.tree[self.live].mids.append(mid)
        self._save(message_record(mid, self.live, message))
        return index

    def _fork(self, index: int) -> int:
        node = BranchNode(max(self.tree) + 1, self.live, index, self.tree[self.live].mids[:index])
        self.tree[node.id] = node
        self.live = node.id
        self._save({"type": "branch", "id": node.id, "parent": node.parent, "fork": index})
        return node.id

    def branch_at(self, index: int, run_id: str) -> Branch:
        branch = super().branch_at(index, run_id)
        self._fork(index)
        return branch

    def rewind(self, index: int) -> int:
        """Keep the first ``index`` messages on a new live branch (the next question becomes message
        ``index``); ``index`` is a question's position or the length of the history."""
        if index != len(self.messages) and not (
            0 <= index < len(self.messages) and self.messages[index].kind == "user"
        ):
            raise IndexError(f"message {index} is not a question: rewind to a question's index (or the end)")
        if index < len(self.messages):
            self.branches.append(Branch(index, self.messages[index:], ""))
            del self.messages[index:]
        return self._fork(index)

    def switch(self, branch_id: int) -> None:
        if branch_id not in self.tree:
            raise KeyError(f"no branch {branch_id}: branches are {sorted(self.tree)}")
        self.live = branch_id
        self.messages[:] = [self._by_mid[m] for m in self.tree[branch_id].mids]
        self._save({"type": "switch", "branch": branch_id})

    # -- reading -------------------------------------------------------------------------------------
    def view(self, branch_id: int | None = None) -> list[Message]:
        return [self._by_mid[m] for m in self.tree[self.live if branch_id is None else branch_id].mids]

    def alternatives(self, index: int) -> dict[str, Any]:
        """The versions of message ``index`` among the branches sharing the messages before it:
        ``{"position": 1-based, "count", "branches": [a branch id per version, oldest first]}``."""
        live = self.tree[self.live].mids
        if not 0 <= index < len(live):
            raise IndexError(f"no message {index} on the live branch")
        prefix = live[:index]
        versions: dict[int, int] = {}  # mid at index -> branch to show it (the live one, else the newest)
        for node in sorted(self.tree.values(), key=lambda b: b.id):
            if len(node.mids) > index and node.mids[:index] == prefix:
                mid = node.mids[index]
                if versions.get(mid) != self.live:
                    versions[mid] = self.live if node.id == self.live else node.id
        order = sorted(versions)
        return {"position": order.index(live[index]) + 1, "count": len(order), "branches": [versions[m] for m in order]}

    def list_branches(self) -> list[dict[str, Any]]:
        out = []
        for node in sorted(self.tree.values(), key=lambda b: b.id):
            view = [self._by_mid[m] for m in node.mids]
            questions = [m.text for m in view if m.kind == "user"]
            out.append(
                {
                    "id": node.id,
                    "parent": node.parent,
                    "fork": node.fork,
                    "messages": len(view),
                    "questions": len(questions),
                    "last_question": questions[-1] if questions else "",
                    "live": node.id == self.live,
                }
            )
        return out


def replay(records: list[dict[str, Any]], warnings: list[str] | None = None) -> BranchedConversation:
    """The conversation a session file's records describe (records that do not fit are reported)."""
    conv = BranchedConversation()
    conv.warnings = warnings if warnings is not None else []
    for number, record in enumerate(records, 1):
        kind = record.get("type")
        if kind == "message":
            branch = record.get("branch")
            message = message_from_record(record)
            if message is None or not isinstance(branch, int) or branch not in conv.tree:
                conv.warnings.append(f"record {number}: a message that does not fit the conversation: skipped")
                continue
            conv.tree[branch].mids.append(conv._add(message))
            conv.live = branch
        elif kind == "branch":
            parent, fork, bid = record.get("parent"), record.get("fork"), record.get("id")
            ok = isinstance(bid, int) and bid not in conv.tree and isinstance(parent, int) and parent in conv.tree
            ok = ok and isinstance(fork, int)
            if not ok or not 0 <= fork <= len(conv.tree[parent].mids):  # type: ignore[index]
                conv.warnings.append(f"record {number}: a branch that does not fit the conversation: skipped")
                continue
            conv.tree[bid] = BranchNode(bid, parent, fork, conv.tree[parent].mids[:fork])  # type: ignore[index]
            conv.live = bid
        elif kind == "switch" and isinstance(record.get("branch"), int) and record["branch"] in conv.tree:
            conv.live = record["branch"]
        if isinstance(record.get("at"), str) and kind in ("message", "branch", "switch"):
            conv.tree[conv.live].updated = record["at"]
    confirmed = {m.data.get("action_id") for m in conv._by_mid.values() if m.kind == "artifact"}
    for message in conv._by_mid.values():  # an action confirmed later says so on its card
        for artifact in message.artifacts:
            if getattr(artifact, "action_id", None) in confirmed:
                artifact.status = "confirmed"  # type: ignore[attr-defined]
    conv.messages[:] = conv.view()
    return conv


def open_conversation(store: SessionFile | None) -> BranchedConversation:
    """A new conversation, or the saved one ``store`` holds (then written to as it goes)."""
    if store is not None:
        store.check_link()
    if store is None or not store.exists():
        return BranchedConversation(store)
    read = store.read()
    conv = replay(read.records, list(read.warnings))
    conv.store = store
    return conv


def list_sessions(workdir: str | Path) -> list[dict[str, Any]]:
    """The saved sessions under ``workdir``, most recent first: name, messages (on the live branch),
    questions, branches, branch (the live one), last_activity, warnings."""
    folder = sessions_dir(workdir)
    out = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        name = path.name[: -len(".jsonl")]
        try:
            check_name(name)
        except SessionNameError:
            continue
        if path.is_symlink() or not path.is_file():
            continue
        read = read_records(path)
        state = replay(read.records, read.warnings)
        live = state.view()
        last = next((r.get("at") for r in reversed(read.records) if isinstance(r.get("at"), str)), None)
        out.append(
            {
                "name": name,
                "messages": len(live),
                "questions": sum(1 for m in live if m.kind == "user"),
                "branches": len(state.tree),
                "branch": state.live,
                "last_activity": last,
                "warnings": len(read.warnings),
            }
        )
    out.sort(key=lambda s: s["last_activity"] or "", reverse=True)
    return out


__all__ = ["BranchNode", "BranchedConversation", "list_sessions", "open_conversation", "replay"]
