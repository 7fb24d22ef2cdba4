"""Python literals for the code that tools hand back ("Reproduce" cells).

Values in a snippet come from a model (ids, fields, names, queries, paths) and a model can be steered by
log text, so a value is never pasted into code: it goes through :func:`literal`, which writes a Python
literal that evaluates back to the same value (strings with ``repr``: quotes, backslashes, newlines,
NUL, line separators and lone surrogates all come out escaped). Numbers a model sent as text stay text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any


def literal(value: Any) -> str:
    """A Python expression that evaluates to ``value`` (str, number, bool, None, path, list, tuple, dict).

    Anything else is written as the literal of its ``str()``: never its own ``repr``, which a subclass
    could override.
    """
    if value is None or isinstance(value, bool):
        return "True" if value is True else "False" if value is False else "None"
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        number = float(value)
        return repr(number) if math.isfinite(number) else f"float({str(number)!r})"
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, PurePath):
        return repr(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(str(value))


def keyword_args(values: Mapping[str, Any]) -> str:
    """``k=<literal>, ...`` for the values that are not None (keys are the code's own parameter names)."""
    for key in values:
        if not key.isidentifier():
            raise ValueError(f"not a parameter name: {key!r}")
    return ", ".join(f"{key}={literal(value)}" for key, value in values.items() if value is not None)


__all__ = ["keyword_args", "literal"]
