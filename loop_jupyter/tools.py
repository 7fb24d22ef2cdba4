"""The tool registry: a tool is one typed Python function, its JSON schema read from its signature
and docstring.

    @tool
    def common_errors(ctx: ToolContext, limit: int = 20) -> ToolResult:
        '''Group errors by normalised message.

        Args:
            limit: how many groups to return.
        '''

The same function is the Python API: ``common_errors(frame, limit=5)`` wraps the frame in a
:class:`ToolContext`. A tool with side effects is declared ``@tool(side_effects=True)`` and must
return a :class:`~loop_jupyter.artifacts.Pending` artifact instead of acting.

``phrases`` are the regular expressions the offline planner uses to route a question to the tool;
the planner fills parameters it can extract (``where``, ``threshold_s``, ``limit``, ...) by name.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import polars as pl

from .artifacts import ToolResult

if typing.TYPE_CHECKING:
    from .engine import LogEngine


@dataclass
class ToolContext:
    """What a tool may use: the data sources the user allowed, the SQL engine, where files go."""

    logs: pl.DataFrame
    sources: dict[str, pl.DataFrame] = field(default_factory=dict)
    workdir: Path = field(default_factory=Path.cwd)
    #: Completes a prompt with the session's model (LLM-as-judge, naming clusters); None offline.
    llm: Callable[[str], str] | None = None
    #: Root span ids the user selected in the trace explorer.
    selection: list[str] = field(default_factory=list)
    #: Per-session caches (embedding indexes and the like), keyed by the tool that owns them.
    cache: dict[str, Any] = field(default_factory=dict)
    _engine: LogEngine | None = None

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)  # a str from a notebook works too

    @property
    def engine(self) -> LogEngine:
        if self._engine is None:
            from .engine import LogEngine

            self._engine = LogEngine(self.logs, sources=self.sources)
        return self._engine

    @property
    def datasets_dir(self) -> Path:
        return self.workdir / "loop_datasets"

    @property
    def scorers_dir(self) -> Path:
        return self.workdir / "loop_scorers"


#: Who is calling a tool right now (per thread): "model" inside the agent loop, "user" otherwise.
_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("loop_jupyter_tool_caller", default="user")


@contextmanager
def model_call() -> Iterator[None]:
    """Mark the tool calls made in this block as the model's (the agent loop wraps every call a
    model or the offline planner asks for). A tool that trusts its caller's arguments (a file path)
    refuses them when :func:`called_by_model` is true; from Python the notebook user is trusted."""
    token = _CALLER.set("model")
    try:
        yield
    finally:
        _CALLER.reset(token)


def called_by_model() -> bool:
    """True inside :func:`model_call`: the arguments were chosen by a model, which log text can steer."""
    return _CALLER.get() == "model"


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., ToolResult]
    side_effects: bool = False
    #: Regular expressions (case-insensitive) for the questions the offline planner routes here.
    phrases: tuple[str, ...] = ()

    def json_schema(self) -> dict[str, Any]:
        """The provider-neutral tool definition (name, description, input_schema)."""
        return {"name": self.name, "description": self.description, "input_schema": self.parameters}


REGISTRY: dict[str, ToolSpec] = {}


def _json_type(annotation: Any) -> dict[str, Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _json_type(options[0]) if len(options) == 1 else {"anyOf": [_json_type(a) for a in options]}
    if origin is Literal:
        values = list(get_args(annotation))
        return {"type": "string" if all(isinstance(v, str) for v in values) else "number", "enum": values}
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        args = get_args(annotation)
        return {"type": "array", "items": _json_type(args[0]) if args else {}}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in simple:
        return {"type": simple[annotation]}
    return {}


def _doc_parts(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its description and ``Args:`` entries."""
    doc = inspect.cleandoc(doc or "")
    description, _, args_block = doc.partition("\nArgs:\n")
    params: dict[str, str] = {}
    current = ""
    for line in args_block.splitlines():
        match = re.match(r"\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.*)", line)
        if match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current and line.strip() and not re.match(r"\S", line):
            params[current] += " " + line.strip()
        elif re.match(r"\S", line):
            break
    return description.strip(), params


def schema_of(function: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    """Description and JSON schema of a tool's parameters (every parameter after ``ctx``)."""
    description, docs = _doc_parts(function.__doc__ or "")
    hints = typing.get_type_hints(function)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for index, (name, parameter) in enumerate(inspect.signature(function).parameters.items()):
        if index == 0 or name.startswith("_"):
            continue
        prop = _json_type(hints.get(name, str))
        if name in docs:
            prop["description"] = docs[name]
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        elif parameter.default is not None:
            prop["default"] = parameter.default
        properties[name] = prop
    return description, {"type": "object", "properties": properties, "required": required}


def tool(
    function: Callable[..., ToolResult] | None = None,
    *,
    name: str | None = None,
    side_effects: bool = False,
    phrases: tuple[str, ...] = (),
) -> Any:
    """Register a function as a tool; see the module docstring."""

    def register(fn: Callable[..., ToolResult]) -> Callable[..., ToolResult]:
        description, parameters = schema_of(fn)

        @functools.wraps(fn)
        def call(ctx: ToolContext | pl.DataFrame, *args: Any, **kwargs: Any) -> ToolResult:
            if isinstance(ctx, pl.DataFrame):
                ctx = ToolContext(logs=ctx)
            return fn(ctx, *args, **kwargs)

        spec = ToolSpec(name or fn.__name__, description, parameters, call, side_effects, tuple(phrases))
        REGISTRY[spec.name] = spec
        call.spec = spec  # type: ignore[attr-defined]
        return call

    return register(function) if function is not None else register


def load_all_tools() -> dict[str, ToolSpec]:
    """Import every module that registers tools and return the registry."""
    import importlib
    import pkgutil

    from . import analysis

    importlib.import_module(".core_tools", __package__)
    for module in pkgutil.iter_modules(analysis.__path__):
        importlib.import_module(f"{analysis.__name__}.{module.name}")
    return REGISTRY
