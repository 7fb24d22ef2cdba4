"""Model table, allow-list, config, and the real anthropic/openai clients against the local fake."""

from __future__ import annotations

import time

import pytest

from loop_jupyter.agent import models
from loop_jupyter.agent.models import AnthropicClient, ModelError, OpenAIClient, make_client, resolve
from tests.fake_llm import FakeLLM, raw_tool, reply, tool

TOOLS = [
    {
        "name": "run_sql",
        "description": "Run SQL",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    }
]
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def no_real_keys(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "LOOP_JUPYTER_MODELS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOOP_JUPYTER_CONFIG", str(tmp_path / "none.toml"))


@pytest.fixture
def fake():
    with FakeLLM() as server:
        yield server


def anthropic(fake: FakeLLM, **kw) -> AnthropicClient:
    return AnthropicClient("claude-test", api_key="test", base_url=fake.url, **{"max_retries": 0, **kw})


def openai_client(fake: FakeLLM, **kw) -> OpenAIClient:
    return OpenAIClient("gpt-test", api_key="test", base_url=fake.openai_url, **{"max_retries": 0, **kw})


# -- names, allow-list, config -----------------------------------------------------------------------
def test_display_names_map_to_api_ids() -> None:
    assert resolve("claude-4.5-sonnet").api_id == "claude-sonnet-4-5"
    assert resolve("claude-4.1-opus").provider == "anthropic"
    assert resolve("gpt-5.2").provider == "openai"
    assert resolve("claude-5.5-sonnet").api_id == "claude-sonnet-5-5" and resolve("gpt-5.5").api_id == "gpt-5.5"
    ref = resolve("openai-compatible:llama3.1@http://127.0.0.1:11434/v1")
    assert (ref.provider, ref.api_id, ref.base_url) == ("openai-compatible", "llama3.1", "http://127.0.0.1:11434/v1")
    with pytest.raises(ModelError, match="unknown model"):
        resolve("gpt-2")


def test_offline_is_default_without_keys_and_sonnet_with(monkeypatch: pytest.MonkeyPatch) -> None:
    assert models.default_model() == "offline"
    assert make_client("offline") is None
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    assert models.default_model() == "gpt-5.1"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    assert models.default_model() == "claude-4.5-sonnet"


def test_allow_list_env_and_config(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert models.available_models()[0] == "claude-4.5-sonnet" and models.available_models()[-1] == "offline"
    config = tmp_path / "config.toml"
    config.write_text(
        'models = ["claude-4.5-haiku", "gpt-5.1"]\ndefault_model = "claude-4.5-haiku"\n'
        '[model_ids]\n"claude-4.5-haiku" = "claude-haiku-4-5-20251001"\n'
    )
    monkeypatch.setenv("LOOP_JUPYTER_CONFIG", str(config))
    assert models.available_models() == ["claude-4.5-haiku", "gpt-5.1", "offline"]
    assert models.default_model() == "claude-4.5-haiku"
    assert resolve("claude-4.5-haiku").api_id == "claude-haiku-4-5-20251001"
    with pytest.raises(ModelError, match="not allowed"):
        resolve("claude-4.5-opus")
    monkeypatch.setenv("LOOP_JUPYTER_MODELS", "gpt-5.2")  # env wins over the file
    assert models.available_models() == ["gpt-5.2", "offline"]


# -- Anthropic -------------------------------------------------------------------------------------------
def test_anthropic_streams_text_and_reassembles_tool_input(fake: FakeLLM) -> None:
    fake.script(reply("Let me look that up.", tool("run_sql", query="SELECT count(*) FROM logs")))
    deltas: list[str] = []
    turn = anthropic(fake).complete("system text", HI, TOOLS, deltas.append)
    assert "".join(deltas) == "Let me look that up." and len(deltas) > 1
    assert turn.text == "Let me look that up."
    (call,) = turn.tool_calls
    assert (call.name, call.input, call.error) == ("run_sql", {"query": "SELECT count(*) FROM logs"}, None)
    assert turn.usage.input_tokens == 100
    body = fake.bodies[0]
    assert body["stream"] is True and body["tools"] == TOOLS
    # The system prompt and the conversation so far are prompt-cache prefixes.
    assert body["system"] == [{"type": "text", "text": "system text", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    auth = {k.lower(): v for k, v in fake.requests[0]["headers"].items()}
    assert "test" in auth.get("authorization", "") + auth.get("x-api-key", "")


def test_anthropic_cached_prefix_tokens_count_as_sent(fake: FakeLLM) -> None:
    fake.script(reply("cached", cache_read=4000))
    turn = anthropic(fake).complete("system text", HI, TOOLS)
    assert (turn.usage.input_tokens, turn.usage.cache_read_tokens) == (4100, 4000)


def test_anthropic_tool_results_are_sent_back(fake: FakeLLM) -> None:
    fake.script(reply("done"))
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "t1", "name": "run_sql", "input": {"query": "x"}}]},
        {"role": "tool", "results": [{"id": "t1", "name": "run_sql", "content": "<tool_output>1</tool_output>"}]},
        {"role": "user", "content": "and then?"},
    ]
    anthropic(fake).complete("s", messages, TOOLS)
    sent = fake.bodies[0]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": "<tool_output>1</tool_output>",
    }
    assert sent[2]["content"][1] == {"type": "text", "text": "and then?", "cache_control": {"type": "ephemeral"}}


def test_anthropic_malformed_tool_arguments_are_flagged(fake: FakeLLM) -> None:
    fake.script(reply("", raw_tool("run_sql", '{"query": "SEL')))
    (call,) = anthropic(fake).complete("s", HI, TOOLS).tool_calls
    assert call.error and "not valid JSON" in call.error


def test_anthropic_429_retried_by_sdk_with_retry_after(fake: FakeLLM) -> None:
    fake.script({"status": 429, "retry_after_ms": 10}, reply("ok"))
    turn = anthropic(fake, max_retries=2).complete("s", HI, TOOLS)
    assert turn.text == "ok" and len(fake.requests) == 2


def test_anthropic_529_after_retries_is_a_clear_error(fake: FakeLLM) -> None:
    fake.script({"status": 529, "retry_after_ms": 5}, {"status": 529, "retry_after_ms": 5})
    with pytest.raises(ModelError, match=r"overloaded \(529\) after 1 retry") as info:
        anthropic(fake, max_retries=1).complete("s", HI, TOOLS)
    assert info.value.kind == "overloaded" and len(fake.requests) == 2


def test_anthropic_500_and_429_exhausted(fake: FakeLLM) -> None:
    fake.script({"status": 500})
    with pytest.raises(ModelError, match=r"server error \(500\)"):
        anthropic(fake).complete("s", HI, TOOLS)
    fake.script({"status": 429})
    with pytest.raises(ModelError, match="rate limit") as info:
        anthropic(fake).complete("s", HI, TOOLS)
    assert info.value.status == 429


def test_anthropic_timeout(fake: FakeLLM) -> None:
    fake.script({"hang": 2})
    start = time.monotonic()
    with pytest.raises(ModelError, match="did not answer in time") as info:
        anthropic(fake, timeout_s=0.3).complete("s", HI, TOOLS)
    assert info.value.kind == "timeout" and time.monotonic() - start < 2


def test_anthropic_connection_reset_mid_stream(fake: FakeLLM) -> None:
    fake.script(reply("a long answer that will be cut", reset_after=4))
    deltas: list[str] = []
    with pytest.raises(ModelError, match="dropped mid-answer") as info:
        anthropic(fake).complete("s", HI, TOOLS, deltas.append)
    assert info.value.kind == "connection"


# -- OpenAI and compatible servers -------------------------------------------------------------------------
def test_openai_streams_text_and_tool_calls(fake: FakeLLM) -> None:
    fake.script(reply("Checking.", tool("run_sql", query="SELECT 1"), tool("run_sql", query="SELECT 2")))
    deltas: list[str] = []
    turn = openai_client(fake).complete("sys", HI, TOOLS, deltas.append)
    assert "".join(deltas) == "Checking."
    assert [c.input for c in turn.tool_calls] == [{"query": "SELECT 1"}, {"query": "SELECT 2"}]
    assert turn.usage.input_tokens == 100
    body = fake.bodies[0]
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert body["tools"][0]["function"]["name"] == "run_sql" and body["stream"] is True


def test_openai_malformed_arguments_and_tool_messages(fake: FakeLLM) -> None:
    fake.script(reply("", raw_tool("run_sql", '{"query": ')))
    (call,) = openai_client(fake).complete("s", HI, TOOLS).tool_calls
    assert call.error
    fake.script(reply("ok"))
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "run_sql", "input": {"query": "x"}}]},
        {"role": "tool", "results": [{"id": "c1", "name": "run_sql", "content": "r"}]},
    ]
    openai_client(fake).complete("s", messages, TOOLS)
    sent = fake.bodies[-1]["messages"]
    assert sent[2]["tool_calls"][0]["function"] == {"name": "run_sql", "arguments": '{"query": "x"}'}
    assert sent[3] == {"role": "tool", "tool_call_id": "c1", "content": "r"}


def test_openai_429_then_ok_and_compatible_server_needs_no_key(fake: FakeLLM) -> None:
    fake.script({"status": 429, "retry_after_ms": 10}, reply("fine"))
    client = make_client(f"openai-compatible:llama3@{fake.openai_url}", max_retries=2)
    assert client is not None
    assert client.complete("s", HI, []).text == "fine"
    assert len(fake.requests) == 2 and fake.bodies[1]["model"] == "llama3"
    fake.script({"status": 500})
    with pytest.raises(ModelError, match="server error"):
        client.complete("s", HI, [])
