"""Compaction of long chats, through the real Anthropic and OpenAI SDK clients against a local fake
server: after many turns the request carries the summary instead of the old turns and stays under
the budget; /compact and loop.compact() do it on demand; the full transcript is kept."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest

import loop_jupyter as lj
from loop_jupyter.agent.budget import estimate_tokens
from loop_jupyter.agent.compaction import MARKER, SUMMARY_SYSTEM, extractive_summary, model_messages
from loop_jupyter.agent.session import Loop
from tests.agent_fixtures import build_logs
from tests.fake_llm import FakeLLM, reply
from tests.fake_llm import tool as call

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]

SUMMARY_TEXT = "SUMMARY-BY-MODEL: the person asked about spans; counts were found."
SUMMARY_HINT = SUMMARY_SYSTEM.split(".")[0][:60]
BIG_QUERY = "SELECT span_id, name, input, output FROM logs LIMIT 40"


class SummarizingFake(FakeLLM):
    """A FakeLLM that answers summary requests itself (whenever they come) and scripts the rest."""

    def __init__(self, summary: dict | None = None) -> None:
        super().__init__()
        self.summary = summary or reply(SUMMARY_TEXT)
        self.summary_requests = 0

    def _handle(self, h) -> None:
        raw = h.rfile.read(int(h.headers.get("content-length", 0)))
        h.rfile = io.BytesIO(raw)
        if SUMMARY_HINT in raw.decode("utf-8", "replace"):
            self.summary_requests += 1
            self.replies.appendleft(dict(self.summary))
        super()._handle(h)


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return build_logs(n_traces=40)


def fixed_tokens(loop: Loop) -> int:
    from loop_jupyter.agent.tool_choice import ToolChoice
    from loop_jupyter.tools import load_tools

    # What the first request sends: the always-on tools (tool search), not every schema.
    choice = ToolChoice(load_tools(), search=loop.tool_search)
    return estimate_tokens({"system": loop.system_prompt() + choice.note(), "tools": choice.schemas()})


def ask_many(loop: Loop, fake: FakeLLM, n: int) -> list[str]:
    questions = []
    for i in range(n):
        fake.script(reply("", call("run_sql", query=BIG_QUERY)), reply(f"Answer {i}: zebra{i} found."))
        questions.append(f"question {i} about giraffe{i}")
        answer = loop.ask(questions[-1])
        assert answer.error is None, answer.text
    return questions


def answer_requests(fake: FakeLLM) -> list[dict]:
    return [r for r in fake.requests if SUMMARY_HINT not in json.dumps(r["body"])]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_long_chat_is_compacted_before_the_window_fills(logs: pl.DataFrame, tmp_path: Path, provider: str) -> None:
    with SummarizingFake() as fake:
        if provider == "openai":
            loop = Loop(
                logs, f"openai-compatible:qwen@{fake.openai_url}", max_retries=0, workdir=tmp_path, log_runs=True
            )
        else:
            loop = Loop(
                logs,
                "claude-4.5-sonnet",
                base_url=fake.url,
                api_key="test",
                max_retries=0,
                workdir=tmp_path,
                log_runs=True,
            )
        window = fixed_tokens(loop) + 3000  # the system prompt and tool schemas, plus ~6 questions
        loop.compaction.window_tokens = window
        loop.compaction.summary_tokens = 300
        deltas: list[str] = []
        loop.subscribe(lambda e: deltas.append(e.data["text"]) if e.type == "text_delta" else None)
        questions = ask_many(loop, fake, 8)
        loop.close()
    markers = [m for m in loop.history if m.kind == "compaction"]
    assert markers and fake.summary_requests == len(markers)
    assert all(m.text.startswith(MARKER) and m.data["by"] == "model" for m in markers)
    assert any(MARKER in d for d in deltas)  # visible in the stream (chat, CLI, magic)
    # The last request carries the summary instead of the first turns, and every request fits.
    last = json.dumps(answer_requests(fake)[-1]["body"])
    assert SUMMARY_TEXT in last and "giraffe0" not in last and "zebra0" not in last
    assert "giraffe7" in last  # the current question is there in full
    assert max(max(row["requests"]) for row in loop.token_log) <= window
    unsummarized = estimate_tokens(loop._conversation.model_messages()) + fixed_tokens(loop)
    assert unsummarized > window  # without compaction the last request would not have fit
    for request in answer_requests(fake):
        assert request["bytes"] / 4 <= window * 1.15  # the wire format is a little larger than the estimate
    # The full transcript is kept: in memory and in the run log.
    assert [m.text for m in loop.history if m.kind == "user"] == questions
    runs = lj.load_logs(tmp_path / ".loop" / "runs")
    roots = runs.filter(pl.col("is_root")).get_column("input").to_list()
    assert sorted(json.loads(r)["question"] for r in roots) == sorted(questions)
    compactions = runs.filter(pl.col("name") == "compaction")
    assert compactions.height == len(markers) and SUMMARY_TEXT in compactions.get_column("output")[0]


def test_compact_command_and_loop_compact(logs: pl.DataFrame, tmp_path: Path) -> None:
    with SummarizingFake() as fake:
        loop = Loop(
            logs,
            "claude-4.5-sonnet",
            base_url=fake.url,
            api_key="test",
            max_retries=0,
            workdir=tmp_path,
            log_runs=False,
        )
        ask_many(loop, fake, 2)
        before = len(fake.requests)
        answer = loop.ask("/compact")
        assert answer.text.startswith(MARKER) and "2 question(s)" in answer.text
        assert fake.summary_requests == 1 and len(fake.requests) == before + 1
        assert not [m for m in loop.history if m.kind == "user" and m.text == "/compact"]  # not a question
        fake.script(reply("After compaction."))
        loop.ask("one more about okapi")
        last = json.dumps(fake.requests[-1]["body"])
        assert SUMMARY_TEXT in last and "giraffe0" not in last and "okapi" in last
        second = loop.compact()  # the okapi question since: summarized with the first summary
        assert "1 question(s)" in second.text and fake.summary_requests == 2
        assert SUMMARY_TEXT in json.dumps(fake.requests[-1]["body"])
        loop.close()


def test_without_a_model_the_summary_is_extractive(logs: pl.DataFrame) -> None:
    loop = Loop(logs, "offline", log_runs=False)
    questions = ["What are the most common errors?", "how many spans are there"]
    answers = [loop.ask(q) for q in questions]
    marker_answer = loop.compact()
    marker = next(m for m in loop.history if m.kind == "compaction")
    assert marker.data["by"] == "extractive" and marker_answer.text == marker.text
    summary = marker.data["summary"]
    for question, answer in zip(questions, answers, strict=True):
        assert question in summary
        assert answer.tool_calls[0]["name"] in summary
    sent = model_messages(loop._conversation)
    assert len(sent) == 1 and MARKER in sent[0]["content"]  # only the summary is left for the model
    assert loop.compact().text == "Nothing to summarize yet."
    # Deterministic: the same messages give the same summary.
    older = [m for m in loop.history if m.kind != "compaction"]
    assert extractive_summary(older, None, 1500) == summary
    # The next question still works offline after the summary.
    assert loop.ask("how many spans are there").tool_calls == answers[1].tool_calls


def test_summary_model_failure_falls_back_and_edits_drop_the_marker(logs: pl.DataFrame) -> None:
    with SummarizingFake(summary={"status": 500}) as fake:
        loop = Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="test", max_retries=0, log_runs=False)
        ask_many(loop, fake, 2)
        answer = loop.compact()
        assert "extractive" in answer.text
        marker = next(m for m in loop.history if m.kind == "compaction")
        assert "giraffe0" in marker.data["summary"] and "zebra1" in marker.data["summary"]
        # Editing the first question cuts the history (and the marker) there: nothing stays summarized.
        fake.script(reply("edited answer"))
        loop.wait(loop.edit(0, "question 0 edited"))
        assert not [m for m in loop.history if m.kind == "compaction"]
        assert "<conversation_summary>" not in json.dumps(fake.requests[-1]["body"])
        loop.close()


def test_compact_typed_in_the_chat_widget(logs: pl.DataFrame) -> None:
    from loop_jupyter.widgets.chat import ChatWidget

    loop = Loop(logs, "offline", log_runs=False)
    widget = ChatWidget(loop)
    widget.threaded = False
    sent: list[dict] = []
    widget.send = sent.append  # type: ignore[method-assign]
    try:
        loop.wait(widget.ask("What are the most common errors?"))
        run_id = widget.ask("/compact")
        answer = loop.wait(run_id)
        events = [m for m in sent if m.get("type") == "event" and m["run_id"] == run_id]
        kinds = [e["event"] for e in events]
        assert kinds[0] == "queued" and "started" in kinds and kinds[-1] == "done"
        shown = "".join(e["data"].get("text", "") for e in events if e["event"] == "text_delta")
        assert MARKER in shown and answer.text.startswith(MARKER)
        assert widget.busy == ""
    finally:
        widget.close()
        loop.close()
