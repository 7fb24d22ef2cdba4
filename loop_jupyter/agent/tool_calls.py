"""How a Loop session runs the tool calls a model (or the offline planner) asks for, and holds
actions with side effects until the person confirms them.

:class:`ToolCalls` is a mixin of :class:`~loop_jupyter.agent.session.Loop`: arguments are validated
against the tool's signature before it runs, every failure becomes an error result the model can
read, every call gets a result (even when interrupted), and a :class:`~loop_jupyter.artifacts.Pending`
action only runs on :meth:`ToolCalls.confirm` (or at once when the *user* set ``auto_accept``).
"""

from __future__ import annotations

import logging
import threading

from ..artifacts import Artifact, Pending, ToolResult
from ..engine import QueryError
from ..tools import ToolArgumentError, ToolContext, ToolSpec, model_call
from .answer import Answer
from .budget import tool_result_for_model
from .conversation import Conversation, Message
from .events import Event
from .models import ToolCall
from .runlog import RunLog
from .scoped_code import scope_code

log = logging.getLogger("loop_jupyter.agent.session")


class ToolCalls:
    """Tool execution and confirmations for :class:`~loop_jupyter.agent.session.Loop`."""

    # Set by Loop.__init__.
    auto_accept: bool
    _conversation: Conversation
    _interrupt: threading.Event
    _pending: dict[str, tuple[str, Pending]]
    run_log: RunLog | None

    def _emit(self, event: Event) -> None:  # pragma: no cover - Loop provides it
        raise NotImplementedError

    def pending(self) -> list[Pending]:
        return [p for _, p in self._pending.values() if p.status == "pending"]

    def confirm(self, action_id: str) -> list[Artifact]:
        """Run a pending action; returns (and emits) the artifacts it produced."""
        return self._confirm(action_id, emit=True)

    def _confirm(self, action_id: str, *, emit: bool) -> list[Artifact]:
        run_id, pending = self._pending[action_id]
        if pending.status != "pending":
            return []
        artifacts = list(pending.action() or [])
        pending.status = "confirmed"
        if self.run_log is not None:
            self.run_log.action(run_id, action_id, pending.description, "confirmed", len(artifacts))
        self._conversation.append(
            Message("artifact", f"confirmed: {pending.description}", run_id, {"action_id": action_id}, artifacts)
        )
        for artifact in artifacts if emit else []:
            self._emit(Event("artifact", run_id, {"artifact": artifact, "json": artifact.to_json()}))
        return artifacts

    def cancel(self, action_id: str) -> None:
        run_id, pending = self._pending[action_id]
        if pending.status == "pending":
            pending.status = "cancelled"
            if self.run_log is not None:
                self.run_log.action(run_id, action_id, pending.description, "cancelled")

    # -- running tool calls ------------------------------------------------------------------------
    def _run_tools(
        self,
        run_id: str,
        calls: list[ToolCall],
        ctx: ToolContext,
        specs: dict[str, ToolSpec],
        answer: Answer,
    ) -> None:
        for call in calls:
            if self._interrupt.is_set():
                # Keep the exchange well-formed: every call gets a result, even unrun ones.
                self._record_result(run_id, call, ToolResult("(not run: the user interrupted)", is_error=True))
                continue
            self._emit(Event("tool_started", run_id, {"id": call.id, "name": call.name, "input": call.input}))
            answer.tool_calls.append({"name": call.name, "input": call.input})
            with model_call():  # the arguments are the model's (or the planner's): tools may refuse some
                result = self._execute(call, ctx, specs)
            if self.scope and ctx.unscoped is not None and ctx.unscoped.source is None:
                scope_code(result.artifacts, self.scope)  # logs in memory: the code reads the one trace too
            spec = specs.get(call.name)
            for artifact in list(result.artifacts):
                if isinstance(artifact, Pending):
                    result = self._hold(run_id, artifact, result, side_effects=bool(spec and spec.side_effects))
            model_text = self._record_result(run_id, call, result)
            for artifact in result.artifacts:
                answer.artifacts.append(artifact)
                if isinstance(artifact, Pending):
                    if artifact.status == "pending":
                        self._emit(
                            Event(
                                "confirmation",
                                run_id,
                                {
                                    "action_id": artifact.action_id,
                                    "description": artifact.description,
                                    "preview": artifact.preview,
                                    "artifact": artifact,
                                    "json": artifact.to_json(),
                                },
                            )
                        )
                    continue
                self._emit(Event("artifact", run_id, {"artifact": artifact, "json": artifact.to_json()}))
            self._emit(
                Event(
                    "tool_finished",
                    run_id,
                    {
                        "id": call.id,
                        "name": call.name,
                        "is_error": result.is_error,
                        "text": model_text,
                        "artifacts": len(result.artifacts),
                    },
                )
            )

    def _hold(self, run_id: str, pending: Pending, result: ToolResult, *, side_effects: bool) -> ToolResult:
        """Register a pending action; run it now only when the user turned auto-accept on."""
        self._pending[pending.action_id] = (run_id, pending)
        if self.auto_accept:
            # Not emitted here: they join the tool's artifacts, which the run emits once each.
            produced = self._confirm(pending.action_id, emit=False)
            note = f"\n(Auto-accepted by the person's setting: {pending.description} was done.)"
            return ToolResult(result.text + note, result.artifacts + produced, result.is_error)
        note = (
            f"\n(Proposed action {pending.action_id} is waiting for the person's confirmation; "
            "it has NOT been executed.)"
        )
        return ToolResult(result.text + note, result.artifacts, result.is_error)

    def _record_result(self, run_id: str, call: ToolCall, result: ToolResult) -> str:
        model_text = tool_result_for_model(call.name, result)
        self._conversation.append(
            Message(
                "tool_result",
                result.text,
                run_id,
                {
                    "id": call.id,
                    "name": call.name,
                    "input": call.input,
                    "is_error": result.is_error,
                    "model_text": model_text,
                },
                list(result.artifacts),
            )
        )
        return model_text

    def _execute(self, call: ToolCall, ctx: ToolContext, specs: dict[str, ToolSpec]) -> ToolResult:
        spec = specs.get(call.name)
        if spec is None:
            return ToolResult(
                f"Unknown tool {call.name!r}. Available tools: {', '.join(sorted(specs))}.", is_error=True
            )
        if call.error:
            return ToolResult(
                f"Invalid arguments for {call.name}: {call.error}. Call it again with a JSON object matching its "
                "schema.",
                is_error=True,
            )
        try:  # types checked against the signature: no "5" or True reaches an int parameter
            arguments = spec.validate(call.input)
        except ToolArgumentError as exc:
            return ToolResult(str(exc), is_error=True)
        try:
            result = spec.function(ctx, **arguments)
        except QueryError as exc:
            return ToolResult(f"Query error: {exc.reason}", is_error=True)
        except (TypeError, ValueError) as exc:
            return ToolResult(f"{call.name} rejected its arguments: {exc}", is_error=True)
        except Exception as exc:
            log.exception("tool %s failed", call.name)
            return ToolResult(f"{call.name} failed: {type(exc).__name__}: {exc}", is_error=True)
        if not isinstance(result, ToolResult):
            result = ToolResult(str(result))
        return result


__all__ = ["ToolCalls"]
