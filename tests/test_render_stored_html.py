"""HTML that was stored and read back is not trusted: a trace view in a saved session file.

Session files live in ``<workdir>/.loop/sessions`` and anyone who can write that folder wrote
them; a trace view's ``html`` read back from one used to reach the notebook as it was (render.py
trusted TraceView.html because analysis/trace.py escapes what it builds). It now goes through
``render.clean_html``: our own trees and tables come out unchanged, anything else is reduced to
text.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import polars as pl
import pytest

from loop_jupyter import artifacts as A
from loop_jupyter import render
from loop_jupyter.agent.persist import artifact_from_ref, artifact_ref
from loop_jupyter.analysis.trace import summarize_trace
from loop_jupyter.analysis.trace_views import html_table
from loop_jupyter.render import artifact_bundle
from tests.hostile_logs import PAYLOADS

#: What a notebook may render from stored HTML: text in these tags, with a class or our own style.
TAGS = {"div", "p", "strong", "ul", "ol", "li", "span", "small", "b", "table", "caption", "thead", "tbody", "tr",
        "th", "td", "br", "code", "pre", "em", "i", "details", "summary"}  # fmt: skip

STORED = [
    *PAYLOADS,
    '<span onclick="window.__pwned=1" style="font-weight:bold">x</span>',
    '<span style="background:url(javascript:window.__pwned=2)">x</span>',
    '<li class="loop-x" onmouseover="window.__pwned=3">x</li>',
    "<svg><foreignObject><img src=x onerror=window.__pwned=4></foreignObject></svg>",
    "<!--><img src=x onerror=window.__pwned=5>-->",
    '<a href="javascript:window.__pwned=6">link</a>',
    "<table><tr><td><iframe srcdoc='<script>parent.__pwned=7</script>'></iframe></td></tr></table>",
    "<scr<script>ipt>window.__pwned=8</script>",
    '<div class="loop-trace" style="color:#fff;background:red">x</div>',
]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAGS:
            self.bad.append(tag)
        for name, value in attrs:
            if name not in ("class", "style") or "url(" in (value or "") or "background" in (value or ""):
                self.bad.append(f"{tag} {name}={value}")

    def handle_comment(self, data: str) -> None:
        self.bad.append("comment")


def _live(html: str) -> list[str]:
    """Elements and attributes beyond plain formatting in ``html`` (as a browser would parse it)."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.bad


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    from loop_jupyter.demo import demo_logs

    return demo_logs(n_traces=30, seed=0)


@pytest.mark.parametrize("stored", STORED)
def test_trace_view_read_back_from_a_session_file_shows_no_live_markup(stored: str) -> None:
    ref = json.loads(json.dumps({"kind": "trace", "title": "t", "root_span_id": "r", "html": stored}))
    view = artifact_from_ref(ref)
    assert isinstance(view, A.TraceView)
    shown = artifact_bundle(view)["text/html"]
    assert not _live(shown), shown


def test_our_own_trace_html_comes_out_unchanged(logs) -> None:
    root = logs.filter(logs["error"].is_not_null()).get_column("root_span_id")[0]
    view = summarize_trace(logs, root).first(A.TraceView)
    assert view.html.startswith('<ul class="loop-trace-tree">')
    assert render.clean_html(view.html) == view.html
    assert "color:#d62728" in render.clean_html(view.html)  # an error span stays red
    # ... and after a round trip through a session file, as before.
    back = artifact_from_ref(json.loads(json.dumps(artifact_ref(view))))
    assert render.clean_html(back.html) == view.html
    table = html_table(logs.select("name", "error").head(5), "Errors <of> you")
    assert render.clean_html(table) == table


def test_clean_html_keeps_text_and_escapes_it() -> None:
    out = render.clean_html("<p>a &lt;b&gt; & <b>c</b></p><img src=x onerror=alert(1)>tail")
    assert out == "<p>a &lt;b&gt; &amp; <b>c</b></p>tail"
    assert render.clean_html("<ul><li>open") == "<ul><li>open</li></ul>"  # closed, never left open
    assert render.clean_html("x" * 10) == "x" * 10
