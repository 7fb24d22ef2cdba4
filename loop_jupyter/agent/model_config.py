"""Model configuration: display names → API ids in one table, the admin allow-list, and resolving a name.

Configuration (all optional) is described in :mod:`.models`, which re-exports every public name here.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import model_policy as policy
from .model_errors import ModelError

Provider = Literal["anthropic", "openai", "openai-compatible", "offline"]

#: Display name -> (provider, API model id). The one table; override entries here or in the config.
MODEL_TABLE: dict[str, tuple[Provider, str]] = {
    "claude-4.5-sonnet": ("anthropic", "claude-sonnet-4-5"),
    "claude-4.5-haiku": ("anthropic", "claude-haiku-4-5"),
    "claude-4.5-opus": ("anthropic", "claude-opus-4-5"),
    "claude-4-sonnet": ("anthropic", "claude-sonnet-4-0"),
    "claude-4.1-opus": ("anthropic", "claude-opus-4-1"),
    # Newer models the SDKs list, so a retired default has a successor to pick by name.
    "claude-4.6-sonnet": ("anthropic", "claude-sonnet-4-6"),
    "claude-4.6-opus": ("anthropic", "claude-opus-4-6"),
    "claude-5-sonnet": ("anthropic", "claude-sonnet-5"),
    "claude-5-opus": ("anthropic", "claude-opus-5"),
    "claude-5.5-sonnet": ("anthropic", "claude-sonnet-5-5"),
    "claude-5.5-opus": ("anthropic", "claude-opus-5-5"),
    "claude-5.5-haiku": ("anthropic", "claude-haiku-5-5"),
    "gpt-5.1": ("openai", "gpt-5.1"),
    "gpt-5.2": ("openai", "gpt-5.2"),
    "gpt-5.4": ("openai", "gpt-5.4"),
    "gpt-5.5": ("openai", "gpt-5.5"),
    "offline": ("offline", "offline"),
}
RECOMMENDED = "claude-4.5-sonnet"
OFFLINE = "offline"
DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT_S = 120.0
MAX_OUTPUT_TOKENS = 4096


# -- configuration -----------------------------------------------------------------------------------
def config_path() -> Path:
    from ..paths import config_path as platform_config_path

    return platform_config_path()


def load_config() -> dict[str, Any]:
    """The TOML config, or {} when there is none."""
    path = config_path()
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def model_table() -> dict[str, tuple[Provider, str]]:
    table = dict(MODEL_TABLE)
    for name, api_id in (load_config().get("model_ids") or {}).items():
        provider = table.get(name, ("openai-compatible", api_id))[0]
        table[name] = (provider, str(api_id))
    return table


def allow_list() -> list[str] | None:
    """The admin's allow-list (env wins over the config file), or None when unrestricted."""
    env = os.environ.get("LOOP_JUPYTER_MODELS")
    if env is not None and env.strip():
        return [name.strip() for name in env.split(",") if name.strip()]
    models = load_config().get("models")
    return [str(m) for m in models] if models else None


def _allow_list_source() -> str:
    env = os.environ.get("LOOP_JUPYTER_MODELS")
    return "LOOP_JUPYTER_MODELS" if env is not None and env.strip() else f"models in {config_path()}"


def available_models() -> list[str]:
    """Model specs the user may pick: the allow-list (or every known model), ``offline`` always last.
    Wildcard entries (``openai-compatible:*@<url>``) allow specs but are no pickable name."""
    allowed = allow_list()
    names = list(model_table()) if allowed is None else policy.pickable(allowed)
    names = [n for n in names if n != OFFLINE]
    return [*names, OFFLINE]


def is_allowed(name: str, *, base_url: str | None = None) -> bool:
    """Whether the admin's allow-list admits ``name`` (a display name or a compatible spec)."""
    allowed = allow_list()
    if name == OFFLINE or allowed is None:
        return True
    try:
        return policy.allowed_by(allowed, name, base_url=base_url)
    except policy.PolicyError:
        return False


def default_model() -> str:
    """The config's default, else the recommended model when its key is set, else offline."""
    configured = load_config().get("default_model")
    if configured and is_allowed(configured):
        return str(configured)
    candidates = [n for n in available_models() if n != OFFLINE]
    if os.environ.get("ANTHROPIC_API_KEY"):
        for name in [RECOMMENDED, *candidates]:
            if is_allowed(name) and model_table().get(name, ("",))[0] == "anthropic":
                return name
    if os.environ.get("OPENAI_API_KEY"):
        for name in candidates:
            if model_table().get(name, ("",))[0] == "openai":
                return name
    return OFFLINE


@dataclass(frozen=True)
class ModelRef:
    name: str
    provider: Provider
    api_id: str
    base_url: str | None = None


def resolve(name: str | None, *, base_url: str | None = None) -> ModelRef:
    """A display name (or ``openai-compatible:<model>@<url>``) → provider, API id and base URL."""
    name = name or default_model()
    try:
        if base_url is not None:
            policy.check_base_url(base_url)
        if name.startswith(policy.COMPATIBLE_PREFIX):
            spec = policy.parse_compatible(name, base_url=base_url)
            if not is_allowed(name, base_url=base_url):
                raise policy.refusal(name, allow_list() or [], _allow_list_source())
            return ModelRef(name, "openai-compatible", spec.model, spec.url)
    except policy.PolicyError as exc:
        raise ModelError(str(exc), kind=exc.kind) from None
    table = model_table()
    if name not in table:
        raise ModelError(f"unknown model {name!r}; choose one of: {', '.join(available_models())}", kind="config")
    if not is_allowed(name):
        raise ModelError(str(policy.refusal(name, allow_list() or [], _allow_list_source())), kind="refused")
    provider, api_id = table[name]
    return ModelRef(name, provider, api_id, base_url)
