"""The chat's context line: the ``done`` event carries the answer's usage, typed by the contract
(``ContextUsage`` in loop_jupyter/widgets/messages.py, ``usage`` in js/messages.json), without a browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loop_jupyter.agent.session import Loop
from loop_jupyter.agent.usage import AnswerUsage
from loop_jupyter.demo import demo_logs
from loop_jupyter.widgets.chat import ChatWidget
from loop_jupyter.widgets.messages import ContextUsage, contract, usage_message
from tests.test_widget_messages import _node_contract
from tests.widget_helpers import make_loop


def _chat(loop: Loop) -> ChatWidget:
    widget = ChatWidget(loop)
    widget.threaded = False
    sent: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    widget.sent = sent  # type: ignore[attr-defined]
    return widget


def _done(widget: ChatWidget, text: str) -> dict[str, Any]:
    reply, _ = widget.handle({"id": 1, "type": "ask", "text": text})
    assert reply["ok"], reply
    widget.loop.wait(reply["run_id"], timeout=120)
    (done,) = [m for m in widget.sent if m.get("event") == "done"]
    return done


def test_done_event_carries_the_context_line(tmp_path: Path) -> None:
    widget = _chat(make_loop(demo_logs(n_traces=40, seed=2), workdir=tmp_path))
    try:
        done = _done(widget, "show slow traces")
        usage = done["data"]["usage"]
        answer = widget.loop.last_answer
        assert answer is not None and usage == answer.usage.to_json()
        ContextUsage.model_validate(usage)
        # The scripted model reports 10 in / 5 out per call: search_tools, the tools, the summary.
        assert (usage["requests"], usage["input_tokens"], usage["output_tokens"]) == (3, 30, 15)
        assert usage["line"] == "30 in · 15 out"  # no price or window known for "scripted"
        assert usage["cost_usd"] is None and usage["context_window"] is None
    finally:
        widget.close()
        widget.loop.close()


def test_offline_context_line_says_no_model_was_called(tmp_path: Path) -> None:
    widget = _chat(Loop(demo_logs(n_traces=40, seed=2), "offline", workdir=tmp_path))
    try:
        usage = _done(widget, "What are the most common errors?")["data"]["usage"]
        assert usage["line"] == "no model calls (offline planner)"
        assert usage["requests"] == usage["input_tokens"] == usage["output_tokens"] == 0
    finally:
        widget.close()
        widget.loop.close()


def test_usage_message_refuses_a_malformed_usage() -> None:
    good = usage_message(AnswerUsage(model="m"))
    assert good["line"] == "no model calls" and set(good) == set(contract()["usage"]["required"])
    with pytest.raises(ValueError):
        usage_message({**good, "input_tokens": "many"})
    with pytest.raises(ValueError):
        usage_message({**good, "surprise": 1})


def test_the_js_side_checks_the_usage(tmp_path: Path) -> None:
    usage = AnswerUsage(model="m", requests=1, input_tokens=1200, output_tokens=30, context_window=200_000)
    usage.context_tokens = 1230
    good = usage.to_json()
    script = f"""const good = {json.dumps(good)};
const push = (usage) => c.pushProblem("chat", {{type: "event", event: "done", run_id: "r", data: {{usage}}}});
console.log(JSON.stringify({{
  good: c.usageProblem(good),
  pushGood: push(good),
  lacks: (() => {{ const u = {{...good}}; delete u.line; return c.usageProblem(u); }})(),
  wrongType: push({{...good, input_tokens: "1.2k"}}),
  extra: c.usageProblem({{...good, other: 1}}),
}}));"""
    result = _node_contract(tmp_path, script)
    assert result["good"] == result["pushGood"] == ""
    assert 'lacks "line"' in result["lacks"]
    assert "wrong type" in result["wrongType"] and 'no field "other"' in result["extra"]
