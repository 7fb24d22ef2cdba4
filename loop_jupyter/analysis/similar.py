"""Find similar traces: semantic similarity of trace content plus shared structure.

Each trace is embedded once (root input and output plus its span names, wordllama offline) into a
persistent index (:mod:`loop_jupyter.embeddings`). A search is one matrix-vector product over the
normalised float32 matrix, then the best candidates are re-ranked with the structure they share
with the query (span names, tools, error kinds) and explained in a ``why`` column.
"""

from __future__ import annotations

import re
import time

import numpy as np
import polars as pl

from ..artifacts import Code, Table, ToolResult
from ..embeddings import TraceIndex, embed, trace_index
from ..snippet import literal
from ..tools import ToolContext, tool
from ..tools.text import SIMILARITY_STOPWORDS
from ._similar_shared import describe, shared_text
from .store_index import load_store_index

#: Weight of the semantic score in the ranking; the rest is structural (Jaccard of span names,
#: tools and error kinds). Text carries most of the signal; structure breaks ties between traces
#: that say similar things but did different work.
SEMANTIC_WEIGHT = 0.75
#: Candidates taken from the semantic ranking before the structural re-rank.
CANDIDATES = 200

_WORD = re.compile(r"[a-zA-Z][a-zA-Z0-9_'-]{2,}")


_REQUEST_WORDS = re.compile(
    r"\b(please|can you|could you|find|show|list|get|give me|me|search|look|for|more|other|similar|like|"
    r"to|the|these|this|those|ones?|ones|traces?|requests?|conversations?|logs?|spans?|selected|rows?|"
    r"about|that|are|is|which|nearest|neighbou?rs?|of|a|an|some|any)\b",
    re.IGNORECASE,
)


def topic(description: str | None) -> str | None:
    """What a description is about, or None when it only asks for "similar traces" (the offline
    planner passes the whole question: "find similar traces" means the selection, not those words)."""
    if not description:
        return None
    rest = _REQUEST_WORDS.sub(" ", description)
    return description.strip() if terms(rest) else None


def stored_index(ctx: ToolContext) -> TraceIndex | None:
    """A store's persisted index of every trace (``loop-jupyter import`` builds it), when it is
    up to date with the store's spans; None for logs in memory or a store without one."""
    if not ctx.pushdown:
        return None
    cached = ctx.cache.get("similar_stored")
    if cached is not None and cached[0] is ctx.source:
        return cached[1]
    index = load_store_index(ctx.source)
    if index is not None:
        ctx.cache["similar_stored"] = (ctx.source, index)
    return index


def index_for(ctx: ToolContext, *, progress: bool = True) -> TraceIndex:
    """The trace index of ``ctx.logs``, cached on the context so repeated searches skip hashing;
    on a store with a persisted index, that index (every trace, the working frame is not read)."""
    stored = stored_index(ctx)
    if stored is not None:
        return stored
    cached = ctx.cache.get("similar")
    if cached is not None and cached[0] is ctx.logs:
        return cached[1]
    index = trace_index(ctx.logs, progress=progress)
    ctx.cache["similar"] = (ctx.logs, index)
    return index


def terms(text: str) -> set[str]:
    """Content words of a text (lower case, stop words removed)."""
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in SIMILARITY_STOPWORDS}


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _short(items: set[str] | frozenset[str], n: int = 4) -> str:
    ordered = sorted(items)
    return ", ".join(ordered[:n]) + (f" +{len(ordered) - n}" if len(ordered) > n else "")


def search(
    index: TraceIndex,
    query: np.ndarray,
    *,
    limit: int = 10,
    exclude: set[int] | None = None,
    names: frozenset[str] = frozenset(),
    tools: frozenset[str] = frozenset(),
    errors: frozenset[str] = frozenset(),
    query_terms: set[str] | None = None,
) -> pl.DataFrame:
    """Top ``limit`` traces for a normalised query vector, re-ranked with shared structure."""
    exclude = exclude or set()
    semantic = index.vectors @ query.astype(np.float32)
    take = min(len(index), CANDIDATES + len(exclude))
    if take == 0:
        return _empty()
    candidates = np.argpartition(-semantic, take - 1)[:take] if take < len(index) else np.arange(len(index))
    has_structure = bool(names or tools or errors)
    rows = []
    for position in candidates.tolist():
        if position in exclude:
            continue
        sem = float(semantic[position])
        shared_names = index.span_names[position] & names
        shared_tools = index.tools[position] & tools
        shared_errors = index.errors[position] & errors
        if has_structure:
            parts = [
                _jaccard(index.span_names[position], names) if names else None,
                _jaccard(index.tools[position], tools) if tools else None,
                _jaccard(index.errors[position], errors) if errors else None,
            ]
            structural = float(np.mean([p for p in parts if p is not None]))
            score = SEMANTIC_WEIGHT * sem + (1 - SEMANTIC_WEIGHT) * structural
        else:
            structural = None
            score = sem
        rows.append((position, score, sem, structural, shared_names, shared_tools, shared_errors))
    rows.sort(key=lambda r: (-r[1], index.root_span_ids[r[0]]))
    out = []
    for position, score, sem, structural, shared_names, shared_tools, shared_errors in rows[:limit]:
        why = [f"semantic {sem:.2f}"]
        if query_terms:
            # Span names are listed under "spans"; keep "terms" for the words of the content.
            common = terms(index.texts[position]) & query_terms - {n.lower() for n in index.span_names[position]}
            if common:
                why.append(f"terms: {_short(common)}")
        if shared_errors:
            why.append(f"errors: {_short(shared_errors, 2)}")
        if shared_tools:
            why.append(f"tools: {_short(shared_tools)}")
        if shared_names:
            why.append(f"spans: {_short(shared_names)}")
        out.append(
            {
                "root_span_id": index.root_span_ids[position],
                "score": round(score, 4),
                "semantic": round(sem, 4),
                "structure": None if structural is None else round(structural, 4),
                "why": "; ".join(why),
                "text": index.texts[position][:160],
            }
        )
    return pl.DataFrame(out, schema=_SCHEMA) if out else _empty()


_SCHEMA = {
    "root_span_id": pl.String,
    "score": pl.Float64,
    "semantic": pl.Float64,
    "structure": pl.Float64,
    "why": pl.String,
    "text": pl.String,
}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=_SCHEMA)


@tool(
    phrases=(
        r"\bsimilar (traces?|requests?|conversations?|logs?|ones?)\b",
        r"\b(traces?|requests?|conversations?) (like|similar to)( (this|that)( one)?| (these|those)( ones)?)?\b",
        r"\bfind (more )?(like this|similar)\b",
        r"\bnearest neighbou?rs?\b",
        r"\bmore like (this|these)\b",
    )
)
def similar_traces(
    ctx: ToolContext,
    trace_ids: list[str] | None = None,
    description: str | None = None,
    limit: int = 10,
) -> ToolResult:
    """Find traces similar to the selected traces or to a description.

    Combines semantic similarity of the trace content (root input and output and span names,
    offline embeddings) with shared structure (span names, tools, error kinds) and says why each
    result is similar. Uses the traces selected in the explorer when neither argument is given.

    Args:
        trace_ids: root span ids of the traces to find neighbours of.
        description: what the traces are about, in words (used when no trace ids are given).
        limit: how many similar traces to return.
    """
    started = time.perf_counter()
    if ctx.unscoped is not None:  # a chat scoped to one trace: its neighbours are among all the traces
        ctx.unscoped.selection, ctx.unscoped.llm = list(ctx.selection), ctx.llm
        ctx = ctx.unscoped
    description = topic(description)
    ids = list(trace_ids or []) or (list(ctx.selection) if not description else [])
    limit = max(1, min(int(limit), 1000))
    if ids and stored_index(ctx) is None:  # from a store's sample: the asked-for traces join it
        ctx.include_traces(ids)
    index = index_for(ctx)
    if len(index) == 0:
        return ToolResult("There are no traces in these logs.", is_error=True)
    if ids:
        positions = [p for p in (index.position(i) for i in ids) if p is not None]
        missing = [i for i in ids if index.position(i) is None]
        if not positions:
            return ToolResult(f"None of the trace ids are in the logs: {', '.join(missing[:5])}", is_error=True)
        query = index.vectors[positions].mean(axis=0)
        norm = float(np.linalg.norm(query))
        query = query / norm if norm else query
        names = frozenset().union(*(index.span_names[p] for p in positions))
        tools = frozenset().union(*(index.tools[p] for p in positions))
        errors = frozenset().union(*(index.errors[p] for p in positions))
        query_terms = set().union(*(terms(index.texts[p]) for p in positions))
        result = search(
            index,
            query,
            limit=limit,
            exclude=set(positions),
            names=names,
            tools=tools,
            errors=errors,
            query_terms=query_terms,
        )
        subject = f"trace {ids[0]}" if len(positions) == 1 else f"{len(positions)} selected traces"
        args = f"trace_ids={literal(ids)}"
    elif description:
        query = embed([description])[0]
        result = search(index, query, limit=limit, query_terms=terms(description))
        subject = f"“{description[:80]}”"
        args = f"description={literal(description)}"
        missing = []
    else:
        return ToolResult(
            "Select traces in the explorer, or give trace ids or a description to find similar traces.",
            is_error=True,
        )
    elapsed = time.perf_counter() - started
    result, shared = describe(ctx, index, result)
    lines = [f"{result.height} traces most similar to {subject} (of {len(index):,}, {elapsed * 1000:.0f} ms):"]
    for row in result.head(10).iter_rows(named=True):
        who = ", ".join(f"{k} {row[k]}" for k in ("intent", "user") if row.get(k))
        lines.append(f"- {row['root_span_id']} score {row['score']:.2f} ({row['why']}{'; ' + who if who else ''})")
    if shared.height:
        lines.append("What they share: " + shared_text(shared, result.height))
    if missing:
        lines.append(f"Not in the logs: {', '.join(missing[:5])}")
    code = (
        "from loop_jupyter.analysis.similar import similar_traces\n"
        "from loop_jupyter.artifacts import Table\n\n"
        f"result = similar_traces(logs, {args}, limit={literal(limit)})\n"
        "result.first(Table).frame"
    )
    artifacts: list = [Table(result, title=f"Traces similar to {subject}")]
    if shared.height:
        artifacts.append(Table(shared, title="What the similar traces share"))
    artifacts.append(Code(code, title="Reproduce"))
    return ToolResult("\n".join(lines), artifacts)
