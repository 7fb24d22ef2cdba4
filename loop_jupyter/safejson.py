"""JSON parsing for hostile log text: nothing aborts a file, nothing changes without a word.

Plain ``json`` and ``orjson`` each fail log files differently: a lone surrogate escape (``"\\ud83d"``,
half an emoji cut off by a truncating client) parses in the stdlib and later aborts Arrow/Polars
with ``UnicodeEncodeError``; ``NaN`` and ``±Infinity`` parse in the stdlib and silently become
null on the way out; duplicate keys keep the last value silently; very deep nesting raises
``RecursionError``. :func:`loads_checked` parses with the stdlib (exact big integers too) and
returns the value made safe plus one sentence per change, naming the field:

- a lone surrogate is replaced by U+FFFD (the rest of the string is kept);
- ``NaN``/``Infinity``/``-Infinity`` become null;
- of duplicate keys the last value is kept (as every JSON library does) and the key is named;
- nesting too deep for the parser is a ``ValueError`` (the line is reported, not the file lost).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")
#: At most this many problems are described per value (then "and N more").
MAX_PROBLEMS = 20


class _NonFinite:
    """Stands in for NaN/Infinity while parsing so the walk can name where each one was."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _has_surrogate_escape(data: str | bytes) -> bool:
    if isinstance(data, bytes | bytearray):
        return _SURROGATE_ESCAPE_BYTES.search(data) is not None
    return _SURROGATE_ESCAPE.search(data) is not None or SURROGATE.search(data) is not None


def _path(parts: tuple[object, ...]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = SURROGATE.sub("\ufffd", str(part))
            key = key if len(key) <= 40 else key[:37] + "..."
            text += ("." if text else "") + key if key.isidentifier() else f"[{key!r}]"
    return text or "the top level"


def _parse(data: str | bytes, duplicates: dict[int, tuple[dict, list[str]]], flags: dict[str, bool]) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            repeated = []
            for key, _ in items:
                if key in seen and key not in repeated:
                    repeated.append(key)
                seen.add(key)
            duplicates[id(obj)] = (obj, repeated)  # holding obj keeps its id from being reused
            flags["walk"] = True
        return obj

    def constant(name: str) -> _NonFinite:
        flags["walk"] = True
        return _NonFinite(name)

    try:
        return json.loads(data, object_pairs_hook=pairs, parse_constant=constant)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply to parse") from exc


def loads_checked(data: str | bytes) -> tuple[Any, list[str]]:
    """Parse JSON text; return ``(value, problems)`` where each problem names a changed field.

    Raises ValueError for text that is not JSON (including nesting too deep to parse).
    """
    duplicates: dict[int, tuple[dict, list[str]]] = {}
    flags = {"walk": _has_surrogate_escape(data)}
    value = _parse(data, duplicates, flags)
    if not flags["walk"]:
        return value, []
    return _repair(value, duplicates)


def loads(data: str | bytes) -> Any:
    """Parse JSON text fast (orjson), exactly (big integers) and safely (the repairs of
    :func:`loads_checked`, unreported). Raises ValueError for text that is not JSON."""
    pattern = _LONG_DIGITS_BYTES if isinstance(data, bytes | bytearray) else _LONG_DIGITS
    if not pattern.search(data):  # type: ignore[arg-type]
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:  # orjson rejects lone surrogates, NaN and Infinity: what it returns is safe
            return value
    return loads_checked(data)[0]


def _repair(value: Any, duplicates: dict[int, tuple[dict, list[str]]]) -> tuple[Any, list[str]]:
    """Replace stand-ins and lone surrogates, iteratively (any depth), describing each change."""
    problems: list[str] = []
    count = 0

    def note(text: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(text)

    def fix(item: Any, parts: tuple[object, ...]) -> Any:
        if isinstance(item, _NonFinite):
            note(f"{item.name} at {_path(parts)} loaded as null (not valid JSON)")
            return None
        if isinstance(item, str) and SURROGATE.search(item):
            note(f"lone surrogate in {_path(parts)} replaced by U+FFFD")
            return SURROGATE.sub("\ufffd", item)
        return item

    root = fix(value, ())
    stack: list[tuple[Any, tuple[object, ...]]] = [(root, ())]
    while stack:
        container, parts = stack.pop()
        if isinstance(container, dict):
            held, repeated = duplicates.get(id(container), (None, []))
            for key in repeated if held is container else []:
                shown = SURROGATE.sub("\ufffd", key)
                note(f"duplicate key {shown!r} in {_path(parts)}: the last value kept")
            if any(isinstance(k, str) and SURROGATE.search(k) for k in container):
                items = list(container.items())
                container.clear()
                for key, item in items:
                    if SURROGATE.search(key):
                        note(f"lone surrogate in key {_path((*parts, key))} replaced by U+FFFD")
                        key = SURROGATE.sub("\ufffd", key)
                    container[key] = item
            for key, item in container.items():
                fixed = fix(item, (*parts, key))
                if fixed is not item:
                    container[key] = fixed
                if isinstance(fixed, dict | list):
                    stack.append((fixed, (*parts, key)))
        elif isinstance(container, list):
            for index, item in enumerate(container):
                fixed = fix(item, (*parts, index))
                if fixed is not item:
                    container[index] = fixed
                if isinstance(fixed, dict | list):
                    stack.append((fixed, (*parts, index)))
    if count > len(problems):
        problems.append(f"and {count - len(problems)} more")
    return root, problems
