"""Log text is hostile: script payloads in every field never run in the notebook page.

Logs whose every text field holds payloads (tests/hostile_logs.py: each sets ``window.__pwned``
if it runs) go through every surface that shows log text in JupyterLab, in Debian's chromium:
``%loop`` and ``%%loop`` answers (offline planner: it quotes log text word for word), the chat
widget (questions, every card, Confirm, Scope, Apply), and the trace explorer (table, tree,
waterfall, span detail). Each surface gets its own page, so a failure names the surface. After
each: the flag is unset, no element from a payload exists (no on* attribute, no img/iframe/script,
no javascript: link), and the payload is on screen as text.

A last test loads the committed chat bundle alone (no JupyterLab) and feeds it a wider corpus of
known Markdown/sanitizer bypasses through the answer text and every artifact card.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.browser.lab_server import ARTIFACTS, CHROMIUM, REPO, lab_env, notebook, open_and_run_all, serve_lab
from tests.hostile_logs import FLAG, PAYLOADS, write_hostile_logs

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

#: Elements a payload would leave behind if any HTML from a log were parsed: returned as outerHTML.
FIND_INJECTED = """(selector) => {
  const bad = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of root.querySelectorAll("*")) {
      const tag = el.tagName.toLowerCase();
      const onAttr = [...el.attributes].some((a) => a.name.toLowerCase().startsWith("on"));
      const href = (el.getAttribute("href") || el.getAttribute("xlink:href") || "").replace(/\\s/g, "");
      const badHref = /^(javascript|data|vbscript):/i.test(href);
      const srcdoc = el.hasAttribute("srcdoc") || el.hasAttribute("formaction");
      if (onAttr || badHref || srcdoc || ["script", "iframe", "object", "embed", "frame"].includes(tag)
          || (tag === "img" && el.getAttribute("src") === "x")) bad.push(el.outerHTML.slice(0, 200));
    }
  }
  return bad;
}"""


def _notebook(*sources: str) -> dict:
    setup = f"import sys\nsys.path.insert(0, {str(REPO)!r})\nimport loop_jupyter as lj\nlogs = lj.load_logs('hostile.jsonl')"
    return notebook([setup, *sources])


MAGIC_CELLS = (
    '%load_ext loop_jupyter\n%config LoopMagics.model = "offline"',
    "%loop what are the most common errors",  # no trailing ? (IPython reads it as help)
    "%loop summarize the slowest trace",
    "%loop find traces similar to trace0",
    "%loop create a dataset from logs with errors",
    "%%loop --yes\nshow the tools of trace trace3\nand the errors",
    "_loop",
)


#: What outlives a run: annotations (labels and notes are payloads, so failure modes are named by
#: payloads), a saved session whose file someone rewrote (its trace views' HTML became payloads),
#: and the surfaces that show them: ``%loop`` mode cards and proposals, artifacts read back and
#: displayed from Python, and the chat and explorer on the reopened session.
KEPT_CELLS = (
    "from tests.hostile_logs import PAYLOADS\n"
    "from loop_jupyter.analysis.annotating import annotate\n"
    "for i, p in enumerate(PAYLOADS):\n"
    "    annotate(logs, f'trace{i}', label=f'mode {p}', note=f'note {p} {PAYLOADS[-1 - i]}')\n"
    "first = lj.Loop(logs, model='offline', session='planted')\n"
    "for q in ('summarize the slowest trace', 'what are the failure modes?'):\n"
    "    first.ask(q)\n"
    "import json, pathlib\n"
    "def plant(v):\n"
    "    if isinstance(v, dict):\n"
    "        return {k: (' '.join(PAYLOADS) if k == 'html' else plant(x)) for k, x in v.items()}\n"
    "    return [plant(x) for x in v] if isinstance(v, list) else v\n"
    "f = pathlib.Path('.loop/sessions/planted.jsonl')\n"
    "lines = [json.dumps(plant(json.loads(l))) for l in f.read_text().splitlines() if l.strip()]\n"
    "f.write_text('\\n'.join(lines) + '\\n')\n"
    "assert json.dumps(' '.join(PAYLOADS)) in f.read_text()",
    '%load_ext loop_jupyter\n%config LoopMagics.model = "offline"',
    "%loop what are the failure modes",
    "%loop chart the failure modes over time",
    "%loop save the largest failure mode as a dataset and a scorer",
    "%loop show annotations",
    "from loop_jupyter.magic import display_artifact\n"
    "kept = lj.Loop(logs, model='offline', session='planted')\n"
    "shown = [a for m in kept.history for a in m.artifacts]\n"
    "assert any(a.kind == 'trace' for a in shown)\n"
    "for a in shown:\n"
    "    display_artifact(a)",
    "chat = lj.ChatWidget(kept)\nexplorer = lj.TraceExplorer(logs, chat=chat, page_size=10)",
    "chat",
    "explorer",
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("xsslab")
    nb_dir, workdir = root / "nb", root / "work"
    nb_dir.mkdir()
    workdir.mkdir()
    write_hostile_logs(nb_dir / "hostile.jsonl")
    (nb_dir / "magic.ipynb").write_text(json.dumps(_notebook(*MAGIC_CELLS)))
    widgets = (
        f"loop = lj.Loop(logs, model='offline', workdir={str(workdir)!r})\n"
        "chat = lj.ChatWidget(loop)\nexplorer = lj.TraceExplorer(logs, chat=chat, page_size=10)",
        "chat",
        "explorer",
    )
    (nb_dir / "widgets.ipynb").write_text(json.dumps(_notebook(*widgets)))
    (nb_dir / "kept.ipynb").write_text(json.dumps(_notebook(*KEPT_CELLS)))
    env = lab_env(root)
    with serve_lab(root, nb_dir, env) as (base, token):
        yield {"base": base, "token": token, "workdir": workdir, "nb_dir": nb_dir}


def _flag_stays_unset(page) -> None:
    """A payload that fires on load/error (images, srcdoc frames, autofocus) gets a second to do it:
    returns at once if the flag is set (and fails), else after the second."""
    try:
        page.wait_for_function(f"() => window.{FLAG} !== undefined", timeout=1_000)
    except sync_api.TimeoutError:
        return
    pytest.fail(f"a payload ran: window.{FLAG} = {page.evaluate(f'() => window.{FLAG}')}")


def _assert_inert(page, selector: str) -> None:
    """Nothing from a payload ran or became an element inside `selector`; its text is visible."""
    _flag_stays_unset(page)
    injected = page.evaluate(FIND_INJECTED, selector)
    assert not injected, f"payload elements in the page: {injected[:5]}"
    text = " ".join(page.locator(selector).all_inner_texts())
    shown = [p for p in PAYLOADS if p in text]
    assert len(shown) >= 3, f"payloads should show as text; found {shown} in {text[:600]!r}"


def test_magic_answers_do_not_run_log_script(page, lab: dict) -> None:
    open_and_run_all(page, lab, "magic.ipynb")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    errors = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [t for t in errors.all_inner_texts() if "Traceback" in t or "Error:" in t]
    expect(notebook).to_contain_text("error spans")  # the answers are there
    expect(notebook).to_contain_text("Trace trace")
    _assert_inert(page, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")


def test_explorer_and_chat_widget_do_not_run_log_script(page, lab: dict) -> None:
    """One notebook run for both widgets (the slow part is JupyterLab and the kernel): the explorer
    first, checked; then the chat, checked. The first check that fails names its widget."""
    open_and_run_all(page, lab, "widgets.ipynb")
    _use_explorer(page)
    _use_chat(page)


def _use_explorer(page) -> None:
    explorer = page.locator(".lj-explorer")
    explorer.scroll_into_view_if_needed()
    rows = explorer.locator(".lj-table-holder .lj-table tbody tr:not(.lj-raw-row)")
    expect(rows).to_have_count(10)
    for i in (1, 2):
        rows.nth(i).locator("input[type=checkbox]").check()
    expect(explorer.locator(".lj-traces-count")).to_contain_text("2 selected")
    similar = explorer.locator("button[title='Find traces similar to the selected ones']")
    similar.click()
    expect(explorer.locator(".lj-traces-count")).to_contain_text(" of 14 traces")  # the similar ones
    expect(similar).to_have_text("Find similar traces")
    expect(similar).to_be_enabled()
    # The similar traces' table and what they share show the payloads too (as text).
    expect(explorer.locator(".lj-similar-results tbody tr").first).to_be_visible()
    explorer.locator(".lj-table-holder .lj-table th", has_text="trace").first.click()  # sort by a column of payloads
    # The sorted page replaces the rows when it arrives (header and body together): a raw row opened
    # before that was wiped under a loaded machine.
    expect(explorer.locator(".lj-table-holder .lj-table th.lj-sorted")).to_have_count(1)
    rows.first.locator(".lj-row-btn").click()  # the raw JSON of a payload trace
    expect(explorer.locator(".lj-raw-row .lj-pre").first).to_be_visible()
    expect(rows.first).to_be_visible()
    rows.first.locator("td").nth(2).click()
    tree = explorer.locator(".lj-tree")
    expect(tree.locator(".lj-node").first).to_be_visible()
    while tree.locator(".lj-node:not([aria-expanded=true]) .lj-toggle:not(.lj-leaf)").count():
        before = tree.locator(".lj-node").count()
        tree.locator(".lj-node:not([aria-expanded=true]) .lj-toggle:not(.lj-leaf)").first.click()
        expect(tree.locator(".lj-node")).not_to_have_count(before)
    nodes = tree.locator(".lj-node")
    assert nodes.count() == 3  # agent → llm → tool
    for i in range(nodes.count()):
        nodes.nth(i).click()
        expect(explorer.locator(".lj-detail .lj-field").first).to_be_visible()
        expect(explorer.locator(".lj-detail-title")).to_contain_text(re.compile(r"agent|llm|tool"))
    explorer.locator(".lj-where").fill("input LIKE '%<img%'")
    explorer.locator(".lj-where").press("Enter")
    expect(explorer.locator(".lj-traces-count")).to_contain_text(" of 14 traces")
    _shot(page, explorer, "xss-explorer")
    _assert_inert(page, ".lj-explorer")  # the explorer held


def _ask(chat, question: str) -> object:
    """Ask in the chat and wait for its answer; returns the answer's element."""
    before = chat.locator(".lj-assistant").count()
    chat.locator(".lj-ask").fill(question)
    chat.locator(".lj-ask").press("Enter")
    expect(chat.locator(".lj-assistant")).to_have_count(before + 1, timeout=60_000)
    expect(chat.locator(".lj-assistant.lj-running")).to_have_count(0, timeout=60_000)
    return chat.locator(".lj-assistant").last


def _use_chat(page) -> None:
    chat = page.locator(".lj-chat")
    expect(chat).to_be_visible()
    # The explorer's "Summarize this trace" asks in the chat: it belongs to the chat's check.
    explorer = page.locator(".lj-explorer")
    explorer.locator(".lj-loop-btn").click()
    expect(explorer.locator(".lj-loop-answer")).not_to_have_text("Asking Loop…", timeout=60_000)
    expect(chat.locator(".lj-assistant.lj-running")).to_have_count(0, timeout=60_000)  # the explorer's question

    def ask(question: str) -> object:
        return _ask(chat, question)

    answer = ask("what are the most common errors?")
    expect(answer.locator(".lj-card").first).to_be_visible()
    for card in answer.locator(".lj-card-table").all():  # page every table (rows come from Python)
        nxt = card.locator("button[title='Next page']")
        if nxt.is_enabled():
            nxt.click()
    if answer.locator(".lj-card-chart").count():
        expect(answer.locator(".lj-card-chart .js-plotly-plot").first).to_be_visible(timeout=60_000)
    answer = ask("summarize the slowest trace")
    expect(answer.locator(".lj-card-trace").first).to_be_visible()
    answer.locator(".lj-card-trace button", has_text="Scope chat to this trace").first.click()
    expect(chat.locator(".lj-scope-chip")).to_be_visible()
    ask("show the tools of this trace")
    chat.locator(".lj-chip-x").click()
    ask("find traces similar to trace0")
    ask("plot latency by day")
    answer = ask("create a dataset from logs with errors")
    card = answer.locator(".lj-card-confirmation").last
    expect(card.locator(".lj-confirm")).to_be_enabled()
    card.locator(".lj-confirm").click()
    expect(card.locator(".lj-pending-status")).to_have_text("confirmed")
    expect(chat.locator(".lj-card-dataset").last).to_be_visible()
    ask(f"why does {PAYLOADS[0]} fail in {PAYLOADS[2]}?")  # the user's own text is shown as text too
    chat.locator(".lj-transcript").evaluate("el => { el.style.maxHeight = 'none'; }")
    _shot(page, chat, "xss-chat")
    _assert_inert(page, ".lj-chat")  # the chat held (and the explorer still does)
    _assert_inert(page, ".lj-explorer")


def test_kept_things_do_not_run_log_script(page, lab: dict) -> None:
    """Annotations, failure-mode cards and proposals, a tampered saved session (from Python, in the
    chat's transcript and its session list) and the explorer's annotation block."""
    open_and_run_all(page, lab, "kept.ipynb")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    errors = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not [t for t in errors.all_inner_texts() if "Traceback" in t or "Error:" in t]
    expect(notebook).to_contain_text("Waiting for confirmation")  # the mode's dataset-and-scorer proposal
    expect(notebook).to_contain_text("mode <img")  # a mode named by a payload label, as text
    chat = page.locator(".lj-chat")
    expect(chat.locator(".lj-user")).to_have_count(2, timeout=60_000)  # the reopened session's questions
    expect(chat.locator(".lj-trace-html").first).to_be_attached(timeout=60_000)  # the tampered trace view (folded)
    chat.locator(".lj-sessions-btn").click()
    expect(chat.locator(".lj-session-row[data-session='planted']")).to_be_visible(timeout=60_000)

    def ask(question: str) -> object:
        return _ask(chat, question)

    ask("what are the failure modes?")
    answer = ask("save the largest failure mode as a dataset and a scorer")
    card = answer.locator(".lj-card-confirmation").last
    card.locator(".lj-confirm").click()
    expect(card.locator(".lj-pending-status")).to_have_text("confirmed", timeout=60_000)
    ask("show annotations")
    explorer = page.locator(".lj-explorer")
    explorer.scroll_into_view_if_needed()
    rows = explorer.locator(".lj-table-holder .lj-table tbody tr:not(.lj-raw-row)")
    expect(rows).to_have_count(10, timeout=60_000)
    explorer.locator(".lj-where").fill("root_span_id = 'trace0'")
    explorer.locator(".lj-where").press("Enter")
    expect(rows).to_have_count(1, timeout=60_000)
    rows.first.locator("td").nth(2).click()
    explorer.locator(".lj-tree .lj-node").first.click()
    block = explorer.locator(".lj-detail .lj-annotations")
    expect(block.locator(".lj-annotation").first).to_be_visible(timeout=60_000)
    expect(block.locator(".lj-annotation-name").first).to_contain_text("mode <img")
    _shot(page, notebook, "xss-kept")
    _assert_inert(page, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")


def _shot(page, locator, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# ---- the chat bundle alone, with a wider corpus --------------------------------------------------
#: Known ways past Markdown renderers and sanitizers; each sets the flag to its own number if it runs.
CORPUS = [
    *PAYLOADS,
    '<a href="jav&#x09;ascript:window.__pwned=10">tab</a>',
    "[case](JaVaScRiPt:window.__pwned=11)",
    "[entity](javascript&colon;window.__pwned=12)",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=13>",
    "<form><button formaction=javascript:window.__pwned=14>go</button></form>",
    "![pic](javascript:window.__pwned=15)",
    '<noscript><p title="</noscript><img src=x onerror=window.__pwned=16>">',
    "`<img src=x onerror=window.__pwned=17>` in code",
    "```html\n<img src=x onerror=window.__pwned=18>\n```",
    '<object data="javascript:window.__pwned=19"></object>',
    "[data](data:text/html,<script>parent.__pwned=20</script>)",
    "[ref][r]\n\n[r]: javascript:window.__pwned=21",
    '<iframe src="javascript:parent.__pwned=22"></iframe>',
    "<svg><animate onbegin=window.__pwned=23 attributeName=x dur=1s>",
    '<video><source onerror="window.__pwned=24"></video>',
    "<input autofocus onfocus=window.__pwned=25>",
    "<javascript:window.__pwned=26>",
    '<div style="background:url(javascript:window.__pwned=27)">styled</div>',
    "<style>*{background:url(x)}</style><b>styled</b>",
    "| a | b |\n|---|---|\n| <img src=x onerror=window.__pwned=28> | [t](javascript:window.__pwned=29) |",
    "<<img src=x onerror=window.__pwned=30>img src=x onerror=window.__pwned=31>",
    "3. third **step** <b onmouseover=window.__pwned=32>x</b>\n4. fourth",
]

HARNESS = """async ({ corpus }) => {
  const mod = await import("/static/chat.js");
  const traits = { title: "Loop", models: ["offline"], model: "offline", sources: [], enabled_sources: [],
    auto_accept: false, scope: null, busy: false, queue: [], has_explorer: true };
  const history = corpus.flatMap((t) => [{ role: "user", text: t }, { role: "assistant", text: t }]);
  // One fake kernel per view (its own message handlers): ``reply(msg)`` answers each request.
  const view = (id, reply) => {
    const handlers = new Map();
    const emit = (msg) => (handlers.get("msg:custom") || new Set()).forEach((f) => f(msg, []));
    const model = {
      get: (k) => traits[k], set: (k, v) => { traits[k] = v; }, save_changes() {},
      on: (e, f) => { if (!handlers.has(e)) handlers.set(e, new Set()); handlers.get(e).add(f); },
      off: (e, f) => handlers.get(e)?.delete(f),
      send: (msg) => setTimeout(() => emit({ id: msg.id, ...reply(msg) })),
    };
    const el = document.createElement("div"); el.id = id; document.body.append(el);
    mod.default.render({ model, el });
    return emit;
  };
  const cards = (t, i) => [
    { kind: "trace", root_span_id: t, html: t },
    { kind: "table", columns: [t, "n"], types: ["text", "number"], rows: [[t, 1]], total_rows: 1 },
    { kind: "sql", sql: t, shape: t, count: 1 },
    { kind: "dataset", name: t, version: 1, rows: 1, path: t },
    { kind: "code", source: t },
    { kind: "confirmation", status: "pending", action_id: t, description: t, preview: t },
  ].map((a) => ({ artifact_id: "p" + i, title: t, ...a }));
  // A reloaded page rebuilds the live branch from the "transcript" request (cards and all) ...
  const runs = corpus.map((t, i) => ({ run_id: "p" + i, question: t, text: t, steps: [{ name: t, is_error: true }],
    artifacts: cards(t, i), error: t, status: "", alternatives: { index: 2 * i, position: 1, count: 1, branches: [] } }));
  view("past", (msg) => msg.type === "transcript" ? { ok: true, runs, hidden: 0, session: "", branch: {} }
    : msg.type === "page" ? { ok: true, rows: [corpus], total_rows: 1 } : { ok: true, total: 1 });
  // ... and a kernel without it (an older one) falls back to the plain "history" text.
  view("old", (msg) => msg.type === "transcript" ? { ok: false, error: "unknown request" }
    : msg.type === "history" ? { ok: true, messages: history } : { ok: true, total: 1 });
  await new Promise((r) => setTimeout(r, 50));
  const emit = view("live", () => ({ ok: true, messages: [], runs: [], rows: [corpus], total_rows: 1, total: 1 }));
  corpus.forEach((t, i) => {
    const run = "r" + i, ev = (event, data) => emit({ type: "event", event, run_id: run, data });
    const base = { artifact_id: "a" + i, title: t };
    ev("started", { question: t });
    ev("tool_started", { name: t, summary: t });
    ev("text_delta", { text: t.slice(0, 7) });
    ev("text_delta", { text: t.slice(7) });
    ev("tool_finished", { name: t, is_error: true });
    for (const a of [
      { kind: "trace", root_span_id: t, html: t },
      { kind: "table", columns: [t, "n"], types: ["text", "number"], rows: [[t, 1]], total_rows: 1 },
      { kind: "sql", sql: t, shape: t, count: 1 },
      { kind: "dataset", name: t, version: 1, rows: 1, path: t },
      { kind: "scorer", name: t, scorer_kind: t, source: t, path: t },
      { kind: "code", source: t },
      { kind: t, source: t },
    ]) ev("artifact", { artifact: { ...base, ...a } });
    ev("confirmation", { artifact: { ...base, kind: "confirmation", status: "pending", action_id: t, description: t, preview: t } });
    ev("error", { message: t });
    ev("done", { text: t, tokens_sent: 1 });
  });
}"""


def test_chat_bundle_renders_a_bypass_corpus_as_text(browser) -> None:
    bundle = (REPO / "loop_jupyter" / "static" / "chat.js").read_text()
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    def serve(route) -> None:
        if route.request.url.endswith("/static/chat.js"):
            route.fulfill(body=bundle, content_type="text/javascript")
        elif route.request.url.rstrip("/").endswith("lj.test"):
            route.fulfill(body="<!doctype html><html><body></body></html>", content_type="text/html")
        else:
            route.fulfill(status=404, body="")

    page.route("**/*", serve)
    try:
        page.goto("http://lj.test/")
        page.evaluate(HARNESS, {"corpus": CORPUS})
        live = page.locator("#live .lj-assistant")
        expect(live).to_have_count(len(CORPUS))
        expect(page.locator("#past .lj-assistant")).to_have_count(len(CORPUS))
        expect(page.locator("#past .lj-confirm")).to_have_count(len(CORPUS))
        expect(page.locator("#old .lj-assistant.lj-past")).to_have_count(len(CORPUS))
        # A table card's next page and every Confirm: the buttons a person clicks.
        page.locator("#live .lj-confirm").first.click()
        page.locator("#live .lj-apply").first.click()
        _flag_stays_unset(page)
        injected = page.evaluate(FIND_INJECTED, "body")
        assert not injected, injected[:5]
        # Links that survive go to the web only and open in a new tab without an opener.
        for link in page.locator("body a[href]").all():
            assert re.match(r"^(https?:|mailto:)", link.get_attribute("href") or ""), link.evaluate("e => e.outerHTML")
            assert "noopener" in (link.get_attribute("rel") or "")
        answers = page.locator("#live .lj-answer-text").all_inner_texts()
        assert '<img src=x onerror="window.__pwned=1">' in answers[0]
        assert "<script>window.__pwned=3</script>" in answers[2]
        assert (
            "<img src=x onerror=window.__pwned=18>"
            in answers[CORPUS.index("```html\n<img src=x onerror=window.__pwned=18>\n```")]
        )
        # Markdown still renders: a list that starts at 3 keeps its number, bold stays bold.
        expect(page.locator("#live .lj-answer-text ol[start='3'] li")).to_have_count(2)
        expect(page.locator("#live .lj-answer-text ol strong")).to_have_text("step")
        trace_cards = page.locator("#live .lj-trace-html").all_inner_texts()
        assert (
            trace_cards[0] == ""
            and "styled"
            in trace_cards[CORPUS.index('<div style="background:url(javascript:window.__pwned=27)">styled</div>')]
        )
        assert not [u for u in requests if not u.startswith("http://lj.test/")], requests  # nothing fetched elsewhere
        assert not [u for u in requests if u.endswith("/x")], "an <img src=x> was requested"
        assert not errors, errors
    finally:
        context.close()
