"""Intents: what users are trying to do, by clustering what they asked.

The user's text of each trace (the last user message of the root input) is embedded offline and
clustered with spherical k-means (cosine, k-means++ seeding, numpy only). A cluster is named by its
most distinctive terms (frequent in the cluster, rarer elsewhere) or, when a model is available,
in words by the model. When the logs carry an intent (``metadata.intent``), the clusters are
compared with it: purity, inverse purity and normalised mutual information.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import polars as pl

from ..artifacts import Chart, Code, Table, ToolResult
from ..embeddings import embed, user_text
from ..frame import loads
from ..snippet import keyword_args
from ..tools import ToolContext, tool
from ..tools.working_reads import working_traces
from .similar import terms

MAX_K = 12
_SAMPLE = 3000


def kmeans(
    vectors: np.ndarray, k: int, *, seed: int = 0, n_init: int = 3, max_iter: int = 50
) -> tuple[np.ndarray, np.ndarray, float]:
    """Spherical k-means on L2-normalised rows: (labels, centroids, inertia = sum of 1 - cosine)."""
    n = vectors.shape[0]
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(n_init):
        # k-means++: each next seed drawn proportionally to its distance from the chosen ones.
        centroids = [vectors[rng.integers(n)]]
        closest = 1.0 - vectors @ centroids[0]
        for _ in range(1, k):
            weights = np.clip(closest, 0, None)
            total = weights.sum()
            pick = rng.choice(n, p=weights / total) if total > 0 else rng.integers(n)
            centroids.append(vectors[pick])
            closest = np.minimum(closest, 1.0 - vectors @ vectors[pick])
        centers = np.stack(centroids).astype(np.float32)
        labels = np.full(n, -1)
        for _ in range(max_iter):
            new = np.argmax(vectors @ centers.T, axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            # Sum of each cluster's members in one matrix product; empty clusters keep their centre.
            onehot = np.zeros((n, k), dtype=np.float32)
            onehot[np.arange(n), labels] = 1.0
            sums = onehot.T @ vectors
            norms = np.linalg.norm(sums, axis=1)
            filled = norms > 0
            centers[filled] = sums[filled] / norms[filled, None]
        inertia = float(np.sum(1.0 - np.sum(vectors * centers[labels], axis=1)))
        if best is None or inertia < best[2] - 1e-9:
            best = (labels.copy(), centers.copy(), inertia)
    assert best is not None
    return best


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance (O(n^2) memory: pass a sample)."""
    clusters, index = np.unique(labels, return_inverse=True)
    if len(clusters) < 2:
        return -1.0
    distance = 1.0 - vectors @ vectors.T
    onehot = np.zeros((len(labels), len(clusters)), dtype=np.float32)
    onehot[np.arange(len(labels)), index] = 1.0
    counts = onehot.sum(axis=0)
    sums = distance @ onehot  # per point, total distance to each cluster
    own = index
    n_own = counts[own] - 1
    a = np.where(n_own > 0, sums[np.arange(len(labels)), own] / np.maximum(n_own, 1), 0.0)
    means = sums / counts
    means[np.arange(len(labels)), own] = np.inf
    b = means.min(axis=1)
    denominator = np.maximum(a, b)
    scores = np.where((n_own > 0) & (denominator > 0), (b - a) / np.where(denominator > 0, denominator, 1), 0.0)
    return float(scores.mean())


def choose_k(vectors: np.ndarray, *, seed: int = 0) -> int:
    """The k in 2..MAX_K with the best silhouette on a sample."""
    n = len(vectors)
    distinct = len(np.unique(vectors.round(5), axis=0))
    if n < 4 or distinct < 3:
        return max(1, min(distinct, n))
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(n, size=min(n, 1000), replace=False)]
    best_k, best_score = 2, -2.0
    for k in range(2, min(MAX_K, distinct - 1, len(sample) - 1) + 1):
        labels, _, _ = kmeans(sample, k, seed=seed, n_init=1, max_iter=30)
        score = silhouette(sample, labels)
        if score > best_score + 1e-6:
            best_k, best_score = k, score
    return best_k


_IDENTIFIER = re.compile(r"[\d_]")


def distinctive_terms(texts: list[str], labels: np.ndarray, top: int = 3) -> dict[int, list[str]]:
    """Per cluster, terms with the highest ``p_c * log(p_c / p_all)`` (document frequencies).

    Identifiers (words with digits or underscores: user ids, order numbers) and the name parts
    inside them (``aarav_garcia_1177`` -> aarav, garcia) never name an intent: a cluster is what
    people ask for, not who asked.
    """
    docs = [terms(t) for t in texts]
    identifiers = {w for d in docs for w in d if _IDENTIFIER.search(w)}
    name_parts = {part for w in identifiers for part in re.split(r"[\d_]+", w) if len(part) >= 3}
    docs = [{w for w in d if w not in identifiers and w not in name_parts} for d in docs]
    overall = Counter(w for d in docs for w in d)
    n = len(docs)
    out: dict[int, list[str]] = {}
    for cluster in sorted(set(labels.tolist())):
        members = [d for d, label in zip(docs, labels.tolist(), strict=True) if label == cluster]
        inside = Counter(w for d in members for w in d)
        scored = []
        for word, count in inside.items():
            p_c = count / len(members)
            p_all = overall[word] / n
            scored.append((p_c * math.log(p_c / p_all) if p_all < 1 else 0.0, count, word))
        scored.sort(key=lambda s: (-s[0], -s[1], s[2]))
        out[cluster] = [w for _, _, w in scored[:top]]
    return out


def _llm_labels(ctx: ToolContext, clusters: dict[int, tuple[list[str], list[str]]]) -> dict[int, str]:
    if ctx.llm is None:
        return {}
    blocks = []
    for cluster, (words, examples) in clusters.items():
        sample = "\n".join(f"  - {e[:200]}" for e in examples[:5])
        blocks.append(f"Group {cluster + 1} (terms: {', '.join(words)}):\n{sample}")
    prompt = (
        "These groups of user requests to an AI application were found by clustering. Name what the users "
        "in each group are trying to do, in 2 to 5 words.\nReply with one line per group, exactly "
        "'<group number>: <name>'.\n\n" + "\n\n".join(blocks)
    )
    try:
        reply = ctx.llm(prompt) or ""
    except Exception:  # a failing model must not lose the clustering
        return {}
    labels = {}
    for match in re.finditer(r"^\s*(?:group\s*)?(\d+)\s*[:.)-]\s*(.+?)\s*$", reply, re.IGNORECASE | re.MULTILINE):
        cluster = int(match.group(1)) - 1
        if cluster in clusters:
            labels[cluster] = match.group(2).strip().strip("*\"'")[:60]
    return labels


def compare(clusters: list[int], intents: list[str | None]) -> dict[str, float]:
    """Purity, inverse purity and NMI of clusters against logged intents (rows with an intent)."""
    pairs = [(c, i) for c, i in zip(clusters, intents, strict=True) if i is not None]
    n = len(pairs)
    if n == 0:
        return {}
    joint = Counter(pairs)
    by_cluster: dict[int, Counter] = {}
    by_intent: dict[str, Counter] = {}
    for (c, i), count in joint.items():
        by_cluster.setdefault(c, Counter())[i] += count
        by_intent.setdefault(i, Counter())[c] += count
    purity = sum(max(v.values()) for v in by_cluster.values()) / n
    inverse = sum(max(v.values()) for v in by_intent.values()) / n
    pc = {c: sum(v.values()) / n for c, v in by_cluster.items()}
    pi = {i: sum(v.values()) / n for i, v in by_intent.items()}
    mutual = sum((cnt / n) * math.log((cnt / n) / (pc[c] * pi[i])) for (c, i), cnt in joint.items())
    hc = -sum(p * math.log(p) for p in pc.values())
    hi = -sum(p * math.log(p) for p in pi.values())
    nmi = mutual / math.sqrt(hc * hi) if hc > 0 and hi > 0 else (1.0 if hc == hi == 0 else 0.0)
    return {"rows": n, "purity": purity, "inverse_purity": inverse, "nmi": nmi}


def _intent_of(metadata: str | None) -> str | None:
    if metadata is None or '"intent"' not in metadata:
        return None
    try:
        value = loads(metadata).get("intent")
    except (ValueError, AttributeError):
        return None
    return None if value is None else str(value)


@tool(
    phrases=(
        r"\bintents?\b",
        r"\bwhat (are|do) (users|people|customers) (trying to do|asking|want)\b",
        r"\b(cluster|group|categori[sz]e|classify)\b.*\b(inputs|questions|requests|queries|prompts)\b",
        r"\btopics?\b.*\b(users|questions|requests)\b",
        r"\b(classify|cluster|group|categori[sz]e)\b.*\bwhat (users|people|customers)\b",
    )
)
def classify_intents(ctx: ToolContext, n_clusters: int | None = None, where: str | None = None) -> ToolResult:
    """Classify what users are trying to do: cluster the user inputs of the traces into named groups
    and show the distribution; compare with a logged metadata.intent field when there is one.

    Args:
        n_clusters: how many groups (chosen automatically by silhouette when not given).
        where: a Braintrust-style filter on traces to classify only some of them.
    """
    columns = ("root_span_id", "input", "metadata")
    # From a store without a filter: those columns of the sampled traces only (not their spans whole).
    roots = ctx.engine.filter(where, shape="traces").select(columns) if where else working_traces(ctx, columns)
    texts = [user_text(v, 1000, which="first") for v in roots.get_column("input").to_list()]
    keep = [i for i, t in enumerate(texts) if t.strip()]
    if len(keep) < 2:
        return ToolResult("Fewer than two traces have a user input to classify.", is_error=True)
    ids = [roots.get_column("root_span_id")[i] for i in keep]
    texts = [texts[i] for i in keep]
    intents = [_intent_of(m) for m in (roots.get_column("metadata")[i] for i in keep)]
    vectors = embed(texts)
    k = int(n_clusters) if n_clusters else choose_k(vectors[:_SAMPLE] if len(vectors) > _SAMPLE else vectors)
    labels, _, _ = kmeans(vectors, max(1, min(k, len(texts))))
    # Number clusters by size (0 = largest) so names and charts are stable.
    sizes = Counter(labels.tolist())
    order = {c: rank for rank, (c, _) in enumerate(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))}
    labels = np.array([order[c] for c in labels.tolist()])
    words = distinctive_terms(texts, labels)
    examples = {c: [t for t, label in zip(texts, labels.tolist(), strict=True) if label == c][:5] for c in words}
    named = _llm_labels(ctx, {c: (words[c], examples[c]) for c in words})
    names = {c: named.get(c) or (" / ".join(words[c]) if words[c] else f"group {c + 1}") for c in words}
    assignments = pl.DataFrame(
        {
            "root_span_id": ids,
            "cluster": labels.astype(np.int64),
            "intent_name": [names[c] for c in labels.tolist()],
            "logged_intent": intents,
            "text": [t[:200] for t in texts],
        },
        schema={
            "root_span_id": pl.String,
            "cluster": pl.Int64,
            "intent_name": pl.String,
            "logged_intent": pl.String,
            "text": pl.String,
        },
    )
    n = len(texts)
    has_logged = any(i is not None for i in intents)
    rows = []
    for c in sorted(words):
        row = {
            "cluster": c,
            "name": names[c],
            "traces": sizes_by(labels, c),
            "share": round(sizes_by(labels, c) / n, 4),
            "terms": ", ".join(words[c]),
            "example": examples[c][0][:160] if examples[c] else "",
        }
        if has_logged:
            logged = Counter(i for i, label in zip(intents, labels.tolist(), strict=True) if label == c and i)
            top = sorted(logged.items(), key=lambda kv: (-kv[1], kv[0]))
            row["logged_majority"] = top[0][0] if top else None
            row["majority_share"] = round(top[0][1] / sum(logged.values()), 4) if top else None
        rows.append(row)
    distribution = pl.DataFrame(rows)
    chart = _chart(distribution)
    lines = [f"{n:,} user inputs in {len(words)} intent groups" + (" (named by the model)" if named else "") + ":"]
    for row in rows[:MAX_K]:
        extra = (
            f" — logged: {row['logged_majority']} {row['majority_share']:.0%}"
            if has_logged and row.get("logged_majority")
            else ""
        )
        lines.append(f"- {row['name']}: {row['traces']:,} ({row['share']:.1%}){extra}")
    artifacts: list = [Table(distribution, title="Intent groups"), Chart(chart, title="Intents")]
    if has_logged:
        scores = compare(labels.tolist(), intents)
        lines.append(
            f"Against metadata.intent ({scores['rows']:,} traces): purity {scores['purity']:.2f}, "
            f"inverse purity {scores['inverse_purity']:.2f}, NMI {scores['nmi']:.2f}."
        )
        crosstab = (
            assignments.filter(pl.col("logged_intent").is_not_null())
            .group_by("intent_name", "logged_intent")
            .agg(traces=pl.len())
            .sort(["intent_name", "traces", "logged_intent"], descending=[False, True, False])
        )
        artifacts.append(Table(pl.DataFrame([scores]), title="Agreement with metadata.intent"))
        artifacts.append(Table(crosstab, title="Clusters × logged intents"))
    artifacts.append(Table(assignments, title="Intent of each trace"))
    args = keyword_args({"n_clusters": k, "where": where})
    code = (
        "from loop_jupyter.analysis.intents import classify_intents\n\n"
        f"result = classify_intents(logs, {args})\n"
        "groups, *_, per_trace = result.frames"
    )
    artifacts.append(Code(code, title="Reproduce"))
    return ToolResult("\n".join(lines), artifacts)


def sizes_by(labels: np.ndarray, cluster: int) -> int:
    return int(np.sum(labels == cluster))


def _chart(distribution: pl.DataFrame):
    import plotly.graph_objects as go

    frame = distribution.sort("traces")
    figure = go.Figure(
        go.Bar(
            x=frame.get_column("traces").to_list(),
            y=frame.get_column("name").to_list(),
            orientation="h",
            text=[f"{s:.0%}" for s in frame.get_column("share").to_list()],
            textposition="auto",
            marker_color="#636efa",
        )
    )
    figure.update_layout(
        title="What users are trying to do",
        xaxis_title="traces",
        yaxis_title=None,
        height=max(260, 34 * frame.height + 120),
        template="plotly_white",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return figure


__all__ = ["choose_k", "classify_intents", "compare", "distinctive_terms", "kmeans", "silhouette"]
