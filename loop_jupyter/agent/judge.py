"""The session's model as tools see it (``ToolContext.llm``): a prompt in, text out, and for
LLM-as-judge scorers a structured choice.

A judge's letter is never read out of free text (in "The output is a refusal. Answer: C" a regex for
a lone capital letter finds the "A" of "a refusal"). As autoevals' classifier does, the model is
made to call one tool, ``select_choice``, whose ``choice`` parameter is an enum of the letters;
with the Anthropic and OpenAI SDKs the call is forced (``tool_choice``), so the reply *is* the
structured choice. Other clients get the tool offered and must call it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .models import AnthropicClient, ChatClient, ModelError, OpenAIClient, Usage

SYSTEM = "You are a careful assistant."
JUDGE_SYSTEM = (
    "You are a careful grader. Read the request, give your reasons briefly, then choose exactly one "
    "option by calling the select_choice tool."
)
TOOL_NAME = "select_choice"
#: Room for the reasons and the tool call; the choice itself is one token.
JUDGE_MAX_TOKENS = 1024


def choice_tool(choices: list[str]) -> dict[str, Any]:
    """The provider-neutral tool definition: reasons first (a short chain of thought), then the choice."""
    return {
        "name": TOOL_NAME,
        "description": "Record your grade: the letter of the one option that applies.",
        "input_schema": {
            "type": "object",
            "properties": {
                "reasons": {"type": "string", "description": "Why this option, in one or two sentences."},
                "choice": {"type": "string", "enum": list(choices), "description": "The option's letter."},
            },
            "required": ["reasons", "choice"],
        },
    }


class JudgeError(ValueError):
    """The judge's reply held no valid choice."""


@contextmanager
def _sdk_errors(api_error: type[Exception], label: str) -> Iterator[None]:
    """An SDK error (after the SDK's own retries) as a ModelError naming the provider."""
    try:
        yield
    except api_error as exc:
        status = getattr(exc, "status_code", None)
        message = getattr(exc, "message", None) or str(exc)
        raise ModelError(f"{label} error{f' ({status})' if status else ''}: {message}", status=status) from exc


def _checked(arguments: Any, choices: list[str], where: str) -> str:
    if not isinstance(arguments, dict) or "choice" not in arguments:
        raise JudgeError(f"the judge's {where} call had no choice: {json.dumps(arguments)[:200]}")
    choice = arguments["choice"]
    if choice not in choices:
        raise JudgeError(f"the judge chose {choice!r}, not one of {', '.join(choices)}")
    return choice


class SessionModel:
    """``ctx.llm`` for a session's chat client: ``llm(prompt)`` is the model's text;
    ``llm.choose(prompt, choices)`` the letter it picked through the ``select_choice`` tool."""

    def __init__(self, client: ChatClient, on_usage: Callable[[Usage], None] | None = None) -> None:
        self.client = client
        #: Told each call's reported usage (the session counts the judge's calls into answer.usage).
        self.on_usage = on_usage

    def _report(self, usage: Usage) -> None:
        if self.on_usage is not None:
            self.on_usage(usage)

    def __call__(self, prompt: str) -> str:
        turn = self.client.complete(SYSTEM, [{"role": "user", "content": prompt}], [])
        self._report(turn.usage)
        return turn.text

    def choose(self, prompt: str, choices: list[str]) -> str:
        tool = choice_tool(choices)
        client = self.client
        # The SDK clients are called directly, to force the tool call (tool_choice).
        if isinstance(client, AnthropicClient) and getattr(client, "_client", None) is not None:
            return self._anthropic(client, prompt, tool, choices, self._report)
        if isinstance(client, OpenAIClient) and getattr(client, "_client", None) is not None:
            return self._openai(client, prompt, tool, choices, self._report)
        # Any other chat client: offer the one tool; a reply without the call is no choice.
        turn = client.complete(JUDGE_SYSTEM, [{"role": "user", "content": prompt}], [tool])
        self._report(turn.usage)
        calls = [c for c in turn.tool_calls if c.name == TOOL_NAME]
        if not calls:
            raise JudgeError(f"the judge answered without calling {TOOL_NAME}: {turn.text[:200]!r}")
        if calls[0].error:
            raise JudgeError(f"the judge's {TOOL_NAME} arguments were invalid: {calls[0].error}")
        return _checked(calls[0].input, choices, TOOL_NAME)

    @staticmethod
    def _anthropic(
        client: AnthropicClient, prompt: str, tool: dict[str, Any], choices: list[str], report: Callable[[Usage], None]
    ) -> str:
        import anthropic

        with _sdk_errors(anthropic.APIError, "Anthropic"):
            message = client._client.messages.create(
                model=client.model,
                max_tokens=JUDGE_MAX_TOKENS,
                system=JUDGE_SYSTEM,
                messages=[{"role": "user", "content": prompt}],
                tools=[tool],
                tool_choice={"type": "tool", "name": TOOL_NAME},
            )
        report(_anthropic_usage(getattr(message, "usage", None)))
        for block in message.content:
            if block.type == "tool_use" and block.name == TOOL_NAME:
                return _checked(block.input, choices, TOOL_NAME)
        raise JudgeError(f"the judge answered without calling {TOOL_NAME}")

    @staticmethod
    def _openai(
        client: OpenAIClient, prompt: str, tool: dict[str, Any], choices: list[str], report: Callable[[Usage], None]
    ) -> str:
        import openai

        label = "OpenAI" if getattr(client, "provider", "openai") == "openai" else "The model server"
        with _sdk_errors(openai.APIError, label):
            response = client._client.chat.completions.create(
                model=client.model,
                messages=[{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}],
                tools=OpenAIClient.to_tools([tool]),
                tool_choice={"type": "function", "function": {"name": TOOL_NAME}},
            )
        usage = getattr(response, "usage", None)
        if usage is not None:
            details = getattr(usage, "prompt_tokens_details", None)
            cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
            report(Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0, cached))
        message = response.choices[0].message if response.choices else None
        for call in (message.tool_calls if message is not None else None) or []:
            if call.function.name == TOOL_NAME:
                try:
                    arguments = json.loads(call.function.arguments or "")
                except json.JSONDecodeError as exc:
                    raise JudgeError(f"the judge's {TOOL_NAME} arguments are not JSON: {exc.msg}") from exc
                return _checked(arguments, choices, TOOL_NAME)
        raise JudgeError(f"the judge answered without calling {TOOL_NAME}")


def _anthropic_usage(usage: Any) -> Usage:
    """A Messages API usage as a :class:`Usage` (cached prefix tokens counted in the input)."""
    if usage is None:
        return Usage()
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    write = getattr(usage, "cache_creation_input_tokens", None) or 0
    return Usage((usage.input_tokens or 0) + read + write, usage.output_tokens or 0, read, write)


__all__ = ["JudgeError", "SessionModel", "choice_tool"]
