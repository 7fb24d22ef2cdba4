"""Every real fixture file loads through ``load_logs`` with its format detected automatically."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loop_jupyter import detect_format, load_logs_with_report
from loop_jupyter.schema import is_canonical

EXPECTED_FORMAT = {
    "agent-prism/otlp": "otlp",
    "agent-prism/langfuse": "langfuse",
    "langfuse-framework-traces": "langfuse",
    "tielec-ai-workflow": "claude-stream-json",
    "openhands": "openhands",
    "tau-bench": "tau-bench",
    "who-and-when": "who-and-when",
}


# clickhouse/ holds table DDL (Langfuse migrations, the OTel exporter's templates), not traces.
NOT_TRACES = {"clickhouse"}


def _fixture_files(root: Path) -> list[Path]:
    skip = {"LICENSE", "SOURCES.md", "prompt.txt"}
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name not in skip and p.relative_to(root).parts[0] not in NOT_TRACES
    )


def test_every_fixture_file_loads_with_its_format(fixtures_dir: Path) -> None:
    files = _fixture_files(fixtures_dir)
    assert len(files) == 288
    for path in files:
        relative = path.relative_to(fixtures_dir).as_posix()
        expected = next(fmt for prefix, fmt in EXPECTED_FORMAT.items() if relative.startswith(prefix))
        assert detect_format(path) == expected, relative
        frame, report = load_logs_with_report(path)
        assert is_canonical(frame), relative
        assert frame.height > 0 and not report.skipped, (relative, report.summary())
        assert report.records_read == report.rows_loaded + len(report.skipped)
        present = set(frame.get_column("span_id").to_list())
        assert set(frame.get_column("parent_id").drop_nulls().to_list()) <= present, relative


@pytest.mark.parametrize(
    ("folder", "traces"),
    [("tielec-ai-workflow", 4), ("tielec-ai-workflow/issue-396", 1), ("who-and-when", 184), ("tau-bench", 200)],
)
def test_folders_load_as_whole_traces(fixtures_dir: Path, folder: str, traces: int) -> None:
    frame, report = load_logs_with_report(fixtures_dir / folder)
    assert frame.get_column("root_span_id").n_unique() == traces
    assert frame.filter(pl.col("is_root")).height == traces
    assert not report.skipped


def test_the_whole_fixtures_folder_loads_as_one_frame(fixtures_dir: Path) -> None:
    frame, report = load_logs_with_report(fixtures_dir)
    assert report.format == "mixed" and not report.skipped
    # Two Langfuse files export the same trace: both copies load, nothing is merged away.
    per_folder = sum(load_logs_with_report(fixtures_dir / f)[0].height for f in EXPECTED_FORMAT)
    assert frame.height == per_folder
    assert frame.get_column("root_span_id").n_unique() > 400
