"""The widget message contract: Python handlers, the schemas, js/messages.json and the JS requests
agree; malformed messages are answered with an error; the Loop has what the widgets use."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loop_jupyter import artifacts
from loop_jupyter.demo import demo_logs
from loop_jupyter.widgets.cards import CARDS, card, cell_code
from loop_jupyter.widgets.chat import ChatWidget
from loop_jupyter.widgets.explorer import TraceExplorer
from loop_jupyter.widgets.messages import CARD_KINDS, EVENTS, PUSHES, REQUESTS, contract_json
from loop_jupyter.widgets.session import MEMBERS, ChatSession
from tests.widget_helpers import make_loop

JS = Path(__file__).resolve().parents[1] / "js"
WIDGETS = {"chat": ChatWidget, "explorer": TraceExplorer}
#: Which widget's requests each JS file sends (plotly.js serves both).
JS_FILES = {
    "chat.js": ("chat",),
    "chat_header.js": ("chat",),
    "chat_transcript.js": ("chat",),
    "chat_cards.js": ("chat",),
    "chat_sessions.js": ("chat",),
    "explorer.js": ("explorer",),
    "explorer_annotate.js": ("explorer",),
    "plotly.js": ("chat", "explorer"),
}


def test_messages_json_is_generated_from_the_schemas() -> None:
    assert (JS / "messages.json").read_text() == contract_json(), (
        "js/messages.json is stale: python -m loop_jupyter.widgets.messages > js/messages.json, then js/build.sh"
    )


@pytest.mark.parametrize("widget", sorted(WIDGETS))
def test_every_handler_has_a_schema_and_every_schema_a_handler(widget: str) -> None:
    handlers = {name[4:] for name in dir(WIDGETS[widget]) if name.startswith("_on_") and name != "_on_custom_msg"}
    handlers -= {"event"}  # ChatWidget._on_event takes Loop events, not browser requests
    assert handlers == set(REQUESTS[widget])


def test_every_request_the_js_sends_is_in_the_contract() -> None:
    sent: dict[str, set[str]] = {}
    for path in JS.glob("*.js"):
        kinds = set(re.findall(r"""rpc\.request\(\s*["'](\w+)["']""", path.read_text()))
        if kinds:
            assert path.name in JS_FILES, f"{path.name} sends requests: say for which widget in JS_FILES"
            sent[path.name] = kinds
    assert "ask" in sent["chat.js"] and "rows" in sent["explorer.js"]  # the scan finds requests
    for name, kinds in sent.items():
        for widget in JS_FILES[name]:
            assert kinds <= set(REQUESTS[widget]), (name, widget, kinds - set(REQUESTS[widget]))


def test_card_kinds_have_one_renderer_on_each_side() -> None:
    subclasses = {
        cls for cls in vars(artifacts).values() if isinstance(cls, type) and issubclass(cls, artifacts.Artifact)
    }
    subclasses.discard(artifacts.Artifact)
    assert subclasses == set(CARDS)
    source = (JS / "chat_cards.js").read_text()
    block = source.split("export const CARD_RENDERERS = {", 1)[1].split("};", 1)[0]
    js_kinds = re.findall(r"^\s*(\w+):", block, flags=re.M)
    assert sorted(js_kinds) == sorted(CARD_KINDS)


def test_one_card_and_code_per_artifact(tmp_path: Path) -> None:
    frame = demo_logs(n_traces=20, seed=1)
    table = card(artifacts.Table(frame=frame), "a1")
    assert table["kind"] == "table" and len(table["rows"]) == 10 and table["total_rows"] == frame.height
    assert table["kind"] in CARD_KINDS and table["artifact_id"] == "a1"
    sql = artifacts.SqlFilter(sql="duration > 20", shape="traces", count=3)
    assert card(sql, "a2") == {**sql.to_json(), "artifact_id": "a2"}
    code = cell_code(sql)
    namespace: dict[str, Any] = {"logs": frame}
    exec(code, namespace)  # the inserted cell runs and gives the filtered traces
    result = namespace["frame"]
    assert 0 < result.height < frame.get_column("root_span_id").n_unique()  # a real filter
    assert result.get_column("duration").min() > 20
    assert cell_code(artifacts.Code(source="x = 1")) == "x = 1"
    assert cell_code(artifacts.Table(frame=frame)) == ""


def test_loop_has_what_the_widgets_use(tmp_path: Path) -> None:
    loop = make_loop(demo_logs(n_traces=20, seed=1), workdir=tmp_path)
    try:
        assert isinstance(loop, ChatSession)
        missing = [name for name in MEMBERS if not hasattr(loop, name)]
        assert not missing
    finally:
        loop.close()


@pytest.fixture()
def chat(tmp_path: Path):
    widget = ChatWidget(make_loop(demo_logs(n_traces=50, seed=2), workdir=tmp_path))
    widget.threaded = False
    sent: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    widget.sent = sent  # type: ignore[attr-defined]
    yield widget
    widget.close()
    widget.loop.close()


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"id": 3, "type": "ask"}, "text: Field required"),
        ({"id": 3, "type": "ask", "text": 5}, "text: Input should be a valid string"),
        ({"id": 3, "type": "ask", "text": "hi", "sneaky": 1}, "sneaky: Extra inputs are not permitted"),
        ({"id": 3, "type": "page", "artifact_id": "a0", "offset": "ten"}, "offset: Input should be a valid integer"),
        ({"id": 3, "type": "confirm", "action_id": ["x"]}, "action_id"),
        ({"id": 3, "type": "rows"}, "unknown request type 'rows'"),  # an explorer request, not the chat's
        ({"id": 3, "type": None}, "unknown request type None"),
        ({"id": 3}, "unknown request type None"),
    ],
)
def test_malformed_messages_are_answered_with_an_error(chat: ChatWidget, message: dict, words: str) -> None:
    reply, buffers = chat.handle(message)
    assert reply == {"id": 3, "ok": False, "error": reply["error"]} and not buffers
    assert words in reply["error"] and "Traceback" not in reply["error"]


def test_malformed_messages_through_the_comm_are_answered(chat: ChatWidget) -> None:
    chat._on_custom_msg(chat, {"id": {"nested": 1}, "type": "interrupt", "extra": True})
    assert chat.sent[-1]["ok"] is False and chat.sent[-1]["id"] is None and "extra" in chat.sent[-1]["error"]


def test_a_reply_missing_a_promised_field_is_an_error_not_a_half_answer(chat: ChatWidget) -> None:
    chat._on_history = lambda request: {}  # type: ignore[method-assign]
    reply, _ = chat.handle({"id": 4, "type": "history"})
    assert reply["ok"] is False and "lacks ['messages']" in reply["error"]


def test_pushed_events_keep_the_contract(chat: ChatWidget) -> None:
    reply, _ = chat.handle({"id": 1, "type": "ask", "text": "show slow traces"})
    assert reply["ok"]
    chat.loop.wait(reply["run_id"], timeout=60)
    pushes = [m for m in chat.sent if "id" not in m]
    assert any(m["event"] == "artifact" for m in pushes)
    for message in pushes:
        assert message["type"] in PUSHES["chat"]
        assert all(field in message for field in PUSHES["chat"][message["type"]])
        assert message["event"] in EVENTS
        if "artifact" in message["data"]:
            assert message["data"]["artifact"]["kind"] in CARD_KINDS


def _node_contract(tmp_path: Path, script: str) -> Any:
    node = shutil.which("node")
    esbuild = JS / "node_modules" / ".bin" / "esbuild"
    if node is None or not esbuild.exists():
        pytest.skip("needs node and js/node_modules (npm ci --prefix js)")
    entry = tmp_path / "entry.js"
    entry.write_text(f"import * as c from {json.dumps(str(JS / 'contract.js'))};\n{script}\n")
    bundle = tmp_path / "bundle.mjs"
    subprocess.run(
        [str(esbuild), str(entry), "--bundle", "--format=esm", f"--outfile={bundle}", "--log-level=warning"], check=True
    )
    out = subprocess.run([node, str(bundle)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def test_the_js_side_checks_the_same_contract(tmp_path: Path) -> None:
    result = _node_contract(
        tmp_path,
        """console.log(JSON.stringify({
  good: c.requestProblem("chat", "ask", {text: "hi", interrupt: false}),
  unknown: c.requestProblem("chat", "rows", {}),
  missing: c.requestProblem("explorer", "open", {}),
  wrongType: c.requestProblem("explorer", "rows", {offset: "1"}),
  extra: c.requestProblem("chat", "scope", {root_span_id: null, other: 1}),
  nullable: c.requestProblem("chat", "scope", {root_span_id: null}),
  replyOk: c.replyProblem("chat", "ask", {id: 1, ok: true, run_id: "r1"}),
  replyBad: c.replyProblem("chat", "ask", {id: 1, ok: true}),
  pushOk: c.pushProblem("chat", {type: "event", event: "done", run_id: "r", data: {}}),
  pushEvent: c.pushProblem("chat", {type: "event", event: "exploded", run_id: "r", data: {}}),
  pushCard: c.pushProblem("chat", {type: "event", event: "artifact", run_id: "r", data: {artifact: {kind: "video"}}}),
  pushType: c.pushProblem("explorer", {type: "event"}),
}));""",
    )
    assert result["good"] == result["nullable"] == result["replyOk"] == result["pushOk"] == ""
    assert "no request type" in result["unknown"]
    assert 'lacks "root_span_id"' in result["missing"]
    assert "wrong type" in result["wrongType"]
    assert 'no field "other"' in result["extra"]
    assert "lacks run_id" in result["replyBad"]
    assert "unknown event" in result["pushEvent"]
    assert "unknown card kind" in result["pushCard"]
    assert "unknown message type" in result["pushType"]


def test_locked_models_say_which_key_enables_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from loop_jupyter.agent.models import available_models, model_table
    from loop_jupyter.widgets.model_choices import locked_models

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    names = available_models()
    locked = locked_models(names)
    by_provider = {p: [n for n in names if model_table()[n][0] == p] for p in ("anthropic", "openai")}
    assert locked == {"ANTHROPIC_API_KEY": by_provider["anthropic"], "OPENAI_API_KEY": by_provider["openai"]}
    assert "offline" not in str(locked)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert locked_models(names) == {"ANTHROPIC_API_KEY": by_provider["anthropic"]}
    assert locked_models(names, session_key="k") == {}
    assert locked_models(["claude-4.5-sonnet"], injected="claude-4.5-sonnet") == {}


def test_insert_cell_event_is_one_contract_between_the_chat_and_the_lab_extension() -> None:
    """ "Insert as cell" is a DOM event from the chat bundle to the lab extension (not a widget
    message): both name the same event, the extension reads and writes only fields of the detail the
    chat creates, and both built bundles carry the name."""
    repo = JS.parent
    chat = (JS / "chat_cards.js").read_text()
    extension = (repo / "labextension" / "index.js").read_text()
    sent = re.search(r'new CustomEvent\("([\w:-]+)", \{ detail', chat)
    heard = re.search(r'const EVENT = "([\w:-]+)"', extension)
    assert sent and heard and sent.group(1) == heard.group(1) == "loop-jupyter:insert-cell"
    created = re.search(r"const detail = \{([^}]*)\}", chat)
    assert created
    fields = {part.split(":")[0].strip() for part in created.group(1).split(",")}
    used = set(re.findall(r"detail\.(\w+)", extension))
    assert used and used <= fields, used - fields
    assert "handled" in used and "source" in used  # the extension marks it; the chat falls back otherwise
    assert sent.group(1) in (repo / "loop_jupyter" / "static" / "chat.js").read_text()
    built = "".join(p.read_text() for p in (repo / "loop_jupyter" / "labextension" / "static").glob("*.js"))
    assert sent.group(1) in built
