"""What the widgets use from a :class:`~loop_jupyter.agent.session.Loop`, as a Protocol.

The widgets are typed against this, not against ``Loop`` itself, so a test double or another
session type that has these members works, and a change to ``Loop`` that drops one is caught by
``tests/test_widget_messages.py`` (and by a type checker) rather than by a click in the browser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import polars as pl

    from ..agent.events import Event
    from ..artifacts import Artifact, Pending


@runtime_checkable
class ChatSession(Protocol):
    """The members of a Loop the chat widget and the explorer read, call or set."""

    model: str
    auto_accept: bool
    sources: dict[str, pl.DataFrame]
    enabled_sources: set[str]
    selection: list[str]
    scope: str | None

    @property
    def history(self) -> list[Any]: ...  # Message objects: kind, text, run_id

    @property
    def queue(self) -> list[dict[str, str]]: ...

    def models(self) -> list[str]: ...

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]: ...

    def submit(self, question: str) -> str: ...

    def ask(self, question: str) -> Any: ...  # an Answer: text, artifacts

    def interrupt(self) -> None: ...

    def edit(self, message_index: int, new_text: str) -> str: ...

    def pending(self) -> list[Pending]: ...

    def confirm(self, action_id: str) -> list[Artifact]: ...

    def cancel(self, action_id: str) -> None: ...

    def scope_trace(self, root_span_id: str | None) -> None: ...

    def fork(self) -> ChatSession: ...  # same sources and model, empty conversation

    def close(self) -> None: ...


#: Members of :class:`ChatSession`, for the test that holds ``Loop`` to it.
MEMBERS: tuple[str, ...] = (
    "model",
    "auto_accept",
    "sources",
    "enabled_sources",
    "selection",
    "scope",
    "history",
    "queue",
    "models",
    "subscribe",
    "submit",
    "ask",
    "interrupt",
    "edit",
    "pending",
    "confirm",
    "cancel",
    "scope_trace",
    "fork",
    "close",
)
