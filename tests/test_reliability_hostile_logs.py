"""Hostile log files (issue 12, finding 7): every case below aborted a load, changed a line without a
word, escaped a folder or wrote through a planted link. Each must now be a reported line (line
number + reason) or a clear error, and the rest of the file loads."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter import load_logs_with_report, save
from loop_jupyter.analysis.datasets import create_dataset
from loop_jupyter.analysis.trace import critical_path, summarize_trace, trace_tree
from loop_jupyter.artifacts import Pending
from loop_jupyter.loaders import who_and_when
from loop_jupyter.loaders.braintrust import load_events
from loop_jupyter.report import LoadError, LoadReport
from loop_jupyter.tools import ToolContext
from tests.agent_fixtures import build_logs

HOSTILE = Path(__file__).parent / "data" / "hostile"


def good(i: int) -> str:
    return json.dumps({"id": f"g{i}", "span_id": f"g{i}", "created": "2025-01-02T03:04:05Z", "input": f"fine {i}"})


def write_lines(tmp_path: Path, middle: list[str], name: str = "logs.jsonl") -> Path:
    """good line 1, the hostile lines from line 2, a good last line."""
    path = tmp_path / name
    path.write_text("\n".join([good(1), *middle, good(99)]) + "\n", encoding="utf-8")
    return path


def warned(report: LoadReport) -> list[tuple[int | None, str]]:
    return [(w.line, w.reason) for w in report.warnings]


def test_a_lone_surrogate_loads_its_line_as_replacement_character(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        [
            '{"id": "s2", "span_id": "s2", "input": "half an emoji \\ud83d cut"}',
            '{"id": "s3", "span_id": "s3", "output": {"text": "ok \\ud83d\\ude00 pair"}}',
            '{"id": "s4", "span_id": "s4", "metadata": {"k\\udc00": "v"}}',
        ],
    )
    frame, report = load_logs_with_report(path)
    assert frame.get_column("id").to_list() == ["g1", "s2", "s3", "s4", "g99"]
    assert report.ok and report.records_read == 5
    assert warned(report) == [
        (2, "lone surrogate in input replaced by U+FFFD"),
        (4, "lone surrogate in key metadata['k\ufffd'] replaced by U+FFFD"),
    ]
    by_id = dict(zip(frame["id"], frame["input"], strict=True))
    assert json.loads(by_id["s2"]) == "half an emoji \ufffd cut"
    assert json.loads(frame.filter(pl.col("id") == "s3")["output"][0]) == {"text": "ok 😀 pair"}  # a pair is fine


def test_a_lone_surrogate_in_a_whole_document_format_loads(tmp_path: Path) -> None:
    run = {"question": "q", "mistake_agent": "A", "history": [{"role": "A", "content": "cut \ud83d"}]}
    path = tmp_path / "1.json"
    path.write_text(json.dumps(run), encoding="utf-8")  # json.dumps writes the escape \ud83d
    report = LoadReport()
    frame = who_and_when.load(path, report)
    assert frame.height == 2
    assert json.loads(frame.filter(~pl.col("is_root"))["output"][0]) == "cut \ufffd"
    assert warned(report) == [(None, "lone surrogate in history[0].content replaced by U+FFFD")]


def test_whole_document_formats_report_nan_and_duplicate_keys(tmp_path: Path) -> None:
    path = tmp_path / "2.json"
    path.write_text(
        '{"question": "q", "question": "q2", "mistake_agent": "A",'
        ' "history": [{"role": "A", "content": "x", "score": NaN}]}',
        encoding="utf-8",
    )
    frame, report = load_logs_with_report(path, format="who-and-when")
    assert frame.height == 2
    assert warned(report) == [
        (None, "duplicate key 'question' in the top level: the last value kept"),
        (None, "NaN at history[0].score loaded as null (not valid JSON)"),
    ]
    assert json.loads(frame.filter(pl.col("is_root"))["input"][0]) == "q2"


def test_a_created_out_of_range_loads_the_span_with_created_null(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        [
            '{"id": "s2", "span_id": "s2", "created": 1e30}',
            '{"id": "s3", "span_id": "s3", "created": -1e30}',
            '{"id": "s4", "span_id": "s4", "created": "1e30"}',
        ],
    )
    frame, report = load_logs_with_report(path)
    assert frame.get_column("id").to_list() == ["g1", "s2", "s3", "s4", "g99"]
    assert report.ok
    assert [line for line, _ in warned(report)] == [2, 3, 4]
    assert all("created" in reason and "out of range" in reason for _, reason in warned(report))
    created = dict(zip(frame["id"], frame["created"], strict=True))
    assert created["s2"] is None and created["s3"] is None and created["s4"] is None
    assert created["g1"] is not None and created["g99"] is not None


def test_nan_and_infinity_are_reported_with_line_and_field(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        [
            '{"id": "s2", "span_id": "s2", "scores": {"acc": NaN}}',
            '{"id": "s3", "span_id": "s3", "input": {"xs": [1, Infinity, -Infinity]}}',
            '{"id": "s4", "span_id": "s4", "output": "NaN and Infinity inside a string are text"}',
        ],
    )
    frame, report = load_logs_with_report(path)
    assert frame.get_column("id").to_list() == ["g1", "s2", "s3", "s4", "g99"]
    assert report.ok
    assert warned(report) == [
        (2, "NaN at scores.acc loaded as null (not valid JSON)"),
        (3, "Infinity at input.xs[1] loaded as null (not valid JSON)"),
        (3, "-Infinity at input.xs[2] loaded as null (not valid JSON)"),
    ]
    values = dict(zip(frame["id"], frame["input"], strict=True))
    assert json.loads(values["s3"]) == {"xs": [1, None, None]}


def test_nan_inside_an_open_field_leaves_the_fast_path(tmp_path: Path) -> None:
    """DuckDB's reader takes NaN and kept it as invalid JSON text, with no report."""
    path = tmp_path / "logs.jsonl"
    path.write_text(good(1) + '\n{"id": "s2", "span_id": "s2", "metadata": {"loss": NaN}}\n', encoding="utf-8")
    frame, report = load_logs_with_report(path, format="braintrust")
    assert warned(report) == [(2, "NaN at metadata.loss loaded as null (not valid JSON)")]
    assert json.loads(frame.filter(pl.col("id") == "s2")["metadata"][0]) == {"loss": None}


def test_duplicate_keys_are_reported_with_line_and_key(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        [
            '{"id": "s2", "span_id": "s2", "input": "first", "input": "second"}',
            '{"id": "s3", "span_id": "s3", "metadata": {"user": "a", "user": "b"}}',
        ],
    )
    frame, report = load_logs_with_report(path)
    assert frame.get_column("id").to_list() == ["g1", "s2", "s3", "g99"]
    assert warned(report) == [
        (2, "duplicate key 'input' in the top level: the last value kept"),
        (3, "duplicate key 'user' in metadata: the last value kept"),
    ]
    assert json.loads(frame.filter(pl.col("id") == "s2")["input"][0]) == "second"


def test_all_hostile_lines_in_one_file_each_reported_rest_loads(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        [
            '{"id": "s2", "span_id": "s2", "input": "\\ud83d"}',
            '{"id": "s3", "span_id": "s3", "created": 1e30}',
            '{"id": "s4", "span_id": "s4", "scores": {"a": NaN}}',
            '{"id": "s5", "span_id": "s5", "input": 1, "input": 2}',
            "[" * 100_000 + "]" * 100_000,
            '{"id": "s7", "span_id": "s7"}',
        ],
    )
    frame, report = load_logs_with_report(path)
    assert frame.get_column("id").to_list() == ["g1", "s2", "s3", "s4", "s5", "s7", "g99"]
    assert [w.line for w in report.warnings] == [2, 3, 4, 5]
    assert [(s.line, "nested too deeply" in s.reason) for s in report.skipped] == [(6, True)]
    assert report.records_read == report.rows_loaded + len(report.skipped) == 8


def deep_trace(levels: int) -> pl.DataFrame:
    events = [
        {
            "id": f"s{i}",
            "span_id": f"s{i}",
            "root_span_id": "s0",
            "span_parents": [f"s{i - 1}"] if i else [],
            "metrics": {"start": 1_700_000_000 + i * 0.001, "end": 1_700_000_000 + (2 * levels - i) * 0.001},
            "span_attributes": {"name": f"step{i}", "type": "task"},
        }
        for i in range(levels)
    ]
    return load_events(events, LoadReport())


def test_a_trace_5000_levels_deep_is_summarized() -> None:
    logs = deep_trace(5000)
    assert logs.get_column("depth").max() == 4999
    result = summarize_trace(ToolContext(logs=logs), "s0")
    assert not result.is_error, result.text
    assert result.text.startswith("Trace s0: 5000 spans")
    tree = trace_tree(logs, "s0")
    assert tree is not None
    assert critical_path(tree) == [f"s{i}" for i in range(5000)]  # each span ends after its child
    view = result.artifacts[0]
    assert view.html.count("<li>") == 5000 and view.html.count("</li>") == 5000


def test_a_folder_load_does_not_follow_links_out_of_the_folder(tmp_path: Path) -> None:
    inside, outside = tmp_path / "logs", tmp_path / "elsewhere"
    (outside / "deep").mkdir(parents=True)
    inside.mkdir()
    (inside / "a.jsonl").write_text(good(1) + "\n")
    (outside / "secret.jsonl").write_text(good(2) + "\n")
    (outside / "deep" / "d.jsonl").write_text(good(3) + "\n")
    (inside / "leak.jsonl").symlink_to(outside / "secret.jsonl")
    (inside / "dir").symlink_to(outside / "deep", target_is_directory=True)
    (inside / "same.jsonl").symlink_to(inside / "a.jsonl")  # inside the folder: kept
    frame, report = load_logs_with_report(inside)
    assert sorted(frame.get_column("id").to_list()) == ["g1", "g1"]
    reasons = sorted(w.reason for w in report.warnings if "symbolic link" in w.reason)
    assert reasons == [
        f"dir: a symbolic link to {outside / 'deep'} outside the folder: skipped",
        f"leak.jsonl: a symbolic link to {outside / 'secret.jsonl'} outside the folder: skipped",
    ]


def test_save_never_writes_through_a_planted_temporary_name(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    # The old temporary name was predictable: .<name>.tmp-<pid>
    (tmp_path / f".logs.parquet.tmp-{os.getpid()}").symlink_to(victim)
    logs = build_logs(n_traces=3)
    save(logs, tmp_path / "logs.parquet")
    assert victim.read_text() == "keep me"
    assert pl.read_parquet(tmp_path / "logs.parquet").height == logs.height


def test_save_refuses_a_destination_that_is_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.parquet"
    (tmp_path / "out.parquet").symlink_to(victim)  # dangling: exists() is False
    with pytest.raises(FileExistsError, match="symbolic link"):
        save(build_logs(n_traces=2), tmp_path / "out.parquet")
    assert not victim.exists()


def test_a_version_never_overwrites_a_file_already_holding_its_companion_name(tmp_path: Path) -> None:
    ctx = ToolContext(logs=build_logs(n_traces=4), workdir=tmp_path)
    create_dataset(ctx, name="ds", where="true").first(Pending).action()
    folder = ctx.datasets_dir / "ds"
    planted = folder / "v2.json"
    planted.write_text("not ours")
    create_dataset(ctx, name="ds", where="true").first(Pending).action()
    assert planted.read_text() == "not ours"
    assert not (folder / "v2.parquet").exists()
    assert (folder / "v3.parquet").exists() and (folder / "v3.json").exists()


def test_a_version_folder_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    ctx = ToolContext(logs=build_logs(n_traces=4), workdir=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ctx.datasets_dir.mkdir(parents=True, exist_ok=True)
    (ctx.datasets_dir / "ds").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(FileExistsError, match="symbolic link"):
        create_dataset(ctx, name="ds", where="true").first(Pending).action()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("name", ["panic.parquet", "panic.arrow"])
def test_a_file_that_makes_polars_panic_is_a_reported_error(tmp_path: Path, name: str) -> None:
    """Polars raises PanicException (a BaseException) on these corrupt files."""
    with pytest.raises(LoadError, match="not a readable"):
        load_logs_with_report(HOSTILE / name)
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(HOSTILE / name, folder / name)
    (folder / "good.jsonl").write_text(good(1) + "\n")
    frame, report = load_logs_with_report(folder)
    assert frame.get_column("id").to_list() == ["g1"]
    assert [(Path(s.source).name, "not a readable" in s.reason) for s in report.skipped] == [(name, True)]


def test_an_unreadable_time_in_an_openinference_file_is_a_warning(tmp_path: Path) -> None:
    base = {"context.trace_id": "t", "name": "n", "span_kind": "LLM"}
    rows = [
        base | {"context.span_id": "a", "parent_id": None, "start_time": "2024-01-01T00:00:00Z"},
        base | {"context.span_id": "b", "parent_id": "a", "start_time": 1e30, "end_time": "garbage"},
        base | {"context.span_id": "c", "parent_id": "a", "start_time": "2024-01-01T00:00:02Z"},
    ]
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(rows))
    frame, report = load_logs_with_report(path)
    assert frame.get_column("span_id").to_list() == ["a", "b", "c"]
    assert [(line, reason.split(":")[0]) for line, reason in warned(report)] == [(2, "start_time"), (2, "end_time")]
    assert frame.filter(pl.col("span_id") == "b")["created"][0] is None
