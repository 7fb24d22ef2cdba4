"""LLM-as-judge scorers read the judge's choice from structured output (issue 13): a forced
``select_choice`` tool call whose ``choice`` is an enum of the letters, through the real anthropic
and openai SDKs against the fake servers. "The output is a refusal. Answer: C" is C (it used to
score as A: a regex for a lone capital letter found the "a" of "a refusal")."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.agent.judge import JudgeError, SessionModel
from loop_jupyter.agent.models import AnthropicClient, AssistantTurn, OpenAIClient, ToolCall
from loop_jupyter.agent.session import Loop
from loop_jupyter.analysis._sandbox import letter_from_text, score_in_child
from loop_jupyter.analysis.scorers import create_scorer, run_scorer, scorer_rows
from loop_jupyter.artifacts import Pending, Table
from loop_jupyter.tools import ToolContext
from tests.analysis_logs import chat_trace, frame
from tests.fake_llm import FakeLLM, reply, tool

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]

OUTPUTS = {"a": "all good", "b": "fine", "c": "hmm", "d": "nope", "e": "sorry, I cannot help with that"}
SCORE = {"A": 1.0, "B": 0.5, "C": 0.0}
#: (the judge's prose, the choice in its tool call), one per row in turn.
VERDICTS = [
    ("The output is a refusal. Answer: C", "C"),
    ("A good answer overall. Answer: A", "A"),
    ("Partly helpful. Answer: B", "B"),
    ("The output is a refusal. Answer: C", "C"),
    ("It is A-grade work? No: a refusal. Answer: C", "C"),
]


def _logs() -> pl.DataFrame:
    return frame(*(chat_trace(root, f"question {root}", output) for root, output in OUTPUTS.items()))


def judged(requests: list[dict], table: pl.DataFrame, column: str) -> None:
    """Each row's score is the choice of the tool call that answered the request about that row."""
    want = {}
    for body, (_, letter) in zip(requests, VERDICTS, strict=True):
        prompt = body["messages"][-1]["content"]
        (root,) = [r for r, output in OUTPUTS.items() if f"[Output]\n{output}\n" in prompt]
        want[root] = SCORE[letter]
    assert dict(zip(table["root_span_id"], table[column], strict=True)) == want


def test_anthropic_judge_through_the_session(tmp_path: Path) -> None:
    with FakeLLM() as fake:
        fake.script(reply("Proposing.", tool("create_scorer", name="helpful", kind="llm_judge")), reply("Proposed."))
        loop = Loop(_logs(), "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0, workdir=tmp_path)
        loop.ask("create an LLM-as-judge scorer for helpfulness")
        (proposal,) = loop.pending()
        loop.confirm(proposal.action_id)
        fake.script(
            reply("Running it.", tool("run_scorer", name_or_path="helpful")),
            *(reply(text, tool("select_choice", reasons=text, choice=letter)) for text, letter in VERDICTS),
            reply("Done."),
        )
        answer = loop.ask("run the helpful scorer")
        bodies = fake.bodies
    assert answer.error is None and not [a for a in answer.artifacts if isinstance(a, Pending)]
    judge_bodies = bodies[3:8]  # create, its result; run; then the five judge requests
    for body in judge_bodies:
        assert body["tool_choice"] == {"type": "tool", "name": "select_choice"}
        (offered,) = body["tools"]
        assert offered["input_schema"]["properties"]["choice"]["enum"] == ["A", "B", "C"]
        assert not body.get("stream")
    table = next(a for a in answer.artifacts if isinstance(a, Table) and "helpful" in a.frame.columns).frame
    judged(judge_bodies, table, "helpful")


def test_openai_judge(tmp_path: Path) -> None:
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    create_scorer(ctx, name="helpful", kind="llm_judge").first(Pending).action()
    with FakeLLM() as fake:
        fake.script(*(reply(text, tool("select_choice", reasons=text, choice=letter)) for text, letter in VERDICTS))
        ctx.llm = SessionModel(OpenAIClient("gpt-test", api_key="test", base_url=fake.openai_url, max_retries=0))
        result = run_scorer(ctx, "helpful")
        bodies = fake.bodies
    assert not result.is_error and "5 scored" in result.text
    for body in bodies:
        assert body["tool_choice"] == {"type": "function", "function": {"name": "select_choice"}}
        assert body["tools"][0]["function"]["parameters"]["properties"]["choice"]["enum"] == ["A", "B", "C"]
    for body in bodies:  # the judge() helper reads the prompt from the last message
        body["messages"] = [m for m in body["messages"] if m["role"] == "user"]
    judged(bodies, result.first(Table).frame, "helpful")


def test_no_choice_is_no_score_never_a_guess(tmp_path: Path) -> None:
    ctx = ToolContext(logs=_logs(), workdir=tmp_path)
    create_scorer(ctx, name="helpful", kind="llm_judge").first(Pending).action()
    steps = [
        reply("The output is a refusal. Answer: C"),  # prose only: no tool call
        reply("", tool("select_choice", reasons="x", choice="D")),  # outside the enum
        {"status": 500},  # the API fails for this row only
        reply("", tool("select_choice", reasons="x", choice="B")),
        reply("", tool("select_choice", reasons="x", choice="A")),
    ]
    with FakeLLM() as fake:
        fake.script(*steps, *steps)
        ctx.llm = SessionModel(AnthropicClient("claude-x", api_key="test", base_url=fake.url, max_retries=0))
        result = run_scorer(ctx, "helpful")
        path = tmp_path / "loop_scorers" / "helpful" / "v1.py"
        run = score_in_child(path.read_bytes(), path, scorer_rows(ctx, None, "traces"), ctx.llm)
    assert result.first(Table).frame.get_column("helpful").to_list() == [None, None, None, 0.5, 1.0]
    assert "3 rows failed, e.g. RuntimeError: JudgeError: the judge answered without calling select_choice" in (
        result.text
    )
    assert run.values == [None, None, None, 0.5, 1.0]
    no_call, not_listed, api = (f.split(": ", 1)[1] for f in run.failures)
    assert no_call == "JudgeError: the judge answered without calling select_choice"
    assert not_listed == "JudgeError: the judge chose 'D', not one of A, B, C"
    assert api.startswith("ModelError: Anthropic error (500): ") and "fake 500" in api


def test_other_chat_clients_are_offered_the_tool() -> None:
    class Scripted:
        name = "scripted"

        def __init__(self, turn: AssistantTurn) -> None:
            self.turn, self.seen = turn, []

        def complete(self, system, messages, tools, stream_callback=None):
            self.seen.append(tools)
            return self.turn

    client = Scripted(AssistantTurn("Answer: A", [ToolCall("1", "select_choice", {"reasons": "r", "choice": "C"})]))
    assert SessionModel(client).choose("grade", ["A", "B", "C"]) == "C"
    assert client.seen[0][0]["input_schema"]["properties"]["choice"]["enum"] == ["A", "B", "C"]
    with pytest.raises(JudgeError, match="without calling"):
        SessionModel(Scripted(AssistantTurn("Answer: C"))).choose("grade", ["A", "B", "C"])


def test_plain_callables_must_answer_with_the_letter_itself() -> None:
    choices = ["A", "B", "C"]
    for text, letter in [("C", "C"), (" b. ", "B"), ("**A**", "A"), ('{"choice": "C"}', "C")]:
        assert letter_from_text(text, choices) == letter
    for text in ["The output is a refusal. Answer: C", "A or B", "", "D"]:
        with pytest.raises(ValueError, match="not one of A, B, C"):
            letter_from_text(text, choices)
