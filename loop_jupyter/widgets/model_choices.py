"""Which models the chat's picker offers as usable here, and how to enable the others.

A cloud model without its key used to be offered like any other and then failed with the SDK's own
error. The picker now lists usable models first and the rest disabled, each with the one step that
enables it (the key variable to set in the kernel's environment).
"""

from __future__ import annotations

from ..agent.model_policy import provider_key
from ..agent.models import OFFLINE, model_table

#: The environment variable each provider's key comes from.
KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def locked_models(
    names: list[str], *, session_key: str | None = None, injected: str | None = None
) -> dict[str, list[str]]:
    """The models that cannot run here, by the key variable that would enable them (small: synced).

    ``offline`` and OpenAI-compatible servers (the key is optional) always run; so does the client
    the session was given (``injected``, its name). ``session_key`` is ``Loop(api_key=...)``.
    """
    table = model_table()
    locked: dict[str, list[str]] = {}
    for name in names:
        provider = table.get(name, ("openai-compatible", name))[0]
        if name in (OFFLINE, injected) or provider not in KEY_ENV:
            continue
        if provider_key(provider, session_key) is None:
            locked.setdefault(KEY_ENV[provider], []).append(name)
    return locked
