"""Who&When loader, checked against numbers computed from the raw JSON here."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.loaders import who_and_when
from loop_jupyter.report import LoadReport


@pytest.fixture(scope="module")
def base(fixtures_dir: Path) -> Path:
    return fixtures_dir / "who-and-when" / "Who&When"


@pytest.fixture(scope="module")
def raw(base: Path) -> dict[str, dict]:
    return {f"{p.parent.name}/{p.name}": json.loads(p.read_text()) for p in sorted(base.rglob("*.json"))}


@pytest.fixture(scope="module")
def loaded(base: Path) -> tuple[pl.DataFrame, LoadReport]:
    report = LoadReport()
    return who_and_when.load(base, report), report


def test_detect(raw: dict[str, dict]) -> None:
    assert all(who_and_when.detect(run) for run in raw.values())
    assert not who_and_when.detect({"history": [], "instance_id": "x"})


def test_counts(raw: dict[str, dict], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, report = loaded
    messages = sum(len(run["history"]) for run in raw.values())
    assert (len(raw), messages) == (184, 4092)
    assert report.ok and report.format == "who-and-when"
    assert frame.height == len(raw) + messages
    assert frame.filter(pl.col("is_root")).height == 184
    assert frame.get_column("id").n_unique() == frame.height
    assert set(frame.get_column("parent_id").drop_nulls()) <= set(frame.get_column("span_id"))
    assert frame.get_column("depth").max() == 1


def test_labels_and_steps(raw: dict[str, dict], loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, _ = loaded
    roots = {json.loads(r["metadata"])["file"]: r for r in frame.filter(pl.col("is_root")).iter_rows(named=True)}
    assert set(roots) == set(raw)
    spans = frame.filter(~pl.col("is_root"))
    marked = spans.filter(pl.col("metadata").str.json_path_match("$.is_mistake_step") == "true")
    assert marked.height == len(raw)
    marks = {row["root_span_id"]: json.loads(row["metadata"]) for row in marked.iter_rows(named=True)}
    for name, run in raw.items():
        root = roots[name]
        meta = json.loads(root["metadata"])
        for label in ("mistake_agent", "mistake_step", "mistake_reason", "question", "level"):
            assert meta.get(label) == run.get(label)
        assert meta.get("is_correct", meta.get("is_corrected")) == run.get("is_correct", run.get("is_corrected"))
        assert json.loads(root["expected"]) == run["ground_truth"]
        mark = marks[root["span_id"]]
        step = int(run["mistake_step"])
        assert mark["step"] == step
        message = run["history"][step]
        assert mark["role"] == message["role"]
    # span names are the agents; each span's step is its index in history
    first = raw["Hand-Crafted/1.json"]
    root_id = roots["Hand-Crafted/1.json"]["span_id"]
    mine = spans.filter(pl.col("root_span_id") == root_id).sort("created")
    assert mine.get_column("name").to_list() == [m.get("name") or m["role"] for m in first["history"]]
    assert [json.loads(m)["step"] for m in mine["metadata"]] == list(range(len(first["history"])))


def test_single_file(base: Path) -> None:
    path = base / "Algorithm-Generated" / "1.json"
    run = json.loads(path.read_text())
    report = LoadReport()
    frame = who_and_when.load(path, report)
    assert frame.height == 1 + len(run["history"])
    root = frame.filter(pl.col("is_root")).row(0, named=True)
    assert json.loads(root["metadata"])["system_prompt"] == run["system_prompt"]
    assert report.unmapped["system_prompt"] == 1


# -- terminal exit codes become errors (issue 19) ------------------------------------------------------
def _raw_terminal_failures(raw: dict[str, dict]) -> dict[tuple[str, int], int]:
    """(file, step) -> exit code of every terminal output reporting a non-zero code, read from the
    raw files with a rule written separately from the loader's: the speaker (the name before any
    parenthesis) is a terminal, and the output opens with AG2's "exitcode: N" or holds
    Magentic-One's "Unix exit code: N" / "Unix exit code was: N"."""
    import re

    found = {}
    for name, run in raw.items():
        for step, message in enumerate(run["history"]):
            speaker = (message.get("name") or message.get("role") or "").split(" (")[0]
            if "terminal" not in speaker.lower():
                continue
            text = message.get("content") or ""
            match = re.match(r"exitcode: (\d+)", text) or re.search(r"Unix exit code(?: was)?: (\d+)", text)
            if match and int(match.group(1)):
                found[(name, step)] = int(match.group(1))
    return found


def test_terminal_outputs_with_a_nonzero_exit_code_are_errors(
    raw: dict[str, dict], loaded: tuple[pl.DataFrame, LoadReport]
) -> None:
    frame, _ = loaded
    expected = _raw_terminal_failures(raw)
    # Measured on the raw files: 90 terminal outputs in 67 traces. (The "98 in 71" also
    # counted 8 task prompts, step 0 of an expert, that quote an old "exitcode: 1" as the task.)
    assert (len(expected), len({name for name, _ in expected})) == (90, 67)
    roots = {
        r["span_id"]: json.loads(r["metadata"])["file"] for r in frame.filter(pl.col("is_root")).iter_rows(named=True)
    }
    errors = frame.filter(pl.col("error").is_not_null())
    got = {}
    for row in errors.iter_rows(named=True):
        got[(roots[row["root_span_id"]], json.loads(row["metadata"])["step"])] = json.loads(row["error"])
    assert set(got) == set(expected)
    for key, code in expected.items():
        assert got[key].startswith(f"exit code {code}"), (key, got[key])
    assert got[("Algorithm-Generated/3.json", 3)] == "exit code 124: Timeout"
    # The task prompts that quote an exit code are not errors.
    quoting = [
        name
        for name, run in raw.items()
        if "exitcode: 1" in (run["history"][0].get("content") or "") and "terminal" not in str(run["history"][0])
    ]
    assert len(quoting) == 8 and not any((name, 0) in got for name in quoting)


def test_most_common_errors_on_who_and_when_are_the_exit_codes(base: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "loop_jupyter",
            "ask",
            "--model",
            "offline",
            "--logs",
            str(base),
            "--json",
            "What are the most common errors?",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
        env={k: v for k, v in __import__("os").environ.items() if "API_KEY" not in k},
    )
    answer = json.loads(out.stdout)
    text = json.dumps(answer)
    assert "No errors" not in text
    assert "90 error spans in 67 of 184 traces" in text


# -- a user's own multi-agent run: no labels -----------------------------------------------------------
_LABEL_FIELDS = ("mistake_agent", "mistake_step", "mistake_reason", "mistake_type", "is_correct", "is_corrected")


@pytest.fixture(scope="module")
def unlabelled(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("own-runs")
    for name in ("Algorithm-Generated/3.json", "Hand-Crafted/1.json"):
        run = json.loads((base / name).read_text())
        own = {k: v for k, v in run.items() if k not in _LABEL_FIELDS and k != "system_prompt"}
        (folder / name.replace("/", "-")).write_text(json.dumps(own))
    return folder


@pytest.mark.parametrize("fmt", ["auto", "who-and-when"])
def test_a_run_without_labels_loads_the_same_way(unlabelled: Path, base: Path, fmt: str) -> None:
    from loop_jupyter import load_logs_with_report

    frame, report = load_logs_with_report(unlabelled, format=fmt)
    runs = [json.loads((base / n).read_text()) for n in ("Algorithm-Generated/3.json", "Hand-Crafted/1.json")]
    assert report.format == "who-and-when" and report.ok
    assert frame.filter(pl.col("is_root")).height == 2
    assert frame.height == 2 + sum(len(r["history"]) for r in runs)
    metadata = " ".join(frame.get_column("metadata").to_list())
    assert "mistake_" not in metadata and "is_mistake_step" not in metadata
    assert frame.filter(pl.col("error").is_not_null()).height == 1  # AG 3.json step 3: exitcode 124


def test_detect_needs_a_history_of_messages() -> None:
    assert who_and_when.detect({"question": "q", "history": [{"role": "user", "name": "A", "content": "hi"}]})
    assert not who_and_when.detect({"question": "q", "history": []})
    assert not who_and_when.detect({"question": "q", "history": [{"action": "run"}]})
    assert not who_and_when.detect({"history": [{"role": "user", "content": "hi"}]})


def test_labels_stay_in_root_metadata(loaded: tuple[pl.DataFrame, LoadReport]) -> None:
    frame, _ = loaded
    for row in frame.filter(pl.col("is_root")).head(20).iter_rows(named=True):
        assert {"mistake_agent", "mistake_step", "mistake_reason"} <= set(json.loads(row["metadata"]))
