"""The chat's transcript as the browser was shown it, kept in the kernel for a reloaded page.

Every event message the chat pushes is recorded here (consecutive text pieces of a run merged into
one), numbered by ``seq``. A view that renders later (a reloaded page, a second view of the same
widget) asks for them with the ``history`` request and replays them through the same renderers as
the live events: tables (paged by artifact id), charts, code and dataset cards, and action cards.
An action card is re-made from its :class:`~loop_jupyter.artifacts.Pending` at replay time, so it
shows the action's state now: still pending (Confirm works), confirmed or cancelled.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

#: Runs whose events are kept (oldest dropped first); matches the artifacts kept for paging.
KEEP_RUNS = 100
#: Events kept per run (a run with more keeps its first ones and its last one).
KEEP_EVENTS = 400


class TranscriptLog:
    """Event messages pushed to the browser, by run, in the order they were sent."""

    def __init__(self) -> None:
        self._runs: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._seq = 0
        self._lock = threading.Lock()

    @property
    def seq(self) -> int:
        """Number of the last recorded message (0 before any)."""
        return self._seq

    def record(self, message: dict[str, Any]) -> int:
        """Keep one pushed event message; returns its ``seq`` (also set on the message)."""
        with self._lock:
            self._seq += 1
            message["seq"] = self._seq
            run_id = str(message.get("run_id", ""))
            if message.get("event") == "queued":
                return self._seq  # the queue box shows it; a replay does not need it
            events = self._runs.setdefault(run_id, [])
            last = events[-1] if events else None
            if message.get("event") == "text_delta" and last is not None and last.get("event") == "text_delta":
                merged = copy.deepcopy(last)
                merged["data"]["text"] = str(last["data"].get("text", "")) + str(message["data"].get("text", ""))
                merged["seq"] = self._seq
                events[-1] = merged
            elif len(events) >= KEEP_EVENTS:
                events[-1] = copy.deepcopy(message)
            else:
                events.append(copy.deepcopy(message))
            while len(self._runs) > KEEP_RUNS:
                self._runs.popitem(last=False)
            return self._seq

    def replay(self, recard: Callable[[dict[str, Any]], dict[str, Any] | None]) -> list[dict[str, Any]]:
        """The recorded messages in order; ``recard(card)`` may give a fresh card for an artifact
        card (an action's current state), or None to keep the recorded one."""
        with self._lock:
            messages = [m for events in self._runs.values() for m in events]
        messages.sort(key=lambda m: m["seq"])
        out = []
        for message in messages:
            message = copy.deepcopy(message)
            artifact = message.get("data", {}).get("artifact")
            if isinstance(artifact, dict):
                fresh = recard(artifact)
                if fresh is not None:
                    message["data"]["artifact"] = fresh
            out.append(message)
        return out


__all__ = ["KEEP_EVENTS", "KEEP_RUNS", "TranscriptLog"]
