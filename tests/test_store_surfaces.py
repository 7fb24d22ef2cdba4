"""The surfaces on a DuckDB store (issue 17): the CLI's ask, filter-by-description and attribute with
``--logs duckdb:///...``, the trace explorer paging, filtering and opening traces through the store,
the %loop magic with a store, and the README's "logs larger than memory" commands — each giving
what the same logs give from a file or a frame."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter import demo
from loop_jupyter.cli import main
from loop_jupyter.sources import DuckDBStore
from loop_jupyter.sources.importer import import_logs
from loop_jupyter.widgets.explorer import TraceExplorer

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("surfaces")
    frame = demo.demo_logs(300, seed=3, now=NOW)
    jsonl = folder / "demo.jsonl"
    jsonl.write_text(demo.jsonl_text(frame))
    store = folder / "logs.duckdb"
    import_logs(jsonl, f"duckdb:///{store}", progress=False)
    return {"frame": frame, "jsonl": jsonl, "store": store, "url": f"duckdb:///{store}"}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in argv else out


# -- CLI -------------------------------------------------------------------------------------------
def test_ask_on_a_store_answers_as_on_the_file(files: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    for question in ("What are the most common errors?", "Which traces took longer than 60 seconds?"):
        code, on_store = _run(capsys, "ask", question, "--logs", files["url"], "--json")
        _, on_file = _run(capsys, "ask", question, "--logs", str(files["jsonl"]), "--json")
        assert code == 0 and on_store["error"] is None
        assert on_store["text"] == on_file["text"]
        assert on_store["tool_calls"] == on_file["tool_calls"]


def test_filter_description_on_a_store(files: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """A description (not SQL) over a store goes to the planner, as over a file (it was refused before)."""
    description = "LLM spans from user John Smith"
    code, on_store = _run(capsys, "filter", description, "--logs", files["url"], "--json")
    _, on_file = _run(capsys, "filter", description, "--logs", str(files["jsonl"]), "--json")
    assert code == 0
    assert on_store == on_file and on_store["count"] > 0
    assert main(["filter", description, "--logs", files["url"], "--sql-only"]) == 3  # still refused as SQL


def test_attribute_on_a_store(files: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, on_store = _run(capsys, "attribute", "--logs", files["url"], "--json")
    _, on_file = _run(capsys, "attribute", "--logs", str(files["jsonl"]), "--json")
    assert code == 0 and on_store == on_file and on_store["traces"]
    one = on_file["traces"][0]["root_span_id"]
    _, single_store = _run(capsys, "attribute", "--trace", one, "--logs", files["url"], "--json")
    _, single_file = _run(capsys, "attribute", "--trace", one, "--logs", str(files["jsonl"]), "--json")
    assert single_store == single_file and single_store["traces"][0]["root_span_id"] == one


def test_readme_commands_for_logs_larger_than_memory(files: dict[str, Any], tmp_path: Path) -> None:
    """The README's two commands (import, then ask with --logs duckdb:///...) run as written."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Logs larger than memory", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("  #", 1)[0].strip() for line in block.strip().splitlines()]
    imports = [c for c in commands if c.startswith("python -m loop_jupyter import ")]
    asks = [c for c in commands if c.startswith("python -m loop_jupyter ask ")]
    assert len(imports) == 1 and len(asks) == 1
    (tmp_path / "PATH").write_text(files["jsonl"].read_text())  # the README's PATH placeholder
    for command in (imports[0], asks[0] + " --json"):
        argv = [sys.executable, *re.findall(r'"[^"]*"|\S+', command)[1:]]
        argv = [a.strip('"') for a in argv]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    assert answer["error"] is None and answer["tool_calls"]
    assert (tmp_path / "logs.duckdb").is_file()


# -- the explorer ----------------------------------------------------------------------------------
def _ask(widget: Any, **content: Any) -> dict[str, Any]:
    reply, _ = widget.handle({"id": 1, **content})
    assert reply is not None
    return reply


def test_explorer_pages_filters_and_opens_through_the_store(files: dict[str, Any], monkeypatch: Any) -> None:
    store = DuckDBStore(files["store"])
    try:
        on_frame = TraceExplorer(files["frame"], page_size=10)
        on_store = TraceExplorer(store, page_size=10)
        for widget in (on_frame, on_store):
            widget.threaded = False
        assert on_store.engine.logs is None  # nothing loaded: the store's engine has no frame
        assert on_store.total_traces == on_frame.total_traces == 300
        for request in (
            {"type": "rows", "offset": 0, "limit": 10, "sort": "span_count", "descending": True},
            {"type": "rows", "offset": 20, "limit": 7, "sort": "duration", "descending": False},
            {"type": "filter", "where": "has_error AND llm_calls > 2"},
            {"type": "rows", "offset": 0, "limit": 50},
            {"type": "filter", "where": "nonsense ((("},
        ):
            assert _ask(on_store, **request) == _ask(on_frame, **request), request
        assert on_store.filtered.height == on_frame.filtered.height
        # Opening a trace reads that trace alone from the store, the tree's columns only; opening a
        # span reads that span's row alone (once for its summary and fields).
        root = files["frame"].group_by("root_span_id").len().sort(["len", "root_span_id"]).row(-1)[0]
        # Both by the trace's row ranges (sources/trace_rows.py): conditions on its _row first.
        read: list[tuple[tuple[str, ...], str | None]] = []
        narrow = DuckDBStore.select_trace
        monkeypatch.setattr(DuckDBStore, "select_trace", lambda self, r, c: read.append((c, r)) or narrow(self, r, c))
        wide: list[str | None] = []
        whole = DuckDBStore.trace_span
        monkeypatch.setattr(DuckDBStore, "trace_span", lambda self, r, s: wide.append(s) or whole(self, r, s))
        conditions: list[str] = []
        ranged = DuckDBStore._trace_condition
        monkeypatch.setattr(
            DuckDBStore, "_trace_condition", lambda self, r: conditions.append(ranged(self, r)) or conditions[-1]
        )
        opened = _ask(on_store, type="open", root_span_id=root)
        assert len(read) == 1 and read[0][1] == root
        assert "input" not in read[0][0] and "output" not in read[0][0]
        assert wide == []
        assert len(conditions) == 1 and "_row BETWEEN" in conditions[0] and f"root_span_id = '{root}'" in conditions[0]
        assert opened == _ask(on_frame, type="open", root_span_id=root)
        spans = [n["span_id"] for n in [*opened["top"]["nodes"], *opened["expanded"][0]["nodes"]][:3]]
        for span in spans:
            assert _ask(on_store, type="span", span_id=span) == _ask(on_frame, type="span", span_id=span)
            field = {"type": "field", "span_id": span, "field": "input", "offset": 10, "length": 50}
            assert _ask(on_store, **field) == _ask(on_frame, **field)
        assert len(spans) == len(wide) == 3
        assert wide == spans
        assert len(conditions) == 4 and all("_row BETWEEN" in c for c in conditions)
        ids = [root, files["frame"].get_column("root_span_id")[0]]
        assert _ask(on_store, type="select", ids=ids, mode="replace") == _ask(
            on_frame, type="select", ids=ids, mode="replace"
        )
        assert on_store.selection.get_column("root_span_id").to_list() == ids
        assert _ask(on_store, type="select", ids=["nope"], selected=True)["ok"] is False
    finally:
        store.close()


# -- the magic -------------------------------------------------------------------------------------
class _Shell:
    """What the magic uses of IPython's shell (the global test shell belongs to tests/test_magic.py,
    whose fixture must be the first to start it)."""

    def __init__(self) -> None:
        self.user_ns: dict[str, Any] = {}
        self.configurables: list[Any] = []


def test_magic_reads_a_store(files: dict[str, Any], tmp_path: Path, monkeypatch: Any) -> None:
    from loop_jupyter import magic

    monkeypatch.setattr(magic, "display", lambda *a, **k: None)
    shell = _Shell()
    magics = magic.LoopMagics(shell=shell)
    magics.workdir = str(tmp_path)
    magics.model = "offline"
    store = DuckDBStore(files["store"])
    try:
        magics.loop(f"--logs {files['url']} What are the most common errors?")
        by_url = shell.user_ns["_loop"].text
        shell.user_ns["prod"] = store
        magics.loop("--logs prod What are the most common errors?")
        by_variable = shell.user_ns["_loop"].text
        shell.user_ns["frame"] = files["frame"]
        magics.loop("--logs frame What are the most common errors?")
        assert by_url == by_variable == shell.user_ns["_loop"].text
        assert "error spans" in by_url
        assert isinstance(magics._stores[files["url"]], DuckDBStore)
    finally:
        for _, loop in magics._loops.values():
            loop.close()
        for opened in magics._stores.values():
            opened.close()
        store.close()


def test_loop_frame_path_unchanged(files: dict[str, Any]) -> None:
    """A frame stays a frame in the session (no store, no sampling)."""
    from loop_jupyter.agent.session import Loop

    loop = Loop(files["frame"], model="offline")
    try:
        ctx = loop.context()
        assert not ctx.pushdown and ctx.logs is files["frame"]
        assert isinstance(loop.sources["logs"], pl.DataFrame)
    finally:
        loop.close()


def test_chat_scoped_to_one_trace_of_a_store(files: dict[str, Any]) -> None:
    """The explorer's Loop button on a store: the session reads that trace alone, answers as on the frame."""
    from loop_jupyter.agent.session import Loop

    root = files["frame"].get_column("root_span_id")[0]
    store = DuckDBStore(files["store"])
    on_store, on_frame = Loop(store, model="offline"), Loop(files["frame"], model="offline")
    try:
        for loop in (on_store, on_frame):
            loop.scope_trace(root)
        ctx = on_store.context()
        assert not ctx.pushdown and ctx.logs.get_column("root_span_id").unique().to_list() == [root]
        assert ctx.unscoped is not None and ctx.unscoped.pushdown
        assert on_store.ask("Summarize this trace").text == on_frame.ask("Summarize this trace").text
    finally:
        on_store.close()
        on_frame.close()
        store.close()
