"""Chart text from the logs is inert: Plotly's text dialect (``<a href>``, ``<span style>``, ``<b>``...)
never reaches a displayed figure, and what Plotly shows after decoding entities is the text as written."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loop_jupyter import Loop
from loop_jupyter.artifacts import Chart, TraceView
from loop_jupyter.render import figure_json
from loop_jupyter.widgets.cards import card
from tests.helpers import frame_of, span

#: Plotly's own markup, written into log fields: a link, restyled text, bold, a placeholder.
MARKUP = '<a href="https://evil.example/login">sign in</a> <span style="font-size:400px">X</span> <b>b</b> <n> &amp;'
#: A tag Plotly's text renderer would act on (our own ``<br>`` and ``<extra>`` excepted).
LIVE_TAG = re.compile(r"<(?!br\b|br ?/|/?extra\b)/?[a-z][^<>]*>", re.I)


def hostile_logs() -> pl.DataFrame:
    events: list[dict[str, Any]] = []
    for t in range(8):
        root, start = f"r{t}", 1_760_000_000.0 + t * 86_400
        events.append(span(root, root, name=f"agent {MARKUP}", type="task", start=start, end=start + 5 + t * 20))
        events.append(
            span(
                f"l{t}",
                root,
                root,
                name=f"llm {MARKUP}",
                type="llm",
                start=start + 0.1,
                end=start + 2,
                metadata={"model": f"model{t % 2} {MARKUP}"},
                metrics={"prompt_tokens": 10 + t, "completion_tokens": 5, "tokens": 15 + t},
            )
        )
        events.append(
            span(
                f"c{t}",
                root,
                root,
                name=f"tool{t % 3} {MARKUP}",
                type="tool",
                start=start + 2,
                end=start + 3,
                error=f"Timeout {MARKUP}" if t % 2 else None,
            )
        )
    return frame_of(events)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    return []


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    loop = Loop(hostile_logs(), "offline", workdir=tmp_path_factory.mktemp("figures"))
    questions = [
        "What are the most common errors?",
        "show tokens by model as a chart",
        "rank tools by blast radius",
        "show the timeline of the slowest trace",
        "show the error rate over time",
    ]
    found = []
    for question in questions:
        for artifact in loop.ask(question).artifacts:
            if isinstance(artifact, Chart | TraceView) and artifact.figure is not None:
                found.append(artifact)
    return found


def test_the_logs_markup_reaches_the_figures(figures: list[Any]) -> None:
    """Without this the other tests could pass on figures that never held log text."""
    assert len(figures) >= 4
    raw = [s for artifact in figures for s in strings(artifact.figure.to_plotly_json())]
    assert any("<a href=" in s for s in raw) and any("<span style=" in s for s in raw)


def test_displayed_figures_carry_no_live_plotly_markup(figures: list[Any]) -> None:
    every = []
    for artifact in figures:
        shown = figure_json(artifact.figure)
        live = [s for s in strings(shown) if LIVE_TAG.search(s)]
        assert not live, (artifact.title, live[:3])
        every += strings(shown)
        # The chat card sends the same escaped figure.
        assert card(artifact, "a1")["figure"] == shown
    assert any("&lt;a href=" in s for s in every)


def test_plotly_shows_the_text_as_written(figures: list[Any]) -> None:
    """Plotly decodes ``&lt;`` ``&gt;`` ``&amp;`` back: decoding the shown text gives the raw text."""
    for artifact in figures:
        raw = strings(json.loads(artifact.figure.to_json()))
        decoded = [html.unescape(s) for s in strings(figure_json(artifact.figure))]
        assert decoded == [s.replace("<br />", "<br>") for s in raw]


def test_our_own_line_breaks_stay_markup() -> None:
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(x=[1], y=["<n> & <b>x</b>"], hovertemplate="a=%{y}<br>b<extra></extra>"))
    shown = figure_json(figure)
    assert shown["data"][0]["hovertemplate"] == "a=%{y}<br>b<extra></extra>"
    assert shown["data"][0]["y"] == ["&lt;n&gt; &amp; &lt;b&gt;x&lt;/b&gt;"]
    assert figure.data[0].y == ("<n> & <b>x</b>",)  # the figure itself stays data


def test_magic_displays_the_escaped_copy(tmp_path: Path) -> None:
    import plotly.graph_objects as go
    from IPython.utils.capture import capture_output

    from loop_jupyter.magic import display_artifact
    from tests.test_render_safety import _ip

    _ip()  # the suite's one test shell (display needs a shell to capture into)
    figure = go.Figure(go.Bar(x=[1], y=[MARKUP]))
    with capture_output() as captured:
        display_artifact(Chart(figure, title="t"))
    shown = [s for output in captured.outputs for s in strings(output.data)]
    assert any("&lt;span style=" in s for s in shown)
    assert not [s for s in shown if "<span style=" in s]
