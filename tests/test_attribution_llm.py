"""Failure attribution with a model: all-at-once, step-by-step and binary search through the real
SDKs against the scripted fake server; structured answers, bounded context, fallbacks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.agent.models import AnthropicClient, OpenAIClient
from loop_jupyter.analysis.attribution import attributions, strip_labels, trace_steps
from loop_jupyter.analysis.attribution_llm import judge_from_client, judge_from_text, render
from tests.fake_llm import FakeLLM, reply, tool


@pytest.fixture
def fake(no_real_keys):
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def run_file(fixtures_dir: Path) -> Path:
    return fixtures_dir / "who-and-when" / "Who&When" / "Algorithm-Generated" / "3.json"


@pytest.fixture
def poisoned(run_file: Path, tmp_path: Path) -> pl.DataFrame:
    run = json.loads(run_file.read_text())
    run.update(mistake_agent="SENTINEL_AGENT", mistake_reason="SENTINEL_REASON")
    path = tmp_path / "3.json"
    path.write_text(json.dumps(run))
    return lj.load_logs(str(path))


def _prompts(fake: FakeLLM) -> list[str]:
    texts = []
    for body in fake.bodies:
        for message in body["messages"]:
            content = message["content"]
            texts.append(content if isinstance(content, str) else " ".join(b.get("text", "") for b in content))
    return texts


def test_all_at_once_structured_through_anthropic(fake: FakeLLM, poisoned: pl.DataFrame, run_file: Path) -> None:
    history = json.loads(run_file.read_text())["history"]
    fake.script(reply("", tool("answer", agent=history[2]["name"], step=2, reason="wrong formula")))
    client = AnthropicClient("claude-test", api_key="test", base_url=fake.url, max_retries=0)
    (found,) = attributions(poisoned, all_traces=True, method="all_at_once", judge=judge_from_client(client))
    assert (found.agent, found.step, found.rule) == (history[2]["name"], 2, "all_at_once")
    assert found.evidence_span_id.endswith("-s2") and "wrong formula" in found.reason
    (body,) = fake.bodies
    assert [t["name"] for t in body["tools"]] == ["answer"]
    assert set(body["tools"][0]["input_schema"]["required"]) == {"agent", "step", "reason"}
    prompt = " ".join(_prompts(fake))
    assert all(f"[step {i}]" in prompt for i in range(len(history)))
    assert "SENTINEL" not in prompt and "mistake_agent" not in prompt


def test_binary_search_asks_log2_questions_through_openai(fake: FakeLLM, poisoned: pl.DataFrame) -> None:
    clean = strip_labels(poisoned)
    _, steps = trace_steps(clean.to_dicts())
    agent_steps = [s for s in steps if s.kind == "agent"]
    # always "lower": ends on the first agent turn after ceil(log2 n) questions (the longer path)
    questions = math.ceil(math.log2(len(agent_steps)))
    fake.script(*[reply("", tool("answer", half="lower", reason="earlier")) for _ in range(questions)])
    client = OpenAIClient("gpt-test", api_key="test", base_url=fake.openai_url, max_retries=0)
    (found,) = attributions(poisoned, all_traces=True, method="binary_search", judge=judge_from_client(client))
    assert (found.step, found.agent) == (agent_steps[0].position, agent_steps[0].agent)
    assert len(fake.bodies) == questions


def test_step_by_step_with_a_text_model_stops_at_the_first_decisive_turn(fake: FakeLLM, poisoned: pl.DataFrame) -> None:
    client = AnthropicClient("claude-test", api_key="test", base_url=fake.url, max_retries=0)

    def llm(prompt: str) -> str:  # what the session gives tools as ToolContext.llm
        return client.complete("You are a careful assistant.", [{"role": "user", "content": prompt}], []).text

    fake.script(reply('{"decisive": false, "reason": "fine"}'), reply('Sure: {"decisive": true, "reason": "bad code"}'))
    (found,) = attributions(poisoned, all_traces=True, method="step_by_step", judge=judge_from_text(llm))
    _, steps = trace_steps(strip_labels(poisoned).to_dicts())
    second = [s for s in steps if s.kind == "agent"][1]
    assert (found.step, found.agent, found.rule) == (second.position, second.agent, "step_by_step")
    assert len(fake.bodies) == 2
    first, last = _prompts(fake)
    assert f"[step {second.position}]" not in first and f"[step {second.position}]" in last  # history so far only


def test_an_invalid_answer_falls_back_to_offline(fake: FakeLLM, poisoned: pl.DataFrame) -> None:
    fake.script(reply("", tool("answer", agent="Nobody", step=99, reason="?")))
    client = AnthropicClient("claude-test", api_key="test", base_url=fake.url, max_retries=0)
    (model,) = attributions(poisoned, all_traces=True, method="all_at_once", judge=judge_from_client(client))
    (offline,) = attributions(poisoned, all_traces=True)
    assert (model.agent, model.step) == (offline.agent, offline.step)
    assert "step 99" in model.reason and "offline answer" in model.reason


def test_context_is_bounded_for_long_traces() -> None:
    from loop_jupyter.analysis.attribution import Step

    steps = [Step(i, f"s{i}", f"agent{i % 3}", "agent", "x" * 200_000, None) for i in range(60)]
    text = render("the task", steps, budget=24_000)
    assert len(text) < 24_000 + 60 * 120  # each step within its share, plus its header
    assert all(f"[step {i}]" in text for i in range(60))


def test_the_tool_uses_the_session_model(fake: FakeLLM, poisoned: pl.DataFrame, run_file: Path) -> None:
    """Through the agent loop: the model calls the tool with a method; the tool asks the same model."""
    history = json.loads(run_file.read_text())["history"]
    fake.script(
        reply("", tool("attribute_failure", method="all_at_once")),
        reply(json.dumps({"agent": history[4]["name"], "step": 4, "reason": "verified a wrong result"})),
        reply("Step 4 was decisive."),
    )
    loop = lj.Loop(poisoned, "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0)
    try:
        answer = loop.ask("Which agent made the mistake? Use the model.")
    finally:
        loop.close()
    assert [c["name"] for c in answer.tool_calls] == ["attribute_failure"]
    (table,) = [a for a in answer.artifacts if a.kind == "table"]
    assert table.frame.select("agent", "step").row(0) == (history[4]["name"], 4)
    assert "SENTINEL" not in json.dumps(fake.bodies)


def test_the_tool_without_a_model_says_it_answered_offline(poisoned: pl.DataFrame) -> None:
    from loop_jupyter.analysis.attribution import attribute_failure_tool
    from loop_jupyter.tools import ToolContext

    result = attribute_failure_tool(ToolContext(logs=poisoned), method="binary_search")
    assert "No model is configured" in result.text
    (offline,) = attributions(poisoned)
    assert result.frames[0].select("agent", "step").row(0) == (offline.agent, offline.step)
    with pytest.raises(ValueError, match="needs a model"):
        attributions(poisoned, method="binary_search")
