"""Context usage of an answer (tokens, window, cost) and the small tool list a model starts with,
through the real Anthropic and OpenAI SDK clients against a scripted server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.agent.budget import estimate_tokens
from loop_jupyter.agent.model_turn import Usage
from loop_jupyter.agent.session import Loop
from loop_jupyter.agent.tool_choice import ALWAYS_ON, ToolChoice
from loop_jupyter.agent.usage import AnswerUsage, cost
from loop_jupyter.analysis.errors import common_errors
from loop_jupyter.artifacts import ToolResult
from loop_jupyter.tools import REGISTRY, ToolContext, load_all_tools, tool
from loop_jupyter.tools.catalog import SEARCH_TOOL, find_tools
from tests.fake_llm import FakeLLM, reply
from tests.fake_llm import tool as call

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return demo.demo_logs(300, seed=0, now=NOW)


@pytest.fixture
def fake():
    with FakeLLM() as server:
        yield server


def _names(tools: list[dict]) -> list[str]:
    return [t.get("name") or t["function"]["name"] for t in tools]


def _tool_texts(loop: Loop, run_id: str, name: str) -> list[str]:
    return [m.text for m in loop.history if m.kind == "tool_result" and m.run_id == run_id and m.data["name"] == name]


# -- Anthropic: usage from the server's reports, search_tools, then the found tool -----------------------
def test_anthropic_usage_and_tool_search(logs: pl.DataFrame, fake: FakeLLM) -> None:
    fake.script(
        reply(
            "", call(SEARCH_TOOL, query="most common errors grouped by message"), input_tokens=2400, cache_creation=1900
        ),
        reply("", call("common_errors", limit=5), input_tokens=300, cache_read=2100, output_tokens=35),
        reply("The top error group is shown.", input_tokens=900, cache_read=2500, output_tokens=120),
    )
    loop = Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0)
    answer = loop.ask("What are the most common errors?")
    assert answer.error is None, answer.text
    first, second, _ = fake.bodies
    # The first request carries the small always-on set; the found tool joins from the next one.
    assert _names(first["tools"]) == [n for n in load_all_tools() if n in ALWAYS_ON]
    assert "common_errors" not in _names(first["tools"]) and "common_errors" in _names(second["tools"])
    assert "common_errors" in first["system"][0]["text"]  # named in the catalogue line, reachable
    # The found tool ran and its result is what the tool gives directly.
    assert [c["name"] for c in answer.tool_calls] == [SEARCH_TOOL, "common_errors"]
    assert _tool_texts(loop, answer.run_id, "common_errors") == [common_errors(logs, limit=5).text]
    # Usage: Anthropic reports cached tokens apart from input_tokens; all of them were sent.
    usage = answer.usage
    assert usage.requests == 3
    assert usage.input_tokens == (2400 + 1900) + (300 + 2100) + (900 + 2500)
    assert usage.output_tokens == 20 + 35 + 120
    assert usage.cache_read_tokens == 2100 + 2500 and usage.cache_creation_tokens == 1900
    # How full the window got: the largest request (input and output).
    assert usage.context_window == 200_000 and usage.context_tokens == max(4300 + 20, 2400 + 35, 3400 + 120)
    # List price of claude-sonnet-4-5: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million.
    dollars = (2400 + 300 + 900) * 3 + (2100 + 2500) * 0.30 + 1900 * 3.75 + (20 + 35 + 120) * 15
    assert usage.cost_usd == pytest.approx(dollars / 1e6)
    assert usage.line() == "10.1k in · 0.2k out · 4.6k cached · 2% of 200k · $0.02"
    assert answer.to_json()["usage"]["input_tokens"] == usage.input_tokens
    json.dumps(answer.to_json())


def test_openai_usage_and_tool_search(logs: pl.DataFrame, fake: FakeLLM) -> None:
    fake.script(
        reply("", call(SEARCH_TOOL, query="slow traces"), input_tokens=2000),
        reply("", call("slow_requests", threshold_s=30), input_tokens=2600, cache_read=1920, output_tokens=40),
        reply("Slow traces listed.", input_tokens=3300, cache_read=2560, output_tokens=60),
    )
    loop = Loop(logs, "gpt-5.1", base_url=fake.openai_url, api_key="test", max_retries=0)
    answer = loop.ask("Which traces took longer than 30 seconds?")
    assert answer.error is None, answer.text
    first, second, _ = fake.bodies
    assert _names(first["tools"]) == [n for n in load_all_tools() if n in ALWAYS_ON]
    assert "slow_requests" in _names(second["tools"])
    from loop_jupyter.analysis.latency import slow_requests

    assert _tool_texts(loop, answer.run_id, "slow_requests") == [slow_requests(logs, threshold_s=30).text]
    usage = answer.usage
    # OpenAI's prompt_tokens include the cached prefix (prompt_tokens_details.cached_tokens).
    assert (usage.requests, usage.input_tokens, usage.output_tokens) == (3, 2000 + 2600 + 3300, 20 + 40 + 60)
    assert usage.cache_read_tokens == 1920 + 2560 and usage.cache_creation_tokens == 0
    assert usage.context_window == 400_000
    dollars = (7900 - 4480) * 1.25 + 4480 * 0.125 + 120 * 10
    assert usage.cost_usd == pytest.approx(dollars / 1e6)


def test_unknown_price_has_no_cost(logs: pl.DataFrame, fake: FakeLLM) -> None:
    fake.script(reply("Nothing to run.", input_tokens=1234, output_tokens=56))
    loop = Loop(logs, f"openai-compatible:llama-local@{fake.openai_url}", max_retries=0)
    answer = loop.ask("hello")
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (1234, 56)
    assert answer.usage.cost_usd is None and answer.usage.context_window is None
    assert answer.usage.line() == "1.2k in · 56 out"


def test_offline_usage_is_zero_not_estimated(logs: pl.DataFrame) -> None:
    answer = Loop(logs, "offline").ask("What are the most common errors?")
    usage = answer.usage
    assert answer.tokens_sent > 0  # the ledger's estimate of what a model would be sent stays
    assert (usage.requests, usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (0, 0, 0, 0)
    assert usage.cost_usd is None and usage.context_window is None and usage.context_percent is None
    assert usage.line() == "no model calls (offline planner)"
    assert answer.to_json()["usage"]["cost_usd"] is None


def test_every_tool_is_sent_when_tool_search_is_off(logs: pl.DataFrame, fake: FakeLLM) -> None:
    fake.script(reply("ok"))
    loop = Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0)
    loop.tool_search = False
    loop.ask("hi")
    assert _names(fake.bodies[0]["tools"]) == [n for n in load_all_tools() if n != SEARCH_TOOL]
    assert "More tools" not in fake.bodies[0]["system"][0]["text"]


def test_a_tool_called_by_name_runs_and_joins_the_list(logs: pl.DataFrame, fake: FakeLLM) -> None:
    fake.script(reply("", call("tool_health")), reply("", call("run_sql", query="SELECT 1 AS one")), reply("done"))
    loop = Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0)
    answer = loop.ask("which tools fail?")
    from loop_jupyter.analysis.tool_health import tool_health

    assert _tool_texts(loop, answer.run_id, "tool_health") == [tool_health(logs).text]
    assert "tool_health" not in _names(fake.bodies[0]["tools"]) and "tool_health" in _names(fake.bodies[1]["tools"])


def test_first_request_is_small_and_does_not_grow_with_the_logs() -> None:
    sizes = []
    for traces in (30, 600):
        frame = demo.demo_logs(traces, seed=1, now=NOW)
        loop = Loop(frame, "offline")
        choice = ToolChoice(load_all_tools())
        system = loop.system_prompt() + choice.note()
        small = estimate_tokens({"system": system, "tools": choice.schemas()})
        everything = estimate_tokens(
            {"system": loop.system_prompt(), "tools": ToolChoice(load_all_tools(), search=False).schemas()}
        )
        assert small < 4000 and small < everything / 2
        sizes.append(small)
    assert abs(sizes[0] - sizes[1]) < 60  # the facts' counts change, nothing else


# -- the search ----------------------------------------------------------------------------------------------------
def test_every_tool_is_reachable_by_name_and_named_in_the_catalogue() -> None:
    specs = load_all_tools()
    note = ToolChoice(specs).note()
    for name in specs:
        if name == SEARCH_TOOL:
            continue
        assert find_tools(name, specs)[0] == name
        assert name in note or name in ALWAYS_ON


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("most common errors", "common_errors"),
        ("slow traces over a threshold", "slow_requests"),
        ("what do slow traces have in common", "latency_patterns"),
        ("plot a chart by day", "chart"),
        ("frustrated users", "frustrated_users"),
        ("rate limits and overloaded models", "model_errors"),
        ("context window overflow", "context_overflows"),
        ("save rows as a dataset", "create_dataset"),
        ("languages users write in", "detect_languages"),
        ("summarize one trace", "summarize_trace"),
        ("which tools fail most", "tool_health"),
        ("root causes of a symptom", "root_causes"),
    ],
)
def test_search_finds_the_tool_for_a_need(query: str, expected: str) -> None:
    assert expected in find_tools(query, load_all_tools(), limit=3)


def test_search_tools_result_and_enabling() -> None:
    from loop_jupyter.tools.catalog import search_tools

    frame = demo.demo_logs(5, seed=0, now=NOW)
    text = search_tools(frame, "group errors by message", limit=2).text
    assert text.startswith("Enabled") and "common_errors" in text and text.count("\n- ") == 2
    listing = search_tools(frame, "").text
    assert all(name in listing for name in load_all_tools() if name != SEARCH_TOOL)
    choice = ToolChoice(load_all_tools())
    from loop_jupyter.agent.model_turn import ToolCall

    added = choice.after([ToolCall("1", SEARCH_TOOL, {"query": "group errors by message", "limit": 2})])
    assert added == [n for n in find_tools("group errors by message", limit=2) if n not in ALWAYS_ON]
    assert set(added) <= set(_names(choice.schemas()))


# -- the figures -------------------------------------------------------------------------------------------------------
def test_cost_and_line_formatting() -> None:
    price = {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}
    assert cost(Usage(1_000_000, 0, 0, 0), price) == pytest.approx(3.0)
    assert cost(Usage(1_000_000, 1_000_000, 1_000_000, 0), price) == pytest.approx(0.3 + 15)
    usage = AnswerUsage(model="x", requests=2, input_tokens=12_300, output_tokens=800, cache_read_tokens=9_000)
    usage.context_tokens, usage.context_window, usage.cost_usd = 12_000, 200_000, 0.04
    assert usage.line() == "12.3k in · 0.8k out · 9k cached · 6% of 200k · $0.04"


def test_prices_and_windows_from_the_config(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loop_jupyter.agent.usage import context_window_of, price_of

    config = tmp_path / "loop.toml"
    config.write_text('[prices."my-model"]\ninput = 1.0\noutput = 2.0\n[context_windows]\n"my-model" = 32000\n')
    monkeypatch.setenv("LOOP_JUPYTER_CONFIG", str(config))
    assert price_of("my-model") == {"input": 1.0, "output": 2.0}
    assert context_window_of("my-model") == 32_000
    assert price_of("claude-4.5-haiku") == {"input": 1.0, "output": 5.0, "cache_read": 0.1, "cache_write": 1.25}
    assert price_of("gpt-5.5") is None and context_window_of("gpt-5.5") is None
    usage = AnswerUsage.for_model("my-model")
    usage.add(Usage(1000, 500))
    assert usage.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6) and usage.context_percent == pytest.approx(
        1500 / 320
    )


def test_ask_json_carries_the_usage(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from loop_jupyter.cli import main

    path = tmp_path / "logs.jsonl"
    demo.write_demo_jsonl(path, 20, seed=0, now=NOW)
    assert main(["ask", "What are the most common errors?", "--logs", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["usage"]["requests"] == 0 and out["usage"]["line"] == "no model calls (offline planner)"
    assert out["tokens_sent"] > 0 and {"text", "tool_calls", "artifacts", "model", "error"} <= set(out)


@pytest.mark.slow
def test_bench_tokens_meets_the_goal(tmp_path) -> None:
    """bench/bench_tokens.py at its small scale: the first request is ≤ 4k tokens with tool search
    and was over it with every schema; the offline answers are the same either way."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, BENCH_RESULTS=str(tmp_path), PYTHONPATH=str(root))
    script = str(root / "bench" / "bench_tokens.py")
    subprocess.run([sys.executable, script, "--scale", "small"], check=True, cwd=root, env=env, timeout=600)
    result = json.loads((tmp_path / "tokens.json").read_text())
    rows = [row for size in result["sizes"] for row in size["questions"]]
    assert rows and all(row["after"]["total"] <= 4000 < row["before"]["total"] for row in rows)
    assert all(row["offline_same"] for row in rows)
    assert len({row["after"]["tool_count"] for row in rows}) == 1


def test_tools_called_earlier_in_the_conversation_stay_offered(logs: pl.DataFrame, fake: FakeLLM) -> None:
    fake.script(
        reply("", call(SEARCH_TOOL, query="tool_health")),
        reply("", call("tool_health")),
        reply("Tools listed."),
        reply("Follow-up answered."),
    )
    loop = Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0)
    loop.ask("which tools fail?")
    loop.ask("and how often?")
    follow_up = fake.bodies[3]
    # The history holds a tool_use of tool_health: the follow-up's first request still offers it.
    assert "tool_health" in _names(follow_up["tools"]) and SEARCH_TOOL in _names(follow_up["tools"])
    assert "common_errors" not in _names(follow_up["tools"])


def test_judge_calls_report_their_usage(fake: FakeLLM) -> None:
    from loop_jupyter.agent.judge import SessionModel
    from loop_jupyter.agent.models import AnthropicClient, OpenAIClient

    seen: list[Usage] = []
    fake.script(
        reply("", call("select_choice", reasons="x", choice="B"), input_tokens=50, cache_read=10, output_tokens=7),
        reply("", call("select_choice", reasons="x", choice="A"), input_tokens=80, cache_read=64, output_tokens=9),
        reply("A name", input_tokens=30, output_tokens=4),
    )
    claude = SessionModel(AnthropicClient("claude-x", api_key="test", base_url=fake.url, max_retries=0), seen.append)
    gpt = SessionModel(OpenAIClient("gpt-x", api_key="test", base_url=fake.openai_url, max_retries=0), seen.append)
    assert claude.choose("grade", ["A", "B"]) == "B" and gpt.choose("grade", ["A", "B"]) == "A"
    assert claude("name this cluster") == "A name"
    assert seen == [Usage(60, 7, 10, 0), Usage(80, 9, 64, 0), Usage(30, 4, 0, 0)]


def test_a_tools_judge_calls_count_in_the_answer(logs: pl.DataFrame, fake: FakeLLM) -> None:
    @tool(name="zz_asks_the_model")
    def zz_asks_the_model(ctx: ToolContext) -> ToolResult:
        """Ask the session's model once."""
        return ToolResult(ctx.llm("say hi") if ctx.llm else "offline")

    try:
        fake.script(
            reply("", call("zz_asks_the_model"), input_tokens=1000),
            reply("hi", input_tokens=40, output_tokens=3),  # the tool's own call to the model
            reply("It said hi.", input_tokens=1100),
        )
        loop = Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0)
        answer = loop.ask("ask it")
        assert answer.usage.requests == 3
        assert (answer.usage.input_tokens, answer.usage.output_tokens) == (1000 + 40 + 1100, 20 + 3 + 20)
    finally:
        REGISTRY.pop("zz_asks_the_model", None)
