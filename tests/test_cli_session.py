"""``ask QUESTION --session NAME``: a conversation held across CLI invocations, in ./.loop/sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loop_jupyter.agent.session import Loop
from loop_jupyter.cli import main
from tests.agent_fixtures import build_events
from tests.fake_llm import FakeLLM, reply

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]

ROOT = Path(__file__).resolve().parent.parent
# The keys of `ask --json` (docs/cli.md): a session adds none.
ASK_KEYS = {"text", "tool_calls", "artifacts", "model", "tokens_sent", "usage", "error"}


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "logs.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in build_events(n_traces=40)) + "\n")
    return path


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    env["PYTHONPATH"] = str(ROOT)
    env["LOOP_JUPYTER_CONFIG"] = str(cwd / "none.toml")
    return subprocess.run(
        [sys.executable, "-m", "loop_jupyter", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=180
    )


def test_ask_session_follow_up_across_invocations(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _cli(
        tmp_path, "ask", "LLM spans longer than 60 seconds", "--logs", str(log_file), "--session", "review", "--json"
    )
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert set(out) == ASK_KEYS  # --json unchanged by --session
    assert out["tool_calls"][0]["name"] == "generate_filter"
    assert (tmp_path / ".loop" / "sessions" / "review.jsonl").is_file()

    # The second invocation (a model this time) continues the same conversation: the model gets the
    # first question and its tool call and result before the follow-up.
    monkeypatch.chdir(tmp_path)
    with FakeLLM() as fake:
        fake.script(reply("Because they waited on the model."))
        model = f"openai-compatible:local@{fake.openai_url}"
        code = main(["ask", "why?", "--logs", str(log_file), "--model", model, "--session", "review", "--json"])
    assert code == 0
    second = json.loads(capsys.readouterr().out)
    assert set(second) == ASK_KEYS and second["text"] == "Because they waited on the model."
    sent = json.dumps(fake.bodies[0]["messages"])
    assert "LLM spans longer than 60 seconds" in sent and "generate_filter" in sent and "why?" in sent
    (listed,) = Loop.sessions(tmp_path)
    assert listed["name"] == "review" and listed["questions"] == 2

    # A third, plain-text invocation sees both earlier questions in the saved file.
    third = _cli(tmp_path, "ask", "tool calls with errors", "--logs", str(log_file), "--session", "review")
    assert third.returncode == 0, third.stderr
    again = Loop.sessions(tmp_path)[0]
    assert again["questions"] == 3 and again["warnings"] == 0


def test_ask_without_session_writes_nothing_and_bad_names_are_usage_errors(log_file: Path, tmp_path: Path) -> None:
    plain = _cli(tmp_path, "ask", "tool calls with errors", "--logs", str(log_file), "--json")
    assert plain.returncode == 0 and not (tmp_path / ".loop").exists()
    for name in ("../outside", "a/b", ""):
        bad = _cli(tmp_path, "ask", "hi", "--logs", str(log_file), "--session", name, "--json")
        assert bad.returncode == 2, bad.stderr
        assert "invalid session name" in json.loads(bad.stdout)["error"]
    assert not (tmp_path / ".loop").exists() and not (tmp_path.parent / "outside.jsonl").exists()
