"""The CLI lines of README.md and docs/*.md (``python -m loop_jupyter ask|filter|sql "..."``) run through
``main`` on a demo log file with ``--json``, and each answer checked against an independent Polars
computation over that file's spans (read here with json, not with the loader). The same questions and
filters asked through the Python API are checked in tests/test_example_questions.py and
tests/test_example_sql.py; this checks the CLI's path and its stable JSON output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from loop_jupyter.cli import main
from loop_jupyter.demo import write_demo_jsonl

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(microsecond=0)
_LINE = re.compile(r"""python -m loop_jupyter (ask|filter|sql) "([^"]+)"(.*)$""", re.M)


def cli_examples() -> set[tuple[str, str, str]]:
    """(command, text, shape) of every CLI line written in README.md and docs/*.md."""
    found = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for command, text, rest in _LINE.findall(path.read_text()):
            found.add((command, text, "traces" if "--shape traces" in rest else ""))
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """The log file, and its spans read here: one row per JSON line, with the fields the checks use."""
    path = tmp_path_factory.mktemp("cli") / "demo.jsonl"
    write_demo_jsonl(path, 600, 3, now=NOW)
    rows = []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        metrics, attributes = event.get("metrics") or {}, event.get("span_attributes") or {}
        rows.append(
            {
                "id": event["id"],
                "root_span_id": event["root_span_id"],
                "is_root": not event.get("span_parents"),
                "created": datetime.fromisoformat(event["created"]),
                "name": attributes.get("name"),
                "type": attributes.get("type"),
                "error": event.get("error") is not None,
                "seconds": (metrics["end"] - metrics["start"]) if "end" in metrics and "start" in metrics else None,
                "factuality": (event.get("scores") or {}).get("Factuality"),
            }
        )
    return path, pl.DataFrame(rows)


def run(capsys: pytest.CaptureFixture[str], path: Path, command: str, text: str, shape: str) -> dict:
    args = [command, text, "--logs", str(path), "--json"] + (["--shape", shape] if shape else [])
    if command == "ask":
        args.append("--model=offline")
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def roots(spans: pl.DataFrame) -> pl.DataFrame:
    return spans.filter(pl.col("is_root"))


def traces_with(spans: pl.DataFrame, expr: pl.Expr) -> set[str]:
    return set(spans.filter(expr)["root_span_id"])


Check = Callable[[pl.DataFrame, dict, datetime, datetime], None]


def _filter_count(want: Callable[[pl.DataFrame, datetime], int]) -> Check:
    def check(spans: pl.DataFrame, out: dict, before: datetime, after: datetime) -> None:
        expected = [want(spans, before), want(spans, after)]
        assert expected[0] and out["count"] in expected, (out["count"], expected)

    return check


def _common_errors(spans: pl.DataFrame, out: dict, before: datetime, after: datetime) -> None:
    assert [c["name"] for c in out["tool_calls"]] == ["common_errors"]
    errors = spans.filter(pl.col("error"))
    want = f"{errors.height:,} error spans in {errors['root_span_id'].n_unique():,} of {roots(spans).height:,} traces"
    assert want in out["text"], out["text"][:300]


def _attribution(spans: pl.DataFrame, out: dict, before: datetime, after: datetime) -> None:
    assert [c["name"] for c in out["tool_calls"]] == ["attribute_failure"]
    failing = spans.filter(pl.col("error"))["root_span_id"].n_unique()  # the demo has no expected answers
    assert f"Attributed {failing:,} failing traces" in out["text"], out["text"][:300]


def _sql_names(spans: pl.DataFrame, out: dict, before: datetime, after: datetime) -> None:
    want = dict(spans.group_by("name").len().iter_rows())
    assert {row[0]: row[1] for row in out["rows"]} == want and out["total_rows"] == len(want)


def _sql_traces(spans: pl.DataFrame, out: dict, before: datetime, after: datetime) -> None:
    assert out["rows"] == [[roots(spans).height]]


CHECKS: dict[tuple[str, str, str], Check] = {
    ("ask", "What are the most common errors?", ""): _common_errors,
    ("ask", "Which agent made the mistake?", ""): _attribution,
    ("filter", "scores.Factuality < 0.5", "traces"): _filter_count(
        lambda s, now: roots(s).filter(pl.col("factuality") < 0.5).height
    ),
    ("filter", "LLM spans from the last 5 days", ""): _filter_count(
        lambda s, now: s.filter((pl.col("type") == "llm") & (pl.col("created") > now - timedelta(days=5))).height
    ),
    ("filter", "duration > 60", "traces"): _filter_count(lambda s, now: roots(s).filter(pl.col("seconds") > 60).height),
    ("filter", "error_count > 0", "traces"): _filter_count(lambda s, now: len(traces_with(s, pl.col("error")))),
    ("sql", "SELECT name, count(*) FROM logs GROUP BY 1", ""): _sql_names,
    ("sql", "SELECT count(*) FROM traces", ""): _sql_traces,
}


def test_every_cli_example_is_checked() -> None:
    found = cli_examples()
    assert found == set(CHECKS), (sorted(found - set(CHECKS)), sorted(set(CHECKS) - found))


@pytest.mark.parametrize("example", sorted(CHECKS), ids=[f"{c}:{t}" for c, t, _ in sorted(CHECKS)])
def test_cli_example(demo, capsys: pytest.CaptureFixture[str], example: tuple[str, str, str]) -> None:
    path, spans = demo
    before = datetime.now(UTC)
    out = run(capsys, path, *example)
    after = datetime.now(UTC)
    CHECKS[example](spans, out, before, after)
