"""%loop / %%loop through a real IPython InteractiveShell with a scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.testing.globalipapp import start_ipython

from loop_jupyter import magic
from loop_jupyter.demo import demo_logs
from tests.widget_helpers import ScriptedClient


@pytest.fixture(scope="module")
def ip():
    shell = start_ipython() or get_ipython()  # None when another file started it first
    magic.load_ipython_extension(shell)
    return shell


@pytest.fixture()
def session(ip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    logs = demo_logs(n_traces=200, seed=4)
    ip.user_ns.clear()
    ip.user_ns["logs"] = logs
    magics = ip.magics_manager.registry["LoopMagics"]
    magics._loops.clear()
    magics._logs_name = ""
    magics.workdir = str(tmp_path)
    from loop_jupyter.agent import session as session_module

    real = session_module.Loop

    class ScriptedLoop(real):  # the magic builds the Loop; give it the scripted model
        def __init__(self, logs, model=None, **kwargs):
            super().__init__(logs, client=ScriptedClient(), **kwargs)

    monkeypatch.setattr(session_module, "Loop", ScriptedLoop)
    return ip


def test_line_magic_answers_with_artifacts(session) -> None:
    session.run_line_magic("loop", "show slow traces")
    answer = magic.last_answer()
    assert answer is session.user_ns["_loop"]
    assert answer.question == "show slow traces" and "Here is what I found." in answer.text
    assert answer.frames and answer.frames[0].height > 0 and answer.figures
    assert answer.sql and answer.code
    assert answer.to_json()["artifacts"]


def test_cell_magic_and_interpolation(session) -> None:
    session.user_ns["threshold"] = 5
    session.run_cell_magic("loop", "", "show slow traces\nabove {threshold} seconds")
    assert magic.last_answer().question == "show slow traces\nabove 5 seconds"
    session.run_line_magic("loop", "what's slow about {threshold}?")  # apostrophes are fine
    assert magic.last_answer().question == "what's slow about 5?"
    with pytest.raises(UsageError, match="not defined"):
        session.run_line_magic("loop", "tell me about {nope}")


def test_options(session) -> None:
    session.user_ns["prod"] = session.user_ns.pop("logs")
    session.run_line_magic("loop", "--logs prod --yes show slow traces")
    loop = session.magics_manager.registry["LoopMagics"].loop_for(session.user_ns["prod"])
    assert loop.auto_accept is True
    session.run_line_magic("loop", "--logs prod --model offline show slow traces")
    assert loop.model == "offline"
    with pytest.raises(UsageError, match="not one of"):
        session.run_line_magic("loop", "--logs prod --model gpt-2 hi")
    with pytest.raises(UsageError, match=r"unrecognized arguments|options"):
        session.run_line_magic("loop", "--frobnicate hi")
    with pytest.raises(UsageError, match="no variable"):
        session.run_line_magic("loop", "--logs missing hi")
    with pytest.raises(UsageError, match="needs a value"):
        session.run_line_magic("loop", "--logs")


def test_confirm_and_cancel_from_the_magic(session, tmp_path: Path) -> None:
    session.run_line_magic("loop", "save a dataset of slow traces")
    pending = magic.last_answer().pending
    assert len(pending) == 1
    session.run_line_magic("loop", f"--confirm {pending[0].action_id}")
    assert [p for p in tmp_path.rglob("*") if p.is_file() and "slow_traces" in str(p)]
    with pytest.raises(UsageError, match="cannot confirm"):
        session.run_line_magic("loop", "--confirm nope")


def test_bare_magic_returns_the_chat_widget(session) -> None:
    from loop_jupyter.widgets.chat import ChatWidget

    chat = session.run_line_magic("loop", "")
    assert isinstance(chat, ChatWidget) and "offline" in chat.models
    chat.close()


def test_missing_logs_is_a_usage_error(session) -> None:
    session.user_ns.pop("logs")
    with pytest.raises(UsageError, match="no logs found"):
        session.run_line_magic("loop", "hi")


def test_config_traitlets(session) -> None:
    session.run_line_magic("config", "LoopMagics.auto_accept = True")
    try:
        session.run_line_magic("loop", "show slow traces")
        loop = session.magics_manager.registry["LoopMagics"].loop_for(session.user_ns["logs"])
        assert loop.auto_accept is True
    finally:
        session.run_line_magic("config", "LoopMagics.auto_accept = False")


def _run(shell, source: str):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = shell.run_cell(source)
    return result, captured


def test_a_question_ending_in_a_question_mark_reaches_the_magic(session) -> None:
    # IPython reads a trailing ? as its help syntax ("Object `errors` not found"); the magic must
    # see the line as typed, through the real input transformation of run_cell.
    result, captured = _run(session, "%loop What are the most common errors?")
    assert result.success, captured.stdout
    assert magic.last_answer().question == "What are the most common errors?"
    result, _ = _run(session, "%loop --yes why do tools fail?? ")
    assert result.success and magic.last_answer().question == "why do tools fail??"
    result, _ = _run(session, "x = 1\nif x:\n    %loop what's slow?\n")
    assert result.success and magic.last_answer().question == "what's slow?"
    result, _ = _run(session, "%%loop\nwhich tools fail?\nand why?")
    assert result.success and magic.last_answer().question == "which tools fail?\nand why?"
    before = magic.last_answer()
    result, captured = _run(session, "%loop?")  # help on the magic itself still works
    assert result.success and magic.last_answer() is before
    assert "Ask Loop about the logs" in captured.stdout


def test_variables_are_expanded_once(session) -> None:
    session.user_ns["v"] = "a{b}c"
    session.user_ns["n"] = 5
    result, captured = _run(session, "%loop spans about {v} over {n} s and {{literal}}")
    assert result.success, captured.stdout
    assert magic.last_answer().question == "spans about a{b}c over 5 s and {literal}"
    result, _ = _run(session, "%%loop\nerrors for {v}?")
    assert result.success and magic.last_answer().question == "errors for a{b}c?"
    session.user_ns["prod"] = session.user_ns["logs"]
    session.user_ns["which"] = "prod"
    result, _ = _run(session, "%loop --logs {which} errors for {n}")
    assert result.success and magic.last_answer().question == "errors for 5"
    assert session.magics_manager.registry["LoopMagics"]._logs_name == "prod"


def test_unload_ext(session) -> None:
    try:
        result, captured = _run(session, "%load_ext loop_jupyter")
        assert result.success, captured.stdout
        result, captured = _run(session, "%unload_ext loop_jupyter")
        assert result.success and "doesn't define how to unload" not in captured.stdout, captured.stdout
        assert "LoopMagics" not in session.magics_manager.registry
        assert magic.keep_question_marks not in session.input_transformers_cleanup
        result, _ = _run(session, "%loop hi")
        assert not result.success  # the magic is gone
        result, _ = _run(session, "%load_ext loop_jupyter")
        assert result.success and "LoopMagics" in session.magics_manager.registry
        assert session.input_transformers_cleanup.count(magic.keep_question_marks) == 1
    finally:
        _run(session, "%unload_ext loop_jupyter")
        magic.load_ipython_extension(session)  # as the module fixture left it
