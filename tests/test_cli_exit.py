"""The CLI and a plain script exit cleanly: no DuckDB objects left alive at interpreter shutdown."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest


def _run(args: list[str], tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False
    )


@pytest.mark.parametrize("question", ["What are the most common errors?", "week over week trends"])
def test_cli_ask_exits_without_nanobind_leaks(tmp_path, question: str) -> None:
    done = _run(["-m", "loop_jupyter", "ask", question], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr[-2000:]
    assert done.stdout.strip()


def test_script_with_open_loop_exits_cleanly(tmp_path) -> None:
    # No close() by the script: the atexit hook stops the worker and releases the engine.
    script = textwrap.dedent(
        """
        import loop_jupyter as lj
        loop = lj.Loop(lj.demo_logs())
        answer = loop.ask("What are the most common errors?")
        print(answer.tool_calls[0]["name"])
        """
    )
    done = _run(["-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "common_errors"
    assert "leaked" not in done.stderr, done.stderr[-2000:]


def test_close_stops_the_worker_and_asking_again_reopens() -> None:
    import loop_jupyter as lj

    loop = lj.Loop(lj.demo_logs())
    loop.ask("top errors")
    worker = loop._worker
    assert worker is not None and worker.is_alive()
    loop.close()
    assert not worker.is_alive()
    assert loop._ctx is None
    assert loop.ask("top errors").tool_calls[0]["name"] == "common_errors"
    loop.close()


@pytest.mark.parametrize("progress", [None, "1"])
def test_cli_loads_a_folder_from_a_script(tmp_path, fixtures_dir, progress: str | None) -> None:
    # A script's stderr is no terminal and no notebook is loaded: the folder's progress bar is
    # off by default (it once crashed there, passing `disable` twice) and on when forced.
    env = {k: v for k, v in __import__("os").environ.items() if k != "LOOP_JUPYTER_PROGRESS"}
    if progress:
        env["LOOP_JUPYTER_PROGRESS"] = progress
    folder = fixtures_dir / "langfuse-framework-traces"
    done = subprocess.run(
        [sys.executable, "-m", "loop_jupyter", "load", str(folder), "--json"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"rows_loaded"' in done.stdout or '"rows"' in done.stdout, done.stdout[:500]


# -- exit statuses (docs/cli.md): 0 success, 1 not answered, 2 usage, 3 a refused or failed query --------
@pytest.fixture
def small_logs(tmp_path):
    from tests._analysis_logs import span

    path = tmp_path / "small.jsonl"
    rows = [span("t1", "t1", name="agent", error="Boom"), span("c1", "t1", "t1", name="llm", type_="llm")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["sql", "SELECT count(*) AS n FROM logs"], 0),
        (["filter", "error IS NOT NULL"], 0),
        (["sql", "DROP TABLE logs"], 3),  # refused by the sandbox
        (["sql", "SELECT * FROM nowhere"], 3),  # an unknown table
        (["sql", "SELECT FROM WHERE ("], 3),  # does not parse
        (["filter", "duration > > 3", "--sql-only"], 3),
        (["filter", "spans where the vibes are off"], 1),  # a description nothing could be made of
    ],
)
def test_exit_status_tells_success_from_a_refused_query(small_logs, capsys, args, status) -> None:
    from loop_jupyter.cli import main

    assert main([*args, "--logs", str(small_logs)]) == status
    err = capsys.readouterr().err
    if status == 3:
        assert err.startswith("error: ") and "SQL:" in err


def test_refused_query_with_json_prints_a_json_error(small_logs, capsys) -> None:
    from loop_jupyter.cli import main

    assert main(["sql", "DROP TABLE logs", "--logs", str(small_logs), "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"error", "sql"} and "read-only" in out["error"] and out["sql"] == "DROP TABLE logs"


def test_unreadable_logs_and_existing_output_keep_their_statuses(small_logs, tmp_path, capsys) -> None:
    from loop_jupyter.cli import main

    assert main(["sql", "SELECT 1", "--logs", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["demo", str(small_logs)]) == 1  # would replace a file: refused, not a usage error
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["sql"], ["filter", "x", "--shape", "rows"], ["nope"], ["sql", "x", "--limit", "y"]])
def test_usage_errors_exit_2_from_argparse(tmp_path, args) -> None:
    done = _run(["-m", "loop_jupyter", *args], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "usage:" in done.stderr
