"""Which models the chat's picker offers as usable here, and how to enable the others.

A cloud model without its key used to be offered like any other and then failed with the SDK's own
error. The picker now lists usable models first and the rest disabled, each with the one step that
enables it (the key variable to set in the kernel's environment).
"""

from __future__ import annotations

from typing import Any

from ..agent.model_policy import provider_key
from ..agent.models import OFFLINE, model_table

#: The environment variable each provider's key comes from.
KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def model_choices(names: list[str], *, session_key: str | None = None, injected: str | None = None) -> list[dict[str, Any]]:
    """``{name, usable, hint}`` per model name, usable ones first (in their order), ``offline`` usable.

    ``session_key`` is a key given to the session itself (``Loop(api_key=...)``); ``injected`` the
    name of a client the session was given (a test double, a custom client): both make a model usable.
    """
    table = model_table()
    out = []
    for name in names:
        provider = table.get(name, ("openai-compatible", name))[0]
        if name == OFFLINE:
            usable, hint = True, "Offline planner: no model calls, nothing leaves this machine."
        elif name == injected:
            usable, hint = True, "The client this session was given."
        elif provider in KEY_ENV:
            usable = provider_key(provider, session_key) is not None
            hint = (
                f"Uses {KEY_ENV[provider]}."
                if usable
                else f"Needs a key: set {KEY_ENV[provider]} in the kernel's environment or pass Loop(api_key=...)"
            )
        else:  # an OpenAI-compatible server the admin configured: the key is optional
            usable, hint = True, "An OpenAI-compatible server configured by the admin."
        out.append({"name": name, "usable": usable, "hint": hint})
    return sorted(out, key=lambda c: not c["usable"])

