"""The one rendering path for log text in rich (notebook) outputs.

Log text is hostile: span names, inputs, outputs, errors, metadata, tags and score names are written
by anyone (end users of the traced app, pages an agent fetched, tool outputs), and answers quote them
word for word. JupyterLab renders raw HTML inside Markdown outputs, so nothing built from log text may
reach the notebook as Markdown or HTML without passing through here.

- :func:`markdown_html` turns answer text (Markdown written by the planner or a model around quoted log
  text) into HTML with raw HTML disabled: every ``<``, ``>``, ``&`` and quote shows literally
  (``<n>`` shows as ``<n>``), links keep only ``http``/``https``/``mailto`` targets, images are never
  loaded (they show as text).
- :func:`escape` is ``html.escape`` (quotes included) for any other string put into HTML.
- :func:`answer_bundle`, :func:`artifact_bundle`, :func:`report_bundle` build MIME bundles
  (``text/plain`` always, ``text/html`` escaped); the ``_repr_mimebundle_`` of answers, artifacts
  and load reports and the ``%loop`` magic all use them.

No Markdown output is ever emitted: ``text/html`` built here is the only rich form.
Polars frames keep Polars' own ``_repr_html_`` (it escapes cell text; tested).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the data layer must not import surfaces or IPython
    from .artifacts import Artifact
    from .report import LoadReport

Bundle = dict[str, str]

#: Link targets that may become a clickable ``<a href>``; everything else stays text.
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
#: ``text/html`` of an answer shows at most this much text (the full text is on ``.text``).
MAX_HTML_CHARS = 100_000


#: Bidi embeddings, overrides and isolates (U+202A-E, U+2066-9): in HTML one of them in a quoted
#: log value reorders the rest of its paragraph (``error X\u202e: 12 traces`` shows ``secart 21``),
#: so each is shown as its escape (``\u202e``), as the terminal does. Marks (LRM/RLM/ALM) stay:
#: right-to-left text uses them and they reorder nothing beyond their neighbours.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(bundle: Bundle) -> Bundle:
    """A bundle the kernel can send: a lone surrogate (``"\\ud83d"`` in a model's JSON) as U+FFFD.
    The kernel encodes outputs as UTF-8, which refuses one: the display raised instead of showing."""
    return {k: _LONE_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for k, v in bundle.items()}


def neutral_bidi(text: str) -> str:
    """``text`` with every bidi embedding/override/isolate control shown as its escape."""
    return _BIDI_CONTROLS.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def escape(text: Any) -> str:
    """``html.escape`` with quotes: safe in element text and in quoted attribute values; bidi
    controls shown as escapes (:func:`neutral_bidi`)."""
    return html.escape(neutral_bidi("" if text is None else str(text)), quote=True)


def safe_href(url: str) -> str | None:
    """The URL if it may be a link target (http, https, mailto), else None."""
    cleaned = re.sub(r"[\x00-\x20\x7f]+", "", html.unescape(url or ""))
    try:
        scheme = urlsplit(cleaned).scheme.lower()
    except ValueError:
        return None
    return cleaned if scheme in SAFE_SCHEMES else None


def _markdown() -> Any:
    import mistune

    class _SafeRenderer(mistune.HTMLRenderer):
        """Raw HTML escaped (``escape=True``); links checked; images shown as text, never fetched."""

        def __init__(self) -> None:
            super().__init__(escape=True)

        def link(self, text: str, url: str, title: str | None = None) -> str:
            href = safe_href(url)
            if href is None:
                return f"{text} ({escape(url)})" if html.unescape(url) != html.unescape(text) else text
            title_attr = f' title="{escape(title)}"' if title else ""
            return f'<a href="{escape(href)}" rel="noopener noreferrer nofollow" target="_blank"{title_attr}>{text}</a>'

        def image(self, text: str, url: str, title: str | None = None) -> str:
            return f"[image: {text or 'no description'}] ({escape(url)})"

        def block_html(self, html_text: str) -> str:
            return f"<p>{escape(html_text.strip())}</p>\n"

        def inline_html(self, html_text: str) -> str:
            return escape(html_text)

    return mistune.create_markdown(renderer=_SafeRenderer(), plugins=["table", "strikethrough"])


_MD: Any = None


def markdown_html(text: str) -> str:
    """Markdown → HTML with raw HTML shown as text and only safe links. Never raises: on a parser
    failure the whole text is shown escaped in a ``<pre>``."""
    global _MD
    text = neutral_bidi("" if text is None else str(text))
    if len(text) > MAX_HTML_CHARS:
        text = text[:MAX_HTML_CHARS] + "\n\n… (truncated; the full text is on .text)"
    try:
        if _MD is None:
            _MD = _markdown()
        out = _MD(text)
    except Exception:  # a pathological input must still show, escaped
        return pre(text)
    return str(out)


#: Tags an HTML fragment built elsewhere (trace trees, tables) may keep; see :func:`clean_html`.
_CLEAN_TAGS = frozenset(
    {"ul", "ol", "li", "span", "small", "strong", "b", "em", "i", "code", "pre", "p", "br", "div", "table",
     "caption", "thead", "tbody", "tr", "th", "td", "details", "summary"}
)  # fmt: skip
#: The styles our trace trees use (bold, a hex colour), as the chat's safe_html.js allows them.
_CLEAN_STYLE = re.compile(r"^\s*(?:(?:font-weight:\s*(?:bold|600|700)|color:\s*#[0-9a-fA-F]{3,6})\s*;?\s*)*$")
_CLEAN_CLASS = re.compile(r"^(?:loop-[\w-]{1,40}|lj-[\w-]{1,40})$")


class _Cleaner(HTMLParser):
    """Re-writes HTML from its parse events: allowed tags with a class or style we wrote, every
    text escaped; anything else (script, img, on* handlers, links, comments) is dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _CLEAN_TAGS:
            return
        kept = ""
        for name, value in attrs:
            value = value or ""
            if (name == "style" and _CLEAN_STYLE.match(value)) or (
                name == "class" and value.split() and all(_CLEAN_CLASS.match(c) for c in value.split())
            ):
                kept += f' {name}="{escape(value)}"'
        self.out.append(f"<{tag}{kept}>")
        if tag != "br":
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("<br>")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data))


def clean_html(fragment: str) -> str:
    """An HTML fragment reduced to the tags and attributes our own views use, text escaped.

    For HTML that was built elsewhere and may have been stored and read back (a trace view in a
    saved session file, which anyone who can write the folder could have written): never trusted as
    it is. Never raises; on a parser failure the fragment is shown escaped."""
    cleaner = _Cleaner()
    try:
        cleaner.feed(str(fragment or "")[:MAX_HTML_CHARS])
        cleaner.close()
    except Exception:
        return pre(str(fragment or ""))
    return "".join(cleaner.out) + "".join(f"</{t}>" for t in reversed(cleaner.open))


def pre(text: str, language: str = "") -> str:
    """A code/preformatted block, escaped."""
    cls = f' class="language-{escape(language)}"' if language else ""
    return f"<pre><code{cls}>{escape(text)}</code></pre>"


def _div(body: str, kind: str) -> str:
    return f'<div class="loop-{escape(kind)}">{body}</div>'


def _heading(title: str) -> str:
    return f"<p><strong>{escape(title)}</strong></p>" if title else ""


def artifact_html(artifact: Artifact) -> str:
    """The escaped HTML of one artifact (frames and figures excluded: they render themselves)."""
    from .artifacts import Chart, Code, Dataset, Pending, Scorer, SqlFilter, Table, TraceView

    head = _heading(artifact.title)
    if isinstance(artifact, Table):
        return _div(head + artifact.frame._repr_html_(), "table")
    if isinstance(artifact, SqlFilter):
        return _div(
            head + f"<p>SQL filter over {escape(artifact.shape)} ({artifact.count:,} match):</p>"
            f"{pre(artifact.sql, 'sql')}",
            "sql",
        )
    if isinstance(artifact, Code):
        return _div(head + pre(artifact.source, artifact.language), "code")
    if isinstance(artifact, Pending):
        aid = escape(artifact.action_id)
        return _div(
            f"<p><strong>Waiting for confirmation:</strong> {escape(artifact.description)}</p>"
            f"{pre(artifact.preview)}<p>Run <code>%loop --confirm {aid}</code> to do it, "
            f"<code>%loop --cancel {aid}</code> to drop it.</p>",
            "confirmation",
        )
    if isinstance(artifact, Dataset):
        return _div(
            f"<p>Saved dataset <strong>{escape(artifact.name)}</strong> v{int(artifact.version)} "
            f"({artifact.rows:,} rows) to <code>{escape(artifact.path)}</code></p>",
            "dataset",
        )
    if isinstance(artifact, Scorer):
        return _div(
            f"<p>Scorer <strong>{escape(artifact.name)}</strong> ({escape(artifact.scorer_kind)}):</p>"
            f"{pre(artifact.source, 'python')}",
            "scorer",
        )
    if isinstance(artifact, TraceView):
        # Built by analysis/trace.py with every log string escaped, but a trace view read back from a
        # saved session file holds whatever that file held: cleaned either way.
        return _div(head + clean_html(artifact.html or ""), "trace")
    if isinstance(artifact, Chart):
        return _div(head + "<p>(chart: display the artifact's <code>.figure</code>)</p>", "chart")
    return _div(head + pre(str(artifact.to_json())), "artifact")


def artifact_text(artifact: Artifact) -> str:
    """The plain-text form of one artifact (compact, for ``text/plain``)."""
    from .artifacts import Code, Dataset, Pending, Scorer, SqlFilter, Table, TraceView

    title = f"{artifact.title}\n" if artifact.title else ""
    if isinstance(artifact, Table):
        return title + str(artifact.frame)
    if isinstance(artifact, SqlFilter):
        return f"{title}SQL filter over {artifact.shape} ({artifact.count:,} match):\n{artifact.sql}"
    if isinstance(artifact, Code):
        return title + artifact.source
    if isinstance(artifact, Pending):
        return (
            f"Waiting for confirmation: {artifact.description}\n{artifact.preview}\n"
            f"Run %loop --confirm {artifact.action_id} to do it, %loop --cancel {artifact.action_id} to drop it."
        )
    if isinstance(artifact, Dataset):
        return f"Saved dataset {artifact.name} v{artifact.version} ({artifact.rows:,} rows) to {artifact.path}"
    if isinstance(artifact, Scorer):
        return f"Scorer {artifact.name} ({artifact.scorer_kind}):\n{artifact.source}"
    if isinstance(artifact, TraceView):
        return f"{title}trace {artifact.root_span_id}"
    return f"<{artifact.kind} artifact{': ' + artifact.title if artifact.title else ''}>"


def artifact_bundle(artifact: Artifact) -> Bundle:
    """``text/plain`` + escaped ``text/html`` for one artifact (charts: Plotly's own bundle)."""
    from .artifacts import Chart

    if isinstance(artifact, Chart) and hasattr(artifact.figure, "_repr_mimebundle_"):
        bundle = dict(safe_figure(artifact.figure)._repr_mimebundle_() or {})  # {} when Plotly has no renderer
        if bundle:
            bundle.setdefault("text/plain", artifact_text(artifact))
            return bundle
    return _utf8({"text/plain": artifact_text(artifact), "text/html": artifact_html(artifact)})


#: Plotly's own markup kept in figure text: line breaks, and the empty ``<extra>`` box a hover
#: template uses to hide the trace name. Every other ``<``, ``>`` and ``&`` is escaped.
_PLOTLY_KEPT = re.compile(r"&lt;(br ?/?|/?extra)&gt;", re.I)


def _plotly_text(value: Any) -> Any:
    if isinstance(value, str):
        return _PLOTLY_KEPT.sub(lambda m: f"<{m.group(1)}>", html.escape(neutral_bidi(value), quote=False))
    if isinstance(value, list):
        return [_plotly_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _plotly_text(item) for key, item in value.items()}
    return value


def figure_json(figure: Any) -> dict[str, Any] | None:
    """A Plotly figure as JSON with every string made inert for Plotly's text renderer.

    Plotly draws names, categories, tick labels, titles and hover text through a small HTML
    dialect (``<a href>``, ``<span style>``, ``<b>``, ``<sub>``...), and Plotly Express copies a
    colour column's values into trace names and hover templates. So a span or tool name from the
    logs could put a link or restyled text into a chart, and error groups' placeholders (``<n>``)
    vanished as unknown tags. Escaping ``&``, ``<`` and ``>`` everywhere makes Plotly show the text
    as written (it decodes the entities); our own ``<br>`` and ``<extra></extra>`` stay markup.
    The figure object itself keeps the raw values (``answer.figures`` is data)."""
    if figure is None:
        return None
    import json

    return _plotly_text(json.loads(figure.to_json()))


def safe_figure(figure: Any) -> Any:
    """A copy of ``figure`` for display, its text escaped as :func:`figure_json` does."""
    import plotly.graph_objects as go

    return go.Figure(figure_json(figure))


def text_bundle(text: str) -> Bundle:
    """Answer-style Markdown text (possibly quoting logs) as a safe bundle."""
    return _utf8({"text/plain": str(text), "text/html": _div(markdown_html(text), "answer")})


def message_bundle(text: str) -> Bundle:
    """A short message shown exactly as written (no Markdown at all)."""
    return _utf8({"text/plain": str(text), "text/html": f"<p>{escape(text)}</p>"})


def answer_bundle(text: str, artifacts: list[Artifact] | None = None, question: str = "") -> Bundle:
    """An answer's text and a compact list of its artifacts (the full artifacts render one by one)."""
    artifacts = list(artifacts or [])
    kinds = ", ".join(a.kind for a in artifacts)
    plain = (f"Q: {question}\n\n" if question else "") + str(text or "")
    if kinds:
        plain += f"\n\n[artifacts: {kinds}]"
    body = (f"<p><em>{escape(question)}</em></p>" if question else "") + markdown_html(text or "")
    if artifacts:
        items = "".join(f"<li>{escape(a.kind)}{': ' + escape(a.title) if a.title else ''}</li>" for a in artifacts)
        body += f"<details><summary>{len(artifacts)} artifact(s)</summary><ul>{items}</ul></details>"
    return _utf8({"text/plain": plain, "text/html": _div(body, "answer")})


def report_bundle(report: LoadReport, limit: int = 20) -> Bundle:
    """A load report: summary plus the first skipped lines and warnings, escaped."""
    summary = report.summary()
    rows = []
    for label, problems in (("skipped", report.skipped), ("warning", report.warnings)):
        for p in problems[:limit]:
            where = f"{p.source}:{p.line}" if p.source else f"line {p.line}"
            rows.append(
                f"<tr><td>{escape(label)}</td><td>{escape(where)}</td><td>{escape(p.reason)}</td>"
                f"<td>{escape(getattr(p, 'excerpt', ''))}</td></tr>"
            )
    table = (
        "<table><thead><tr><th>kind</th><th>where</th><th>reason</th><th>excerpt</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else ""
    )
    more = len(report.skipped) + len(report.warnings) - len(rows)
    tail = f"<p>… and {more:,} more (see <code>.skipped</code> / <code>.warnings</code>)</p>" if more > 0 else ""
    head = f"<p>{escape(summary.splitlines()[0] if summary else '')}</p>"
    return _utf8({"text/plain": summary, "text/html": _div(head + table + tail, "load-report")})


__all__ = [
    "answer_bundle",
    "artifact_bundle",
    "artifact_html",
    "artifact_text",
    "clean_html",
    "escape",
    "markdown_html",
    "message_bundle",
    "pre",
    "report_bundle",
    "safe_href",
    "text_bundle",
]
