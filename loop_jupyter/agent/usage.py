"""What one answer cost: tokens summed over its model calls, the context window it filled, and a price.

    answer.usage.input_tokens, answer.usage.cost_usd, answer.usage.line()
    # '12.3k in · 0.8k out · 9k cached · 6% of 200k · $0.04'

Tokens are the provider's own counts (``usage`` in each API response), summed over the model calls
of one run; ``input_tokens`` counts every input token sent, cached ones included, and
``cache_read_tokens`` / ``cache_creation_tokens`` say how many of them were read from or written to
the provider's prompt cache. The context figure is the largest request of the run (its input plus
its output) against the model's window: how full the window got. The offline planner calls no
model: its usage is all zeros, with no window and no cost (None), never an estimate.

Prices (:data:`PRICES`, US dollars per million tokens) and context windows (:data:`CONTEXT_WINDOWS`)
are the providers' published list prices for the models in :data:`~.model_config.MODEL_TABLE` as
of late 2025; a model not listed has no cost (None), not a guess. Override or add entries in the
config file (``loop_jupyter.paths``)::

    [prices."claude-4.5-sonnet"]     # USD per million tokens
    input = 3.0
    output = 15.0
    cache_read = 0.3
    cache_write = 3.75
    [context_windows]
    "claude-4.5-sonnet" = 200000
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .model_turn import Usage

#: USD per million tokens: input, output, cache read, cache write (5-minute cache). By API model id.
PRICES: dict[str, dict[str, float]] = {
    "claude-sonnet-4-5": {"input": 3.0, "output": 15.0, "cache_read": 0.30, "cache_write": 3.75},
    "claude-sonnet-4-0": {"input": 3.0, "output": 15.0, "cache_read": 0.30, "cache_write": 3.75},
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0, "cache_read": 0.10, "cache_write": 1.25},
    "claude-opus-4-5": {"input": 5.0, "output": 25.0, "cache_read": 0.50, "cache_write": 6.25},
    "claude-opus-4-1": {"input": 15.0, "output": 75.0, "cache_read": 1.50, "cache_write": 18.75},
    # OpenAI bills cached input at a tenth and charges nothing extra for writing the cache.
    "gpt-5.1": {"input": 1.25, "output": 10.0, "cache_read": 0.125, "cache_write": 1.25},
}

#: Context window in tokens, by API model id (the standard window, not a beta extension).
CONTEXT_WINDOWS: dict[str, int] = {
    "claude-sonnet-4-5": 200_000,
    "claude-sonnet-4-0": 200_000,
    "claude-haiku-4-5": 200_000,
    "claude-opus-4-5": 200_000,
    "claude-opus-4-1": 200_000,
    "gpt-5.1": 400_000,
}


def _configured(section: str) -> dict[str, Any]:
    from .model_config import load_config

    try:
        value = load_config().get(section) or {}
    except Exception:  # a broken config file is reported where models are resolved, not here
        return {}
    return value if isinstance(value, dict) else {}


def _lookup(table: dict[str, Any], section: str, names: tuple[str, ...]) -> Any:
    configured = _configured(section)
    for name in names:
        if name and name in configured:
            return configured[name]
    for name in names:
        if name and name in table:
            return table[name]
    return None


def _api_id(name: str) -> str:
    from .model_config import model_table

    try:
        return model_table().get(name, ("", ""))[1]
    except Exception:
        return ""


def price_of(model: str, api_id: str = "") -> dict[str, float] | None:
    """USD per million tokens for a display name or API id (config first), or None when unknown."""
    entry = _lookup(PRICES, "prices", (model, api_id or _api_id(model)))
    if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
        return None
    return {k: float(v) for k, v in entry.items() if isinstance(v, int | float)}


def context_window_of(model: str, api_id: str = "") -> int | None:
    """The model's context window in tokens (config first), or None when unknown."""
    value = _lookup(CONTEXT_WINDOWS, "context_windows", (model, api_id or _api_id(model)))
    return int(value) if isinstance(value, int | float) and value > 0 else None


def short(n: float) -> str:
    """12345 -> '12.3k', 800 -> '0.8k', 56 -> '56', 200000 -> '200k', 1_000_000 -> '1M'."""
    if n >= 999_950:
        text = f"{n / 1_000_000:.1f}".removesuffix(".0")
        return f"{text}M"
    if n >= 100:
        text = f"{n / 1_000:.1f}".removesuffix(".0")
        return f"{text}k"
    return f"{int(n)}"


@dataclass
class AnswerUsage:
    """Token usage and cost of one answer (see the module docstring)."""

    model: str = ""
    #: Model calls made (0 offline).
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    #: The largest single request (input + output): how full the context window got.
    context_tokens: int = 0
    context_window: int | None = None
    #: US dollars at the list price, None when the price is unknown (or offline: no model was called).
    cost_usd: float | None = None

    @classmethod
    def for_model(cls, model: str, api_id: str = "", *, offline: bool = False) -> AnswerUsage:
        if offline:
            return cls(model=model)
        return cls(model=model, context_window=context_window_of(model, api_id), cost_usd=None)

    def add(self, usage: Usage, *, api_id: str = "") -> None:
        """Count one model call's reported usage in."""
        self.requests += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_creation_tokens += usage.cache_creation_tokens
        self.context_tokens = max(self.context_tokens, usage.input_tokens + usage.output_tokens)
        price = price_of(self.model, api_id)
        if price is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost(usage, price)

    @property
    def context_percent(self) -> float | None:
        if not self.context_window or not self.requests:
            return None
        return 100.0 * self.context_tokens / self.context_window

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "context_percent": self.context_percent, "line": self.line()}

    def line(self) -> str:
        """The chat's context line: '12.3k in · 0.8k out · 9k cached · 6% of 200k · $0.04'."""
        if not self.requests:
            return "no model calls (offline planner)" if self.model == "offline" else "no model calls"
        parts = [f"{short(self.input_tokens)} in", f"{short(self.output_tokens)} out"]
        if self.cache_read_tokens:
            parts.append(f"{short(self.cache_read_tokens)} cached")
        percent = self.context_percent
        if percent is not None and self.context_window:
            shown = f"{percent:.0f}" if percent >= 1 else "<1"
            parts.append(f"{shown}% of {short(self.context_window)}")
        if self.cost_usd is not None:
            parts.append(f"${self.cost_usd:.2f}" if self.cost_usd >= 0.01 else f"${self.cost_usd:.4f}")
        return " · ".join(parts)


def cost(usage: Usage, price: dict[str, float]) -> float:
    """US dollars for one call: uncached input, cache reads and writes, and output at their rates."""
    read = usage.cache_read_tokens
    write = usage.cache_creation_tokens
    plain = max(0, usage.input_tokens - read - write)
    dollars = (
        plain * price["input"]
        + read * price.get("cache_read", price["input"])
        + write * price.get("cache_write", price["input"])
        + usage.output_tokens * price["output"]
    )
    return dollars / 1_000_000


__all__ = ["CONTEXT_WINDOWS", "PRICES", "AnswerUsage", "context_window_of", "cost", "price_of", "short"]
