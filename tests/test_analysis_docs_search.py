from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from loop_jupyter.analysis.docs_search import doc_pages, docs_index, parse_page, search_docs, slug
from loop_jupyter.artifacts import Code, Table
from tests.analysis_logs import chat_trace, frame

PAGES = {
    "getting-started.md",
    "loading-logs.md",
    "sql-filters.md",
    "chat-widget.md",
    "explorer.md",
    "datasets.md",
    "scorers.md",
    "magic.md",
    "models.md",
}


def test_pages_ship_and_every_link_resolves():
    pages = doc_pages()
    assert set(pages) >= PAGES
    anchors = {(s.page, s.anchor) for s in docs_index().sections}
    headings = {(name, slug(h)) for name, text in pages.items() for h in re.findall(r"^#{1,2} (.+)$", text, re.M)}
    assert anchors <= headings
    # Relative links between pages point at shipped pages.
    for text in pages.values():
        for target in re.findall(r"\]\(([\w-]+\.md)\)", text):
            assert target in pages


def test_sections_and_anchor():
    sections = parse_page("x.md", "# Title\nintro\n## Do a thing!\nbody\n```\n## not a heading\n```\n")
    assert [(s.heading, s.anchor) for s in sections] == [("Title", "title"), ("Do a thing!", "do-a-thing")]
    assert "## not a heading" in sections[1].text
    assert slug("The %loop magic") == "the-loop-magic"


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("how do I create a dataset from my logs?", "datasets.md"),
        ("how do I set my Anthropic API key?", "models.md"),
        ("how do I load an OTLP export?", "loading-logs.md"),
        ("how can I run a scorer and see agreement with existing scores?", "scorers.md"),
        ("how to use the %loop magic with multi-line questions", "magic.md"),
        ("how do I filter on metadata fields in SQL?", "sql-filters.md"),
        ("how do I open a trace's span tree?", "explorer.md"),
    ],
)
def test_questions_find_their_page(question, page):
    result = search_docs(frame(chat_trace("t", "q", "a")), question)
    table = result.first(Table).frame
    assert table["link"][0].startswith(f"docs/{page}#")
    assert result.first(Code) is not None and "(docs/" in result.text


def test_bm25_matches_an_independent_computation():
    index = docs_index()
    query = "versions overwritten"
    scores = index.bm25(query)
    tokens = ["version", "overwritten"]  # after the stemmer: "versions" -> "version"
    n = len(index.sections)
    expected = []
    for doc, length in zip(index.docs, index.lengths, strict=True):
        total = 0.0
        for t in tokens:
            df = sum(1 for d in index.docs if t in d)
            if not df or not doc.get(t):
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = doc[t]
            total += idf * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * length / index.avg))
        expected.append(total)
    assert scores.tolist() == pytest.approx(expected)
    assert Counter(s.page for s, _ in index.search(query, 1, semantic=False)) == Counter({"datasets.md": 1})
