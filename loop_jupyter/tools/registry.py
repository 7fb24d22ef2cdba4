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

Arguments from a model (or the planner) are validated by :meth:`ToolSpec.validate` from the same
signature the schema is read from (pydantic, per parameter): unknown and missing required
arguments are refused; a boolean is never a number (``limit=True`` is refused, not run as 1); a
number is never a string; a numeric string is coerced for a number (``limit="5"`` runs as 5, and
``"5.5"`` for an integer is refused), as are whole floats (``5.0``); NaN and infinity are refused.
Each refusal names the argument, what was expected and what came, so the model can call again.
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
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import polars as pl
import pydantic

from ..artifacts import ToolResult
from ..sqltext import sql_literal
from .working_set import SAMPLE_TRACES, WorkingSet, pushes_down, working_set

if typing.TYPE_CHECKING:
    from ..engine import LogEngine


@dataclass
class ToolContext:
    """What a tool may use: the data sources the user allowed, the SQL engine, where files go.

    ``logs`` is the span frame tools read in memory. With ``source`` (a ``LogSource``, e.g. a
    DuckDB store) and no frame, ``logs`` is built on first use: every span of a small store, or the
    spans of a day-stratified sample of traces of a large one (see
    :mod:`loop_jupyter.tools.working_set`). ``sql``, ``rows``, ``count`` and ``trace_spans`` push
    their work into the source's SQL instead and read all the logs whatever their size.
    """

    logs: pl.DataFrame = None  # type: ignore[assignment]  # a property: see below the class
    sources: dict[str, pl.DataFrame] = field(default_factory=dict)
    workdir: Path = field(default_factory=Path.cwd)
    #: Completes a prompt with the session's model (LLM-as-judge, naming clusters); None offline.
    llm: Callable[[str], str] | None = None
    #: Root span ids the user selected in the trace explorer.
    selection: list[str] = field(default_factory=list)
    #: Per-session caches (embedding indexes and the like), keyed by the tool that owns them.
    cache: dict[str, Any] = field(default_factory=dict)
    #: When the chat is scoped to one trace (``logs`` holds its spans only): the context over all the
    #: logs, for tools that compare the trace with the others (similar traces).
    unscoped: ToolContext | None = None
    _engine: LogEngine | None = None
    #: Where the logs live (a ``LogSource``); None when ``logs`` is the whole logs in memory.
    source: Any = None
    #: A store with more traces than this gives tools that read spans a sample of this many traces.
    sample_traces: int = SAMPLE_TRACES

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)  # a str from a notebook works too
        if self._logs is None and self.source is not None and not pushes_down(self.source):
            self._logs = self.source.frame  # a MemorySource: its frame, as before

    @property
    def engine(self) -> LogEngine:
        if self._engine is None:
            from ..engine import LogEngine

            self._engine = LogEngine(self.logs, sources=self.sources, annotations_dir=self.annotations_dir)
        return self._engine

    # -- pushed down: SQL runs in the source (a store), bounded results come back ------------------
    @property
    def pushdown(self) -> bool:
        """True when the logs live in a store: the methods below run there, not on ``logs``."""
        return pushes_down(self.source)

    def sql(self, query: str, *, limit: int | None = None) -> pl.DataFrame:
        """One sandboxed SELECT over all the logs (the store's, or the frame's with the other sources)."""
        if self.pushdown:
            return self.source.sql(query, limit=limit)
        return self.engine.sql(query) if limit is None else self.engine.sql(query, limit=limit)

    def rows(
        self, where: str, *, shape: Literal["spans", "traces"] = "spans", limit: int | None = None
    ) -> pl.DataFrame:
        """Spans (or traces) matching a WHERE condition, in the source's order; at most ``limit``."""
        if self.pushdown:
            return self.source.filter(where, shape=shape, limit=limit)
        found = self.engine.filter(where, shape=shape)
        return found if limit is None else found.head(limit)

    def count(self, where: str | None = None, *, shape: Literal["spans", "traces"] = "spans") -> int:
        """How many spans (or traces) match ``where`` (all of them for None)."""
        if self.pushdown:
            return self.source.count(where, shape=shape)
        if not where:
            return self.logs.height if shape == "spans" else self.engine.traces.height
        return self.engine.count(where, shape=shape)

    def trace_columns(self, *columns: str, where: str | None = None) -> pl.DataFrame:
        """Some columns of every trace (matching ``where``), in the traces view's order: from a store,
        only those columns are read (a few numbers per trace, whatever the spans hold)."""
        if self.pushdown:
            return _select_columns(self.source, columns, where, "traces")
        traces = self.engine.filter(where, shape="traces") if where else self.engine.traces
        return traces.select(columns)

    def span_columns(self, *columns: str, where: str | None = None) -> pl.DataFrame:
        """Some columns of the spans matching ``where`` (all spans for None), in load order; from a
        store only those columns are read."""
        if self.pushdown:
            return _select_columns(self.source, columns, where, "spans")
        spans = self.engine.filter(where, shape="spans") if where else self.logs
        return spans.select(columns)

    def trace_spans(self, root_span_id: str) -> pl.DataFrame:
        """Every span of one trace (read alone from a store)."""
        if self.pushdown:
            return self.source.trace(root_span_id)
        return self.logs.filter(pl.col("root_span_id") == root_span_id)

    def for_trace(self, root_span_id: str) -> ToolContext:
        """A context over one trace's spans, read from the store alone (single-trace tools)."""
        return ToolContext(
            logs=self.trace_spans(root_span_id),
            sources=self.sources,
            workdir=self.workdir,
            llm=self.llm,
            selection=list(self.selection),
            cache=self.cache.setdefault(f"trace:{root_span_id}", {}),
            unscoped=self,
        )

    # -- the working frame of a store --------------------------------------------------------------
    def working(self) -> WorkingSet | None:
        """How the working frame of a store was drawn (None for logs in memory); its spans are read
        when ``logs`` is first used (``tools/working_reads.py`` reads a few columns instead)."""
        if self.pushdown and self._working is None:
            self._working = working_set(self.source, self.sample_traces)
        return self._working

    def include_traces(self, root_span_ids: list[str]) -> None:
        """Add these traces to a store's sampled working frame (a tool comparing them with the others)."""
        working = self.working()
        if working is None or not working.sampled or not root_span_ids:
            return
        have = set(working.frame.get_column("root_span_id").unique().to_list())
        wanted = [i for i in dict.fromkeys(root_span_ids) if i not in have]
        if not wanted:
            return
        listed = ", ".join(sql_literal(str(i)) for i in wanted)
        extra = self.source.filter(f"root_span_id IN ({listed})")
        if extra.height:
            working.frame = pl.concat([working.frame, extra], how="vertical_relaxed")
            working.traces_read += extra.get_column("root_span_id").n_unique()
            if working.ids is not None:
                working.ids = pl.concat([working.ids, extra.get_column("root_span_id").unique(maintain_order=True)])
            self._logs, self._engine = working.frame, None

    def sample_note(self) -> str | None:
        """ "sampled 20,000 of 3.1M traces, stratified by day" when ``logs`` is a sample, else None."""
        working = self._working
        return working.note() if working is not None and working.sampled else None

    @property
    def datasets_dir(self) -> Path:
        return self.workdir / "loop_datasets"

    @property
    def scorers_dir(self) -> Path:
        return self.workdir / "loop_scorers"

    @property
    def annotations_dir(self) -> Path:
        """Where annotations (labels and notes on spans) are saved: see :mod:`loop_jupyter.annotations`."""
        return self.workdir / "loop_annotations"


def _select_columns(source: Any, columns: tuple[str, ...], where: str | None, shape: Any) -> pl.DataFrame:
    """Narrow reads where the backend offers them (``select_columns``, sources/_sql.py); any other
    ``LogSource`` filters whole rows and keeps the columns."""
    if hasattr(source, "select_columns"):
        return source.select_columns(columns, where, shape=shape)
    return source.filter(where, shape=shape).select(columns)


def _get_logs(self: ToolContext) -> pl.DataFrame:
    if self._logs is None:
        if self.pushdown:
            self._logs = self.working().frame  # type: ignore[union-attr]
        else:
            from ..schema import empty_frame

            self._logs = empty_frame()
    if self._working is not None and self._working.sampled:
        self._read_sample = True  # the tool reading it says its answer is on a sample
    return self._logs


def _set_logs(self: ToolContext, frame: pl.DataFrame | None) -> None:
    self._logs = frame
    self._working = None
    self._read_sample = False


# ``logs`` stays the dataclass's first field (``ToolContext(frame)``, ``ToolContext(logs=frame)``)
# and becomes a property: a store's working frame is drawn on first use, not when the context is made.
ToolContext.logs = property(_get_logs, _set_logs)  # type: ignore[assignment,method-assign]


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

    @functools.cached_property
    def _adapters(self) -> dict[str, pydantic.TypeAdapter[Any]]:
        return adapters_of(inspect.unwrap(self.function))

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments checked and coerced against the signature (see the module docstring);
        a :class:`ToolArgumentError` naming each bad argument otherwise."""
        properties = self.parameters.get("properties", {})
        adapters = self._adapters
        problems: list[str] = []
        missing = [p for p in self.parameters.get("required", []) if p not in arguments]
        unknown = sorted(a for a in arguments if a not in properties or a not in adapters)
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(unknown)}")
        required = set(self.parameters.get("required", []))
        valid: dict[str, Any] = {}
        for name, value in arguments.items():
            if name in unknown or (value is None and name not in required):
                continue  # null for an optional argument: the function's default applies
            try:
                valid[name] = adapters[name].validate_python(value)
            except pydantic.ValidationError as exc:
                problems.append(_describe_invalid(name, value, properties.get(name, {}), exc))
        if problems:
            raise ToolArgumentError(
                f"Invalid arguments for {self.name}: {'; '.join(problems)}. Parameters: {', '.join(properties)}."
            )
        return valid


class ToolArgumentError(ValueError):
    """Arguments a tool refuses; the message is written for the model."""


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


def _no_bool(expected: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected {expected}, not a boolean")
        return value

    return check


def _validating(annotation: Any) -> Any:
    """The annotation with numbers that refuse booleans and NaN/infinity (pydantic's lax mode
    would take True as 1 and "nan" as a float)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return Union[tuple(_validating(a) for a in get_args(annotation))]  # noqa: UP007
    if origin is list:
        args = get_args(annotation)
        return list[_validating(args[0])] if args else list
    if annotation is int:
        return Annotated[int, pydantic.BeforeValidator(_no_bool("an integer"))]
    if annotation is float:
        return Annotated[float, pydantic.AllowInfNan(False), pydantic.BeforeValidator(_no_bool("a number"))]
    return annotation


def adapters_of(function: Callable[..., Any]) -> dict[str, pydantic.TypeAdapter[Any]]:
    """One validator per tool parameter (those the schema lists), from the same type hints."""
    hints = typing.get_type_hints(function)
    adapters: dict[str, pydantic.TypeAdapter[Any]] = {}
    for index, name in enumerate(inspect.signature(function).parameters):
        if index == 0 or name.startswith("_"):
            continue
        adapters[name] = pydantic.TypeAdapter(_validating(hints.get(name, str)))
    return adapters


def _expected(prop: dict[str, Any]) -> str:
    """What a schema property asks for, in words."""
    if "enum" in prop:
        return "one of " + ", ".join(repr(v) for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(_expected(p) for p in prop["anyOf"])
    kind = prop.get("type")
    if kind == "array":
        items = _expected(prop.get("items") or {})
        return f"a list of {items.removeprefix('an ').removeprefix('a ')}s" if items != "any value" else "a list"
    words = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false"}
    return words.get(kind, "any value")


def _describe_invalid(name: str, value: Any, prop: dict[str, Any], exc: pydantic.ValidationError) -> str:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    kind = {bool: "a boolean", str: "a string", int: "an integer", float: "a number", list: "a list", dict: "an object"}
    got = f"{kind.get(type(value), type(value).__name__)} {shown}" if value is not None else "null"
    detail = exc.errors()[0].get("msg", "") if exc.errors() else ""
    if detail.startswith("Value error") or (detail.startswith("Input should be") and "," not in detail):
        detail = ""  # says no more than "expected ..., got ..."
    return f"{name}: expected {_expected(prop)}, got {got}" + (f" ({detail})" if detail else "")


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

        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def call(ctx: Any, *args: Any, **kwargs: Any) -> ToolResult:
            if isinstance(ctx, pl.DataFrame):
                ctx = ToolContext(logs=ctx)
            elif not isinstance(ctx, ToolContext):  # a LogSource: lj.connect(...)
                ctx = ToolContext(source=ctx)
            return run_on(ctx, fn, signature, args, kwargs)

        spec = ToolSpec(name or fn.__name__, description, parameters, call, side_effects, tuple(phrases))
        REGISTRY[spec.name] = spec
        call.spec = spec  # type: ignore[attr-defined]
        return call

    return register(function) if function is not None else register


#: Parameters naming the one trace a tool reads: from a store, that trace is read alone.
_TRACE_PARAMETERS = ("root_span_id",)


def run_on(
    ctx: ToolContext, fn: Callable[..., ToolResult], signature: inspect.Signature, args: Any, kwargs: Any
) -> ToolResult:
    """Run a tool; from a store, a single-trace tool on that trace's spans, and an answer read
    from the working frame's sample says so (its text starts with the sampling note)."""
    run_ctx = ctx
    if ctx.pushdown:
        try:
            bound = signature.bind(ctx, *args, **kwargs).arguments
        except TypeError:
            bound = {}
        root = next((bound[p] for p in _TRACE_PARAMETERS if isinstance(bound.get(p), str) and bound[p]), None)
        if root is not None:
            run_ctx = ctx.for_trace(root)
    ctx._read_sample = False
    result = fn(run_ctx, *args, **kwargs)
    note = ctx.sample_note() if ctx._read_sample else None
    if note and isinstance(result, ToolResult):
        result.text = f"({note}.)\n{result.text}"
    return result
