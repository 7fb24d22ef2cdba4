"""Model faults through the real SDKs and the whole session, for both providers.

tests/test_agent_models.py covers the bare clients (Anthropic: 429 retried, 529/500/429 after
retries, timeout, reset mid-stream, malformed arguments; OpenAI: malformed arguments, 429 retried,
500) and tests/test_agent_session.py a few faults through the Anthropic session (529, drop before
text, unknown tool + malformed arguments, turn cap). This table runs every fault through a
:class:`Loop` on the Anthropic *and* the OpenAI-compatible client, with a second question queued
behind the faulty one. For each: the fault is retried or reported in plain words, the history
stays well formed (every tool call has exactly one result, no orphans, what the next request sends
is a valid exchange), and the queued question still runs.
"""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl
import pytest

from loop_jupyter.agent.session import Event, Loop
from tests.agent_fixtures import build_logs
from tests.fake_llm import FakeLLM, raw_tool, reply, tool

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]

FAST = 10  # retry-after in ms, so SDK retries do not wait their default backoff
#: The clients' timeout: long enough that a loaded machine answers a scripted reply in time (0.5 s
#: made a 529 read as a timeout once in CI), short enough that the hang cases stay quick.
TIMEOUT_S = 2.0
HANG_S = 5.0
SQL = tool("run_sql", query="SELECT count(*) AS n FROM logs")


def fault(status: int) -> dict[str, Any]:
    return {"status": status, "retry_after_ms": FAST}


#: name -> (script for the first question, what its answer says, model requests it takes, max_turns)
#: ``"error:..."`` means the answer is an error containing the text; otherwise the answer text
#: contains it; ``"error:connection"`` any plain dropped-connection message. A dict gives the
#: outcome per provider where they differ (none do now: unparseable tool JSON is a tool error the
#: model can fix on both). All clients are made with max_retries=1 and a TIMEOUT_S timeout.
FAULTS: dict[str, tuple[list[dict[str, Any]], str | dict[str, str], int, int]] = {
    "429 retried with retry-after": ([fault(429), reply("ok after 429")], "ok after 429", 2, 12),
    "429 after retries": ([fault(429), fault(429)], "error:rate limit (429) after 1 retry", 2, 12),
    "529 overloaded retried": ([fault(529), reply("ok after 529")], "ok after 529", 2, 12),
    "529 overloaded after retries": ([fault(529), fault(529)], "error:overloaded (529) after 1 retry", 2, 12),
    "500 retried": ([fault(500), reply("ok after 500")], "ok after 500", 2, 12),
    "500 after retries": ([fault(500), fault(500)], "error:server error (500) after 1 retry", 2, 12),
    "503 after retries": ([fault(503), fault(503)], "error:server error (503)", 2, 12),
    "401 bad key, not retried": ([{"status": 401}], "error:refused the API key (401)", 1, 12),
    "404 retired model, not retried": (
        [{"status": 404, "message": "model: claude-sonnet-4-5"}],
        "error:does not serve the model",
        1,
        12,
    ),
    "timeout retried": ([{"hang": HANG_S}, reply("ok after timeout")], "ok after timeout", 2, 12),
    "timeout after retries": ([{"hang": HANG_S}, {"hang": HANG_S}], "error:did not answer in time", 2, 12),
    "reset before any text, retried once": ([reply("lost", reset_after=1), reply("ok after reset")], "ok after", 2, 12),
    "reset after text was shown": (
        [reply("this text is shown and then lost", reset_after=5)],
        "error:connection",
        1,
        12,
    ),
    "reset mid-stream after a tool ran": (
        [reply("", SQL), reply("a partial answer that is cut off", reset_after=5)],
        "error:connection",
        2,
        12,
    ),
    "fault after a tool ran": ([reply("", SQL), fault(529), fault(529)], "error:overloaded (529)", 3, 12),
    "malformed tool arguments": ([reply("", raw_tool("run_sql", '{"query": "SEL')), reply("fixed")], "fixed", 2, 12),
    "arguments not an object": ([reply("", raw_tool("run_sql", '["SELECT 1"]')), reply("fixed")], "fixed", 2, 12),
    "unknown tool name": ([reply("", tool("drop_everything", really=True)), reply("sorry")], "sorry", 2, 12),
    "unknown and valid calls in one turn": (
        [reply("", tool("nope"), SQL, raw_tool("run_sql", "{bad")), reply("mixed")],
        "mixed",
        2,
        12,
    ),
    "never stops calling tools (turn cap)": ([reply("", SQL)] * 4, "Stopped after 4 model turns", 4, 4),
}
EXPECTED_TOOL_ERRORS = {
    "malformed tool arguments": ["not valid JSON"],
    "arguments not an object": ["must be a JSON object"],
    "unknown tool name": ["Unknown tool 'drop_everything'"],
    "unknown and valid calls in one turn": ["Unknown tool 'nope'", None, "not valid JSON"],
}
PROVIDERS = ("anthropic", "openai")


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return build_logs(n_traces=10)


def make_loop(provider: str, logs: pl.DataFrame, fake: FakeLLM, max_turns: int) -> Loop:
    common: dict[str, Any] = {"max_retries": 1, "timeout_s": TIMEOUT_S, "max_turns": max_turns}
    if provider == "anthropic":
        return Loop(logs, "claude-4.5-sonnet", base_url=fake.url, api_key="test", **common)
    return Loop(logs, f"openai-compatible:fake-model@{fake.openai_url}", **common)


def check_history(loop: Loop) -> None:
    """Every tool call has exactly one result, right after its assistant turn; no orphans."""
    open_calls: list[str] = []
    seen_results: list[str] = []
    for message in loop.history:
        if message.kind == "assistant":
            assert not open_calls, f"calls without results before the next turn: {open_calls}"
            open_calls = [c["id"] for c in message.data["tool_calls"]]
        elif message.kind == "tool_result":
            assert message.data["id"] in open_calls, f"orphan result {message.data['id']}"
            open_calls.remove(message.data["id"])
            seen_results.append(message.data["id"])
        elif message.kind == "user":
            assert not open_calls, f"calls without results before a new question: {open_calls}"
    assert not open_calls and len(seen_results) == len(set(seen_results))


def check_request(provider: str, body: dict[str, Any]) -> None:
    """The request a provider received is a valid exchange: each tool call answered, in order."""
    messages = body["messages"]
    if provider == "anthropic":
        roles = [m["role"] for m in messages]
        assert roles[0] == "user" and all(a != b for a, b in itertools.pairwise(roles)), roles
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            uses = [b["id"] for b in message["content"] if b["type"] == "tool_use"]
            if uses:
                following = messages[i + 1]["content"]
                results = [b["tool_use_id"] for b in following if isinstance(b, dict) and b["type"] == "tool_result"]
                assert results == uses
        return
    for i, message in enumerate(messages):
        calls = [c["id"] for c in message.get("tool_calls") or []]
        if message["role"] == "assistant" and calls:
            answered = [m["tool_call_id"] for m in messages[i + 1 : i + 1 + len(calls)]]
            assert answered == calls and all(m["role"] == "tool" for m in messages[i + 1 : i + 1 + len(calls)])
    tool_ids = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    call_ids = [c["id"] for m in messages for c in m.get("tool_calls") or []]
    assert tool_ids == call_ids


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("name", list(FAULTS))
def test_model_fault(provider: str, name: str, logs: pl.DataFrame) -> None:
    script, outcome, requests, max_turns = FAULTS[name]
    if isinstance(outcome, dict):
        outcome = outcome[provider]
        if outcome.startswith("error:"):  # the turn fails as a whole: the rest of the script is unused
            requests, script = 1, script[:1]
    with FakeLLM() as fake:
        fake.script(*script, reply("second answer"))
        loop = make_loop(provider, logs, fake, max_turns)
        finals: list[Event] = []
        loop.subscribe(lambda e: finals.append(e) if e.type in ("done", "error", "interrupted") else None)
        first = loop.submit("first question")
        second = loop.submit("second question, queued behind the fault")
        answer = loop.wait(first, 30)
        queued = loop.wait(second, 30)
        bodies = fake.bodies

    if outcome == "error:connection":
        assert answer.error and ("dropped mid-answer" in answer.error or "Lost the connection" in answer.error)
    if outcome.startswith("error:"):
        assert answer.error and (outcome == "error:connection" or outcome[6:] in answer.error), answer.error
        assert answer.error in answer.text and "Traceback" not in answer.error
        assert [(e.run_id, e.type) for e in finals] == [(first, "error"), (second, "done")]
        assert finals[0].data["kind"] in {
            "rate_limit",
            "overloaded",
            "server",
            "auth",
            "timeout",
            "connection",
            "malformed",
            "model",
        }
        assert loop.history[[m.run_id for m in loop.history].index(second) - 1].kind == "error"
    else:
        assert answer.error is None and outcome in answer.text, answer.text
        assert [(e.run_id, e.type) for e in finals] == [(first, "done"), (second, "done")]
    assert len(bodies) == requests + 1, [b.get("messages", [])[-1:] for b in bodies]
    # The tool errors a model gets back say what was wrong.
    errors = [
        (m.data["is_error"], m.data["model_text"])
        for m in loop.history
        if m.kind == "tool_result" and m.run_id == first
    ]
    wanted_errors = EXPECTED_TOOL_ERRORS.get(name, []) if answer.error is None else []
    for wanted, (is_error, text) in zip(wanted_errors, errors if wanted_errors else [], strict=True):
        assert is_error == (wanted is not None) and (wanted is None or wanted in text), text
    # The queued question ran, on a well-formed history.
    assert queued.error is None and queued.text == "second answer"
    check_history(loop)
    check_request(provider, bodies[-1])
    assert [m.text for m in loop.history if m.kind == "user"] == [
        "first question",
        "second question, queued behind the fault",
    ]
