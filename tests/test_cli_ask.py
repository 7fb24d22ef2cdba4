"""``ask`` and ``filter`` from the command line: the documented --json shapes, offline and via a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.cli import main
from tests.agent_fixtures import build_events, build_logs
from tests.fake_llm import FakeLLM, reply, tool

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "logs.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in build_events(n_traces=40)) + "\n")
    return path


def loaded(log_file: Path) -> pl.DataFrame:
    from loop_jupyter.loaders import load_logs

    return load_logs(str(log_file))


def test_filter_json_offline(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["filter", "LLM spans longer than 60 seconds", "--logs", str(log_file), "--json"])
    out = json.loads(capsys.readouterr().out)
    logs = loaded(log_file)
    want = logs.filter((pl.col("type") == "llm") & (pl.col("duration") > 60))["id"].to_list()
    assert code == 0
    assert out == {"sql": "duration > 60 AND type = 'llm'", "shape": "spans", "count": len(want), "ids": out["ids"]}
    assert sorted(out["ids"]) == sorted(want)


def test_filter_json_traces_ids_are_root_span_ids(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["filter", "traces for John Smith", "--logs", str(log_file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    logs = loaded(log_file)
    roots = logs.filter(pl.col("is_root") & (pl.col("metadata").str.json_path_match("$.user") == "John Smith"))[
        "root_span_id"
    ]
    assert out["shape"] == "traces" and sorted(out["ids"]) == sorted(roots.to_list())


def test_filter_not_understood_exits_1(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["filter", "spans where the vibes are off", "--logs", str(log_file), "--json"]) == 1
    assert "vibes" in json.loads(capsys.readouterr().out)["error"]


def test_ask_json_offline(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "average latency by model", "--logs", str(log_file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"text", "tool_calls", "artifacts"}
    assert out["tool_calls"][0]["name"] == "run_sql"
    kinds = [a["kind"] for a in out["artifacts"]]
    assert kinds == ["table", "code"]
    table = out["artifacts"][0]
    assert table["columns"] == ["model", "n", "avg_duration"] and table["total_rows"] == len(table["rows"])
    assert out["artifacts"][1]["source"].startswith("import loop_jupyter as lj")


def test_ask_through_a_model_server(log_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeLLM() as fake:
        fake.script(reply("", tool("run_sql", query="SELECT count(*) AS n FROM traces")), reply("There are 40 traces."))
        model = f"openai-compatible:local@{fake.openai_url}"
        assert main(["ask", "how many traces?", "--logs", str(log_file), "--model", model, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"] == "There are 40 traces."
    assert out["tool_calls"] == [{"name": "run_sql", "input": {"query": "SELECT count(*) AS n FROM traces"}}]
    assert out["artifacts"][0]["rows"] == [[40]]


def test_ask_streams_text_in_a_real_process(log_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    env["LOOP_JUPYTER_CONFIG"] = str(log_file.parent / "none.toml")
    done = subprocess.run(
        [sys.executable, "-m", "loop_jupyter", "ask", "tool calls with errors", "--logs", str(log_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    logs = build_logs(n_traces=40)
    count = logs.filter((pl.col("type") == "tool") & pl.col("error").is_not_null()).height
    assert f"{count:,} spans match" in done.stdout
    assert "[generate_filter" in done.stderr
