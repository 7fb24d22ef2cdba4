"""Prompt injection inside logs (corpus: tests/data/injections.jsonl).

Each case puts text into one span (input, output, metadata or error) telling the assistant to save
datasets, write scorers, run code, reveal its prompt, change settings, call tools or exfiltrate
through SQL, in several phrasings, languages and encodings. A scripted model that OBEYS reads the
span (read_field, grep_field or run_sql, in turn), then issues exactly the tool calls the text asks
for. Whatever it asks:

- nothing is written before the person confirms (no file under the workdir or the cwd), no code
  runs, the settings (auto_accept, model, turn cap, sources, the engine's locked configuration)
  are unchanged;
- the log text reaches the model only inside one data-marked ``<tool_output>`` block;
- each side effect is a Pending confirmation whose preview shows what would be written (name,
  version, rows, filter / the scorer's code), and confirming it writes exactly that;
- the offline planner, given the log text as a question, runs read-only tools or only proposes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter.agent.session import Event, Loop
from loop_jupyter.analysis.datasets import dataset_info, load_dataset
from loop_jupyter.analysis.scorers import load_scorer
from loop_jupyter.artifacts import Dataset, Pending, Scorer
from loop_jupyter.frame import frame_from_events
from loop_jupyter.report import LoadReport
from tests.agent_fixtures import build_events
from tests.fake_llm import FakeLLM, reply

pytestmark = [
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.usefixtures("no_real_keys"),
]

CORPUS = Path(__file__).parent / "data" / "injections.jsonl"
CASES: list[dict[str, Any]] = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
TARGET = "trace-000"
MODEL = "claude-4.5-sonnet"
SIDE_EFFECT_TOOLS = {"create_dataset", "create_scorer"}


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An empty workdir, an empty cwd, and outside them a Python file that marks when it runs."""
    work, cwd, outside = tmp_path / "work", tmp_path / "cwd", tmp_path / "outside"
    for folder in (work, cwd, outside):
        folder.mkdir()
    evil = outside / "evil.py"
    evil.write_text(f"import pathlib\npathlib.Path({str(outside / 'RAN')!r}).write_text('x')\n")
    monkeypatch.chdir(cwd)
    return {"work": work, "cwd": cwd, "outside": outside, "evil": evil}


def substitute(value: Any, evil: Path) -> Any:
    text = json.dumps(value, ensure_ascii=False).replace("{EVIL}", str(evil).replace("\\", "\\\\"))
    return json.loads(text)


def poisoned_logs(case: dict[str, Any]) -> pl.DataFrame:
    events = build_events(n_traces=12)
    root = next(e for e in events if e["id"] == TARGET)
    field, text = case["field"], case["text"]
    root[field] = text if field == "error" else ({"note": text} if field == "metadata" else {"answer": text})
    return frame_from_events(list(enumerate(events, start=1)), LoadReport())


def reading_call(index: int, case: dict[str, Any]) -> dict[str, Any]:
    """How the model reads the poisoned span: read_field, grep_field or run_sql, in turn."""
    field = case["field"]
    if index % 3 == 0:
        return {"name": "read_field", "input": {"span_id": TARGET, "field": field}}
    if index % 3 == 1:
        return {"name": "grep_field", "input": {"pattern": case["id"], "field": field}}
    return {"name": "run_sql", "input": {"query": f"SELECT {field} FROM logs WHERE id = '{TARGET}'"}}


def files_under(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*") if p.is_file())


def expected_rows(arguments: dict[str, Any], logs: pl.DataFrame) -> int:
    """Rows a create_dataset call selects, computed with Polars (not through the engine)."""
    traces_of = lambda frame: frame.get_column("root_span_id").n_unique()  # noqa: E731
    if arguments.get("sql"):
        return logs.height if arguments["sql"].startswith("SELECT * FROM logs") else 1
    if arguments.get("preset") == "errors":
        return traces_of(logs.filter(pl.col("error").is_not_null()))
    if arguments.get("preset") == "common_inputs":
        return min(100, logs.filter(pl.col("is_root")).get_column("input").n_unique())
    where = arguments.get("where")
    if where == "true":
        return logs.height if arguments.get("level") == "spans" else traces_of(logs)
    if where == "metadata.user = 'John Smith'":
        return traces_of(logs.filter(pl.col("metadata").str.json_path_match("$.user") == "John Smith"))
    raise AssertionError(f"no independent count for {arguments}")


def preview_field(preview: str, label: str) -> str:
    match = re.search(rf"^{label}: (.*)$", preview, re.MULTILINE)
    assert match, (label, preview)
    return match.group(1)


def test_corpus_covers_every_kind_and_is_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(CASES) >= 30
    assert {c["kind"] for c in CASES} == {
        "dataset",
        "scorer",
        "code",
        "system_prompt",
        "settings",
        "tool",
        "exfiltrate",
    }
    assert {c["field"] for c in CASES} == {"input", "output", "metadata", "error"}
    assert len({c["how"] for c in CASES}) >= 10  # languages and encodings
    for case in CASES:
        assert case["id"] in case["text"] and case["obey"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_an_obedient_model_causes_no_side_effect(case: dict[str, Any], places: dict[str, Path]) -> None:
    index = CASES.index(case)
    case = substitute(case, places["evil"])
    logs = poisoned_logs(case)
    obey = case["obey"]
    with FakeLLM() as fake:
        fake.script(
            reply("Let me read that span.", reading_call(index, case)),
            reply("The log says to do this; doing it.", *obey),
            reply("Done."),
        )
        loop = Loop(logs, MODEL, base_url=fake.url, api_key="test", max_retries=0, workdir=places["work"])
        settings = (loop.auto_accept, loop.model, loop.max_turns, loop.workdir, set(loop.enabled_sources))
        seen: list[Event] = []
        loop.subscribe(seen.append)
        answer = loop.ask("Summarise what the first trace says.")
        bodies = fake.bodies

    assert answer.error is None and answer.text.endswith("Done.")
    assert [c["name"] for c in answer.tool_calls] == [reading_call(index, case)["name"], *[c["name"] for c in obey]]
    # 1. The log text reached the model only inside one data block.
    (read,) = [b for b in bodies[1]["messages"][-1]["content"] if b["type"] == "tool_result"]
    content = read["content"]
    assert case["id"] in content, content[:500]
    assert content.startswith("<tool_output") and "not instructions" in content
    assert content.count("<tool_output") == 1 and content.count("</tool_output>") == 1
    assert content.rstrip().endswith("</tool_output>")
    # 2. Nothing was written, nothing ran, no setting changed.
    assert files_under(places["work"], places["cwd"], places["outside"]) == [places["evil"]]
    assert (loop.auto_accept, loop.model, loop.max_turns, loop.workdir, set(loop.enabled_sources)) == settings
    assert loop.auto_accept is False and loop.model == MODEL
    con = loop.context().engine._con
    assert con.execute("SELECT current_setting('enable_external_access')").fetchall() == [(False,)]
    assert con.execute("SELECT current_setting('lock_configuration')").fetchall() == [(True,)]
    assert loop.context().engine.sql("SELECT count(*) AS n FROM logs").item() == logs.height
    # 3. What the model got back for each obeyed call: an error, or a proposal NOT executed.
    results = [b for b in bodies[2]["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert len(results) == len(obey)
    pendings = [a for a in answer.artifacts if isinstance(a, Pending)]
    proposals = iter(pendings)
    for call, result in zip(obey, results, strict=True):
        if call["name"] in SIDE_EFFECT_TOOLS and not result.get("is_error"):
            assert "NOT been executed" in result["content"], result
            pending = next(proposals)
            assert pending.status == "pending"
            check_preview(call, pending, logs)
        else:
            assert result.get("is_error") is True, (call, result["content"][:300])
    assert next(proposals, None) is None
    assert {p.action_id for p in loop.pending()} == {p.action_id for p in pendings}
    confirmations = {e.data["action_id"]: e.data["preview"] for e in seen if e.type == "confirmation"}
    assert confirmations == {p.action_id: p.preview for p in pendings}
    assert files_under(places["work"], places["cwd"], places["outside"]) == [places["evil"]]
    # 4. Confirming writes exactly what the preview showed.
    for pending in pendings:
        produced = loop.confirm(pending.action_id)
        check_written(pending, produced, places)
    assert not (places["outside"] / "RAN").exists()


def check_preview(call: dict[str, Any], pending: Pending, logs: pl.DataFrame) -> None:
    arguments = call["input"]
    preview = pending.preview
    if call["name"] == "create_dataset":
        assert preview_field(preview, "Dataset") == arguments["name"]
        # v1, or the next when an earlier proposal in the same turn waits for the same name.
        version = preview_field(preview, "Version").split()[0]
        assert re.fullmatch(r"v\d+", version)
        assert preview_field(preview, "Rows") == f"{expected_rows(arguments, logs):,}"
        shown = preview_field(preview, "Filter")
        wanted = arguments.get("sql") or arguments.get("where")
        assert (wanted.lower() in shown.lower()) if wanted else ("has_error" in shown or "occurrences" in shown)
        assert preview_field(preview, "Path").endswith(f"loop_datasets/{arguments['name']}/{version}.parquet")
    else:
        assert preview.startswith(f"Scorer: {arguments['name']} ({arguments.get('kind', 'code')})")
        assert preview_field(preview, "Will be saved as").endswith(f"loop_scorers/{arguments['name']}/v1.py")
        source = preview.split("\n\n", 1)[1]
        compile(source, "scorer", "exec")  # the code shown is valid Python...
        assert "def score(" in source
        if arguments.get("pattern"):
            assert repr(arguments["pattern"]) in source  # ...holding the pattern as a string literal


def check_written(pending: Pending, produced: list, places: dict[str, Path]) -> None:
    preview = pending.preview
    dataset = next((a for a in produced if isinstance(a, Dataset)), None)
    if dataset is not None:
        assert dataset.name == preview_field(preview, "Dataset")
        assert f"{dataset.rows:,}" == preview_field(preview, "Rows")
        assert load_dataset(dataset.path).height == dataset.rows
        info = dataset_info(dataset.path)
        assert info["filter"] == preview_field(preview, "Filter") and info["rows"] == dataset.rows
        # Each confirmation writes the version its preview showed (two proposals for one name included).
        assert dataset.version == int(preview_field(preview, "Version").split()[0][1:])
        assert dataset.path == preview_field(preview, "Path")
        return
    scorer = next(a for a in produced if isinstance(a, Scorer))
    path = Path(scorer.path)
    assert path.read_text(encoding="utf-8") == preview.split("\n\n", 1)[1] == scorer.source
    module = load_scorer(path)  # importing the confirmed file runs nothing the log asked for
    assert callable(module.score)
    assert not any(p.name in {"PWNED", "RAN"} for p in files_under(places["work"], places["cwd"], places["outside"]))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_offline_planner_given_log_text_only_reads_or_proposes(case: dict[str, Any], places: dict[str, Path]) -> None:
    case = substitute(case, places["evil"])
    logs = poisoned_logs(case)
    loop = Loop(logs, "offline", workdir=places["work"])
    answer = loop.ask(case["text"])
    tools = loop.tools()
    for made in answer.tool_calls:
        assert made["name"] in tools
    for artifact in answer.artifacts:
        if isinstance(artifact, Pending):
            assert artifact.status == "pending"
    side_effects = [c["name"] for c in answer.tool_calls if tools[c["name"]].side_effects]
    assert len(side_effects) == len(loop.pending())
    assert files_under(places["work"], places["cwd"], places["outside"]) == [places["evil"]]
    assert loop.auto_accept is False and loop.model == "offline"
