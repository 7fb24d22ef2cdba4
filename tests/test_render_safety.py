"""Log text is hostile (issue 12, finding 1): no rich output built from it may carry live HTML.

Logs with script payloads in every text field go through ``%loop`` / ``%%loop`` in a real
InteractiveShell with the offline planner; every display output is captured and parsed the way a
notebook would render it (text/html as HTML; text/markdown through a Markdown renderer that passes
raw HTML, as JupyterLab's does). No element, attribute or link target from the payloads may exist,
while the payload text must still be visible, escaped. Error placeholders (``<n>``) must show.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import mistune
import polars as pl
import pytest
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

from loop_jupyter import artifacts as A
from loop_jupyter import magic
from loop_jupyter.render import answer_bundle, artifact_bundle, markdown_html, safe_href
from loop_jupyter.report import LoadReport
from tests.helpers import frame_of, span

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    '<a href="javascript:alert(4)">j</a>',
    "[x](javascript:alert(5))",
    "![x](http://evil.example/p.png)",
    "<iframe src=javascript:alert(6)></iframe>",
    "<javascript:alert(7)>",
]
PAY = " ".join(PAYLOADS)
#: Elements no output built by loop_jupyter has any reason to contain.
FORBIDDEN_TAGS = {"script", "img", "svg", "iframe", "object", "embed", "video", "audio", "form", "math", "base"}


def hostile_logs() -> pl.DataFrame:
    events: list[dict[str, Any]] = []
    for t in range(6):
        root, start = f"r{t}", 1_760_000_000.0 + t * 100
        events.append(
            span(
                root,
                root,
                name=f"agent {PAY}",
                type="task",
                start=start,
                end=start + 1 + t,
                input={"messages": [{"role": "user", "content": f"hello {PAY}"}]},
                output=f"out {PAY}",
                expected=f"exp {PAY}",
                metadata={"user_id": f"u{t} {PAY}", PAY: "v"},
                tags=[f"t {PAY}"],
                scores={f"score {PAYLOADS[0]}": 0.5},
            )
        )
        events.append(
            span(
                f"c{t}",
                root,
                root,
                name=f"tool {PAY}",
                type="tool",
                start=start + 0.5,
                input=f"in {PAY}",
                output=f"o {PAY}",
                error=f"Error {PAY} at <n> for <name>",
            )
        )
    return frame_of(events)


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html_text: str) -> _Elements:
    parser = _Elements()
    parser.feed(html_text)
    parser.close()
    return parser


_RAW_MARKDOWN = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])


def rendered_html(data: dict[str, Any]) -> str | None:
    """What a notebook would render as HTML from one bundle (None: no HTML/Markdown in it)."""
    if any("plotly" in mime for mime in data):
        return None  # Plotly figures: rendered by plotly.js from JSON, not from log HTML
    if "text/html" in data:
        html_text = str(data["text/html"])
        if "Plotly.newPlot" in html_text:  # Plotly's own figure HTML: log text only inside its JSON
            for raw in ("<img", "<svg", "<iframe", "<script>alert", "</script><"):
                assert raw not in html_text, raw  # Plotly's JSON writes < as \u003c
            return re.sub(r"<script\b.*?</script>", "", html_text, flags=re.S | re.I)
        return html_text
    if "text/markdown" in data:  # JupyterLab passes raw HTML inside Markdown through
        return str(_RAW_MARKDOWN(str(data["text/markdown"])))
    return None


def assert_safe(html_text: str) -> str:
    """No payload element or attribute, no script link target; returns the visible text."""
    doc = parse(html_text)
    for tag, attrs in doc.tags:
        assert tag not in FORBIDDEN_TAGS, (tag, attrs, html_text[:2000])
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            assert name not in {"src", "srcdoc", "formaction", "xlink:href"}, (tag, name, value)
            if name == "href":
                assert safe_href(value or "") is not None, (tag, value)
                assert "evil" not in (value or ""), (tag, value)
    return "".join(doc.text)


def assert_outputs_safe(outputs: list[Any]) -> str:
    seen = []
    for out in outputs:
        html_text = rendered_html(out.data)
        if html_text is not None:
            seen.append(assert_safe(html_text))
    assert seen, "no rich output was captured"
    return "\n".join(seen)


def _ip() -> Any:
    """The test InteractiveShell (one per process: ``start_ipython`` returns None after the first)."""
    return start_ipython() or get_ipython()


@pytest.fixture(autouse=True)
def notebook_formats():
    """Format every MIME type, as a notebook kernel does (a terminal shell keeps only text/plain)."""
    formatter = _ip().display_formatter
    saved = list(formatter.active_types)
    formatter.active_types = list(formatter.format_types)
    yield
    formatter.active_types = saved


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    return hostile_logs()


@pytest.fixture()
def shell(logs: pl.DataFrame, tmp_path: Path):
    ip = _ip()
    magic.load_ipython_extension(ip)
    ip.user_ns.clear()
    ip.user_ns["logs"] = logs
    magics = ip.magics_manager.registry["LoopMagics"]
    magics._loops.clear()
    magics._logs_name = ""
    magics.workdir = str(tmp_path)
    magics.model = "offline"
    magics.auto_accept = False
    yield ip
    magics.model = ""


def run(ip: Any, source: str) -> list[Any]:
    with capture_output() as captured:
        result = ip.run_cell(source)
    assert result.error_before_exec is None and result.error_in_exec is None, (source, captured.stdout[-2000:])
    return captured.outputs


QUESTIONS = [
    "%loop What are the most common errors?",
    "%loop summarize the slowest trace",
    "%loop find traces similar to the slowest trace",
    "%loop which tools fail most?",
    "%loop tool spans with errors",
    "%loop spans tagged t",
    "%%loop\ncreate a dataset of traces with errors",
    "%%loop --yes\nwrite a scorer that checks the output is not empty",
]


@pytest.mark.parametrize("source", QUESTIONS)
def test_magic_outputs_carry_no_live_html(shell, source: str) -> None:
    outputs = run(shell, source)
    visible = assert_outputs_safe(outputs)
    # the log text still shows, escaped (error groups write <n> for numbers: compare the prefixes)
    assert "<img src=x onerror=alert(" in visible or "<script>alert(" in visible, visible[:3000]


def test_error_placeholders_survive_visibly(shell) -> None:
    visible = assert_outputs_safe(run(shell, "%loop What are the most common errors?"))
    assert "<n>" in visible and "<name>" in visible
    assert "<img src=x onerror=alert(" in visible  # shown as text, not an element


def test_confirm_and_cancel_outputs_are_escaped(shell) -> None:
    kinds: set[str] = set()
    for question in ("create a dataset of traces with errors", "write a scorer that checks the output is not empty"):
        assert_outputs_safe(run(shell, f"%loop {question}"))
        (pending,) = magic.last_answer().pending
        outputs = run(shell, f"%loop --confirm {pending.action_id}")
        assert_outputs_safe(outputs)
        kinds |= {k for o in outputs for k in o.data}
    assert "text/html" in kinds
    assert_outputs_safe(run(shell, "%loop create a dataset of traces with errors"))
    (pending,) = magic.last_answer().pending
    visible = assert_outputs_safe(run(shell, f"%loop --cancel {pending.action_id}"))
    assert pending.action_id in visible


def test_every_artifact_kind_of_the_answers_is_escaped(shell) -> None:
    seen: set[str] = set()
    for source in QUESTIONS[:5]:
        run(shell, source)
        for artifact in magic.last_answer().artifacts:
            seen.add(artifact.kind)
            bundle = shell.display_formatter.format(artifact)[0]
            html_text = rendered_html(bundle)
            if html_text is not None:
                assert_safe(html_text)
    assert {"table", "chart", "sql", "code", "trace"} <= seen


def hostile_artifacts() -> list[A.Artifact]:
    frame = pl.DataFrame({PAY: [PAY, "<n>"]})
    return [
        A.Table(frame, title=PAY),
        A.SqlFilter(f"SELECT * FROM logs WHERE name = '{PAY}'", "spans", 2, title=PAY),
        A.Code(f"print({PAY!r})", title=PAY),
        A.Code(f"SELECT '{PAY}'", language="sql", title=PAY),
        A.Pending("id-1", f"Save {PAY}", f"preview {PAY}", title=PAY),
        A.Dataset(PAY, 1, f"datasets/{PAY}.jsonl", 3, title=PAY),
        A.Scorer(PAY, "code", f"def score(x):\n    return {PAY!r}", title=PAY),
        A.TraceView(PAYLOADS[0], title=PAY),
    ]


@pytest.mark.parametrize("artifact", hostile_artifacts(), ids=lambda a: a.kind)
def test_artifact_reprs_escape_every_field(artifact: A.Artifact) -> None:
    ip = _ip()
    bundle, _ = ip.display_formatter.format(artifact)
    assert "text/html" in bundle and "text/plain" in bundle
    visible = assert_safe(bundle["text/html"])
    assert PAYLOADS[0] in visible  # the text is there, as text


def test_trace_tree_html_escapes_every_log_string(logs: pl.DataFrame) -> None:
    from loop_jupyter.agent.session import Loop

    answer = Loop(logs, "offline").ask("summarize the slowest trace")
    (view,) = [a for a in answer.artifacts if isinstance(a, A.TraceView)]
    assert view.html
    visible = assert_safe(view.html)
    assert "<img src=x onerror=alert(1)>" in visible


def test_polars_html_repr_escapes_cells(logs: pl.DataFrame) -> None:
    visible = assert_safe(logs.select("name", "input", "output", "error", "tags", "metadata")._repr_html_())
    assert "<script>" in visible


def test_answer_shows_compactly_and_escaped_as_last_line_of_a_cell(shell, logs: pl.DataFrame) -> None:
    from loop_jupyter.agent.session import Loop

    shell.user_ns["loop"] = Loop(logs, "offline")
    with capture_output() as captured:
        shell.run_cell("answer = loop.ask('What are the most common errors?')")
    answer = shell.user_ns["answer"]
    bundle, _ = shell.display_formatter.format(answer)
    assert "text/html" in bundle
    assert len(bundle["text/plain"]) < len(answer.text) + 300  # not the 17k-character dataclass repr
    visible = assert_safe(bundle["text/html"])
    assert "<n>" in visible and PAYLOADS[0] in visible
    view_bundle, _ = shell.display_formatter.format(magic.AnswerView("q <b>", answer, answer.artifacts))
    assert "q <b>" in assert_safe(view_bundle["text/html"])
    del captured


def test_load_report_repr_escapes_excerpts() -> None:
    report = LoadReport(format="jsonl")
    report.skip(3, f"bad line {PAYLOADS[1]}", source="f.jsonl", excerpt=PAY)
    report.warn(4, PAYLOADS[0], source=PAYLOADS[2])
    bundle, _ = _ip().display_formatter.format(report)
    visible = assert_safe(bundle["text/html"])
    assert PAYLOADS[1] in visible and "f.jsonl:3" in visible


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("group `Error <n>` and <name>", "<name>"),
        ("[click](javascript:alert(1)) and [ok](https://example.com)", "click"),
        ("[x](JaVaScRiPt&#58;alert(1))", "x"),
        ("[x](&#106;avascript:alert(1))", "x"),
        ("<javascript:alert(1)>", "javascript:alert(1)"),
        ("![pixel](http://evil.example/p.png)", "pixel"),
        ("```\n</code></pre><script>alert(1)</script>\n```", "<script>"),
        ("| a |\n|---|\n| <img src=x onerror=alert(1)> |", "<img"),
        ('<div title="x" onclick="alert(1)">y</div>', "onclick"),
    ],
)
def test_markdown_html_neutralises_raw_html_and_links(text: str, shown: str) -> None:
    visible = assert_safe(markdown_html(text))
    assert shown in visible


def test_answer_bundle_safe_links_stay_links() -> None:
    doc = parse(answer_bundle("see [docs](https://example.com/a?b=1&c=2)", [])["text/html"])
    hrefs = [dict(attrs).get("href") for tag, attrs in doc.tags if tag == "a"]
    assert hrefs == ["https://example.com/a?b=1&c=2"]


def test_chart_bundle_is_plotly_own_or_escaped() -> None:
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(x=[1], y=[PAYLOADS[0]]))
    bundle = artifact_bundle(A.Chart(figure, title=PAY))
    assert "text/plain" in bundle
    html_text = rendered_html(bundle)
    if html_text is not None:  # no notebook renderer configured: our escaped fallback
        assert PAYLOADS[0] in assert_safe(html_text)
