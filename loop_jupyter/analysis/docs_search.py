"""Answer "how do I ...?" from loop_jupyter's own documentation, shipped in ``loop_jupyter/docs``.

Pages are split into sections at ``##`` headings and ranked by BM25 over their words, blended with
the cosine similarity of offline embeddings (so "make an eval set" finds the datasets page even
without the word "dataset"). Results link to ``docs/<page>.md#<anchor>`` (GitHub-style anchors).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import numpy as np
import polars as pl

from ..artifacts import Code, Table, ToolResult
from ..snippet import literal
from ..tools import ToolContext, tool
from ..tools.text import DOCS_STOPWORDS

#: Weight of BM25 (normalised to the best hit) in the blend; the rest is embedding similarity.
BM25_WEIGHT = 0.6
_K1, _B = 1.5, 0.75
_WORD = re.compile(r"[a-z0-9_%]+")


@dataclass(frozen=True)
class Section:
    page: str  # file name, e.g. "datasets.md"
    page_title: str
    heading: str
    anchor: str
    text: str

    @property
    def link(self) -> str:
        return f"docs/{self.page}#{self.anchor}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _tokens(text: str) -> list[str]:
    out = []
    for word in _WORD.findall(text.lower()):
        if word in DOCS_STOPWORDS:
            continue
        # A light stemmer: plurals and -ing/-ed forms meet their stem.
        for suffix in ("ing", "ed", "es", "s"):
            if len(word) > len(suffix) + 3 and word.endswith(suffix):
                word = word[: -len(suffix)]
                break
        out.append(word)
    return out


def parse_page(name: str, markdown: str) -> list[Section]:
    """Sections of one page: the intro (under the ``#`` title) and each ``##`` section."""
    title = name.removesuffix(".md")
    sections: list[Section] = []
    heading, anchor, lines = "", "", []
    in_code = False

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append(Section(name, title, heading or title, anchor or slug(title), body))

    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("# "):
            title = line[2:].strip()
            heading, anchor = title, slug(title)
            continue
        if not in_code and line.startswith("## "):
            flush()
            heading = line[3:].strip()
            anchor, lines = slug(heading), []
            continue
        lines.append(line)
    flush()
    return [Section(s.page, title, s.heading, s.anchor, s.text) for s in sections]


def doc_pages() -> dict[str, str]:
    """The shipped documentation pages: file name to markdown."""
    folder = resources.files("loop_jupyter") / "docs"
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".md")
    }


class DocsIndex:
    """BM25 plus embeddings over the documentation sections."""

    def __init__(self, sections: list[Section]) -> None:
        self.sections = sections
        self.docs = [Counter(_tokens(f"{s.page_title} {s.heading} {s.heading} {s.text}")) for s in sections]
        self.lengths = np.array([sum(d.values()) for d in self.docs], dtype=float)
        self.avg = float(self.lengths.mean()) if len(self.lengths) else 0.0
        df = Counter(word for d in self.docs for word in d)
        n = len(sections)
        self.idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        self._vectors: np.ndarray | None = None

    def bm25(self, query: str) -> np.ndarray:
        scores = np.zeros(len(self.sections))
        for word in dict.fromkeys(_tokens(query)):  # query order: the float sums do not follow the hash seed
            idf = self.idf.get(word)
            if idf is None:
                continue
            for i, doc in enumerate(self.docs):
                tf = doc.get(word, 0)
                if tf:
                    scores[i] += idf * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * self.lengths[i] / self.avg))
        return scores

    def semantic(self, query: str) -> np.ndarray:
        from ..embeddings import embed

        if self._vectors is None:
            self._vectors = embed([f"{s.page_title}: {s.heading}. {s.text[:1500]}" for s in self.sections])
        return self._vectors @ embed([query])[0]

    def search(self, query: str, limit: int = 3, *, semantic: bool = True) -> list[tuple[Section, float]]:
        lexical = self.bm25(query)
        top = lexical.max() if len(lexical) else 0.0
        score = lexical / top if top > 0 else lexical
        if semantic:
            score = BM25_WEIGHT * score + (1 - BM25_WEIGHT) * np.clip(self.semantic(query), 0, None)
        order = sorted(range(len(self.sections)), key=lambda i: (-score[i], i))
        return [(self.sections[i], float(score[i])) for i in order[:limit] if score[i] > 0]


@functools.lru_cache(maxsize=1)
def docs_index() -> DocsIndex:
    return DocsIndex([s for name, text in doc_pages().items() for s in parse_page(name, text)])


def _excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


#: Question words that say what to do, not what about: not reported as missing from the docs.
_ASKING = frozenset(
    ("configure", "set", "setup", "enable", "change", "make", "get", "want", "need", "find", "see", "show", "work")
)


def _unknown_word(index: DocsIndex, word: str) -> bool:
    tokens = _tokens(word)
    return bool(tokens) and word not in _ASKING and len(word) > 2 and not word.isdigit() and tokens[0] not in index.idf


@tool(
    phrases=(
        r"^\s*how (do|can|should|would) (i|we|you)\b",
        r"\bhow to\b",
        r"\b(docs|documentation|manual|help page)\b",
        r"\bwhere (do|can) i (find|set|configure)\b",
        r"\bwhat does .* (option|setting|flag|magic) do\b",
    )
)
def search_docs(ctx: ToolContext, question: str, limit: int = 3) -> ToolResult:
    """Answer a "how do I ...?" question about loop_jupyter from its documentation: the most relevant
    sections with links.

    Args:
        question: the user's question, e.g. "how do I load OTLP logs?".
        limit: how many sections to return.
    """
    limit = max(1, min(int(limit), 10))
    index = docs_index()
    hits = index.search(question, limit)
    code = f"from loop_jupyter.analysis.docs_search import docs_index\n\ndocs_index().search({literal(question)}, {literal(limit)})"
    # Words of the question the documentation never uses: say so rather than pass off the closest
    # sections as the answer ("online scoring" is not "scoring").
    unknown = [w for w in dict.fromkeys(_WORD.findall(question.lower())) if _unknown_word(index, w)]
    if not hits or (unknown and len(unknown) * 2 >= len(set(_tokens(question)))):
        said = f" (it never mentions {', '.join(repr(w) for w in unknown)})" if unknown else ""
        return ToolResult(f"The documentation has nothing on that{said}.", [Code(code)])
    table = pl.DataFrame(
        {
            "section": [f"{s.page_title} › {s.heading}" for s, _ in hits],
            "link": [s.link for s, _ in hits],
            "score": [round(v, 3) for _, v in hits],
            "text": [s.text for s, _ in hits],
        }
    )
    parts = []
    if unknown:
        parts.append(f"The documentation never mentions {', '.join(repr(w) for w in unknown)}; the closest sections:")
    for i, (section, _) in enumerate(hits):
        body = _excerpt(section.text, 1200 if i == 0 else 400)
        parts.append(f"## {section.page_title} › {section.heading} ({section.link})\n{body}")
    return ToolResult("\n\n".join(parts), [Table(table, title="Documentation"), Code(code)])


__all__ = ["DocsIndex", "Section", "doc_pages", "docs_index", "parse_page", "search_docs", "slug"]
