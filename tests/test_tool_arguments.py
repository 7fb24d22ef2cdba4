"""Tool arguments from a model are validated against the signature the schema comes from (issue 13):
a boolean is no number, a number no string, unknown and missing arguments are refused, and the
model gets a tool error naming the argument and what was expected."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import polars as pl
import pytest

from loop_jupyter.agent.session import Loop
from loop_jupyter.artifacts import ToolResult
from loop_jupyter.tools import REGISTRY, ToolArgumentError, ToolContext, ToolSpec, load_all_tools, tool
from tests.agent_fixtures import build_logs
from tests.fake_llm import FakeLLM, reply
from tests.fake_llm import tool as call

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]


def _hints(spec: ToolSpec) -> dict[str, Any]:
    import inspect

    function = inspect.unwrap(spec.function)
    hints = typing.get_type_hints(function)
    return {name: hints.get(name, str) for name in spec.parameters["properties"]}


def _base(annotation: Any) -> Any:
    """The annotation without ``| None``."""
    if get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation


def _bad_values(annotation: Any) -> list[Any]:
    """Values of the wrong type for an annotation (what a confused model sends)."""
    base = _base(annotation)
    if base is bool:
        return [[True], {"a": 1}]
    if base is int:
        return [True, False, "five", 5.5, [5], {"n": 5}]
    if base is float:
        return [True, "fast", [0.5], "nan"]
    if base is str:
        return [5, True, ["a"], {"a": "b"}]
    if get_origin(base) is Literal:
        return ["not-one-of-them", 3, True]
    if get_origin(base) is list:
        return ["just a string", 5, [5], [True]]
    raise AssertionError(f"no bad values for {annotation!r}: teach this test the new type")


TOOLS = load_all_tools()
CASES = [
    pytest.param(name, param, bad, id=f"{name}.{param}={bad!r}")
    for name, spec in sorted(TOOLS.items())
    for param, annotation in _hints(spec).items()
    for bad in _bad_values(annotation)
]


def _valid_required(spec: ToolSpec) -> dict[str, Any]:
    """Good values for the required parameters, so only the bad one is wrong."""
    values: dict[str, Any] = {}
    for name in spec.parameters.get("required", []):
        base = _base(_hints(spec)[name])
        if get_origin(base) is Literal:
            values[name] = get_args(base)[0]
        else:
            values[name] = {str: "x", int: 1, float: 1.0, bool: True}.get(base, ["x"])
    return values


def test_every_tool_has_cases() -> None:
    assert len(TOOLS) >= 20 and len(CASES) > 100


@pytest.mark.parametrize(("name", "param", "bad"), CASES)
def test_every_tool_refuses_bad_types(name: str, param: str, bad: Any) -> None:
    spec = TOOLS[name]
    arguments = {**_valid_required(spec), param: bad}
    with pytest.raises(ToolArgumentError) as refused:
        spec.validate(arguments)
    message = str(refused.value)
    assert message.startswith(f"Invalid arguments for {name}: ")
    assert f"{param}: expected " in message


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_tool_refuses_unknown_and_missing(name: str) -> None:
    spec = TOOLS[name]
    with pytest.raises(ToolArgumentError, match="unknown not_a_parameter"):
        spec.validate({**_valid_required(spec), "not_a_parameter": 1})
    assert spec.validate(_valid_required(spec)) == _valid_required(spec)
    for required in spec.parameters.get("required", []):
        arguments = _valid_required(spec)
        del arguments[required]
        with pytest.raises(ToolArgumentError, match=f"missing {required}"):
            spec.validate(arguments)


def test_coercion_is_what_the_docs_say() -> None:
    spec = TOOLS["common_errors"]
    assert spec.validate({"limit": "5"}) == {"limit": 5} and type(spec.validate({"limit": "5"})["limit"]) is int
    assert spec.validate({"limit": 5.0}) == {"limit": 5}
    assert spec.validate({"limit": None}) == {}  # null for an optional argument: the default applies
    with pytest.raises(ToolArgumentError, match=r"limit: expected an integer, got a boolean True"):
        spec.validate({"limit": True})
    with pytest.raises(ToolArgumentError, match=r"limit: expected an integer, got a string '5.5'"):
        spec.validate({"limit": "5.5"})


# -- through the session: what the model sees, and what the function receives -------------------------------
@pytest.fixture
def spy_tool():
    received: list[dict[str, Any]] = []

    @tool(name="zz_spy")
    def zz_spy(
        ctx: ToolContext,
        limit: int = 3,
        ratio: float = 0.5,
        names: list[str] | None = None,
        shape: Literal["a", "b"] = "a",
    ) -> ToolResult:
        """Record what arrived.

        Args:
            limit: how many.
            ratio: a fraction.
            names: some names.
            shape: a or b.
        """
        received.append({"limit": limit, "ratio": ratio, "names": names, "shape": shape})
        return ToolResult(f"limit={limit!r} ratio={ratio!r}")

    yield received
    REGISTRY.pop("zz_spy", None)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return build_logs(n_traces=5)


def _tool_results(fake: FakeLLM) -> list[dict[str, Any]]:
    """The tool results the model was sent (Anthropic messages API; the last request holds them all)."""
    out = []
    for body in fake.bodies[-1:]:
        for message in body.get("messages", []):
            content = message.get("content")
            if isinstance(content, list):
                out.extend(b for b in content if isinstance(b, dict) and b.get("type") == "tool_result")
    return out


def test_model_gets_a_clear_error_and_the_function_never_sees_bad_types(
    logs: pl.DataFrame, spy_tool: list[dict[str, Any]]
) -> None:
    with FakeLLM() as fake:
        fake.script(
            reply("", call("zz_spy", limit=True)),
            reply("", call("zz_spy", limit="5", ratio=1, names=["x"])),
            reply("", call("zz_spy", shape="c", ratio="nan")),
            reply("done"),
        )
        with Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0) as loop:
            answer = loop.ask("spy")
        results = _tool_results(fake)
    assert answer.text == "done"
    # Only the valid call ran, with real types.
    assert spy_tool == [{"limit": 5, "ratio": 1.0, "names": ["x"], "shape": "a"}]
    assert type(spy_tool[0]["limit"]) is int and type(spy_tool[0]["ratio"]) is float
    texts = [json.dumps(r["content"]) for r in results]
    assert results[0].get("is_error") and "limit: expected an integer, got a boolean True" in texts[0]
    assert not results[1].get("is_error") and "limit=5 ratio=1.0" in texts[1]
    assert results[2].get("is_error") and "shape: expected one of 'a', 'b'" in texts[2] and "ratio:" in texts[2]
