"""Near-duplicate failure modes merged with the offline embeddings (wordllama, no download).

Only modes that could be the same failure are compared: error modes of the same span name (their
heads: ``Computer_terminal: exit code <n>`` and ``Computer_terminal: exit code``), and labels people
gave (``wrong final answer`` and ``incorrect final answer``). Model-error categories, claims and
attribution modes are fixed names and never merged. Two names merge when the cosine similarity of
their lower-cased embeddings is at least :data:`THRESHOLD`; a cluster takes the name of its mode
with the most traces, and its definition lists what it merged. Without wordllama nothing merges.
"""

from __future__ import annotations

import polars as pl

#: Cosine similarity from which two mode names are the same mode. Measured on wordllama l2_supercat:
#: plurals and reorderings score >= 0.95, "wrong/incorrect final answer" 0.92, while
#: "wrong/right final answer" 0.79 and "SQL syntax/permission error" 0.68 stay apart.
THRESHOLD = 0.9


def _group(mode: str, signal: str) -> tuple[str, str] | None:
    """(the group a mode is compared within, the text compared), or None when it never merges."""
    if signal == "annotation":
        return "annotation", mode
    if signal == "error" and not mode.startswith("model error: ") and ": " in mode:
        name, head = mode.split(": ", 1)
        return f"error:{name}", head
    return None


def _clusters(texts: list[str]) -> list[int]:
    """A cluster number per text (single linkage at THRESHOLD)."""
    from ..embeddings import embed, normalize

    vectors = normalize(embed([t.lower() for t in texts]))
    similar = vectors @ vectors.T
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            if similar[i, j] >= THRESHOLD:
                parent[find(j)] = find(i)
    return [find(i) for i in range(len(texts))]


def merge_near_duplicates(pairs: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` (root_span_id, mode, signal, definition, when) with near-duplicate modes merged."""
    sizes = pairs.group_by("mode", "signal").agg(n=pl.col("root_span_id").n_unique())
    groups: dict[str, list[tuple[str, str, int]]] = {}
    for mode, signal, n in sizes.iter_rows():
        key = _group(mode, signal)
        if key is not None:
            groups.setdefault(key[0], []).append((mode, key[1], n))
    renamed: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        try:
            labels = _clusters([text for _, text, _ in members])
        except ImportError:  # no wordllama: keep every mode
            return pairs
        clusters: dict[int, list[tuple[str, str, int]]] = {}
        for member, label in zip(members, labels, strict=True):
            clusters.setdefault(label, []).append(member)
        for cluster in clusters.values():
            if len(cluster) > 1:
                keep = min(cluster, key=lambda m: (-m[2], m[0]))[0]
                renamed.update({mode: keep for mode, _, _ in cluster if mode != keep})
    if not renamed:
        return pairs
    merged: dict[str, list[str]] = {}
    for old, new in renamed.items():
        merged.setdefault(new, []).append(old)
    definitions = dict(pairs.unique("mode", keep="first").select("mode", "definition").iter_rows())
    notes = {new: f"{definitions[new]}; merges the near-duplicate modes {'; '.join(sorted(olds))}"
             for new, olds in merged.items()}  # fmt: skip
    mode = pl.col("mode").replace(renamed)
    return (
        pairs.with_columns(mode=mode)
        .with_columns(definition=pl.col("mode").replace_strict(notes, default=pl.col("definition")))
        .unique(["root_span_id", "mode"], keep="first", maintain_order=True)
    )


__all__ = ["THRESHOLD", "merge_near_duplicates"]
