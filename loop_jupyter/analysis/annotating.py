"""Annotating spans and traces: a label and a note, from Python, the explorer and the agent.

The store is :mod:`loop_jupyter.annotations` (versioned Parquet under ``<workdir>/loop_annotations``,
never overwritten; the ``annotations`` SQL view). From Python and the explorer a call writes at
once (the person acts); the agent's ``annotate`` tool is a side effect: it proposes the change
(a :class:`~loop_jupyter.artifacts.Pending` showing every span and the label) and writes only on
the person's confirmation.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import polars as pl

from .. import annotations as store
from ..artifacts import Code, Pending, Table, ToolResult
from ..snippet import literal
from ..tools import ToolContext, tool

#: At most this many spans in one annotate call of the agent (the person reads the list).
MAX_TARGETS = 1000


def resolve_targets(logs: pl.DataFrame, ids: list[str]) -> pl.DataFrame:
    """span_id, root_span_id for each id: a span id, or a trace's root_span_id (its root span).
    Unknown ids raise ValueError naming them."""
    wanted = list(dict.fromkeys(str(i) for i in ids if i))
    if not wanted:
        raise ValueError("name a span or trace to annotate")
    spans = logs.filter(pl.col("span_id").is_in(wanted)).select("span_id", "root_span_id").unique("span_id")
    rest = [i for i in wanted if i not in set(spans.get_column("span_id"))]
    roots = (
        logs.filter(pl.col("is_root") & pl.col("root_span_id").is_in(rest))
        .unique("root_span_id", keep="first", maintain_order=True)
        .select("span_id", "root_span_id")
    )
    missing = [i for i in rest if i not in set(roots.get_column("root_span_id"))]
    if missing:
        shown = ", ".join(repr(m[:80]) for m in missing[:5])
        raise ValueError(f"no span or trace with id {shown} in these logs")
    order = {i: n for n, i in enumerate(wanted)}
    found = pl.concat([spans.with_columns(key=pl.col("span_id")), roots.with_columns(key=pl.col("root_span_id"))])
    return (
        found.with_columns(order=pl.col("key").replace_strict(order, return_dtype=pl.Int64))
        .sort("order")
        .unique("span_id", keep="first", maintain_order=True)
        .select("span_id", "root_span_id")
    )


def _ids(span_ids: str | list[str]) -> list[str]:
    return [span_ids] if isinstance(span_ids, str) else list(span_ids)


def annotate(
    logs: pl.DataFrame,
    span_ids: str | list[str],
    label: str,
    note: str | None = None,
    *,
    workdir: str | Path | None = None,
    author: str | None = None,
    source: str = "python",
) -> pl.DataFrame:
    """Label (and note) spans or traces (a root_span_id stands for its root span) of ``logs``.

    Saved at once as a new version under ``<workdir>/loop_annotations`` (default: the current
    folder); returns the rows written. Annotating a span again with the same label replaces its note.
    """
    targets = resolve_targets(logs, _ids(span_ids))
    rows = [{"span_id": s, "root_span_id": r, "label": label, "note": note} for s, r in targets.iter_rows()]
    frame = store.change(rows, author=author, source=source)
    version, _ = store.write_change(store.default_folder(workdir), frame)
    return frame.with_columns(version=pl.lit(version, pl.Int64))


def remove_annotation(
    logs: pl.DataFrame | None,
    span_ids: str | list[str],
    label: str | None = None,
    *,
    workdir: str | Path | None = None,
    author: str | None = None,
    source: str = "python",
) -> pl.DataFrame:
    """Remove ``label`` (every label when None) from spans or traces. Saved as a new version: the
    earlier versions stay, so the history keeps what was removed, by whom and when."""
    ids = _ids(span_ids)
    targets = list(resolve_targets(logs, ids).iter_rows()) if logs is not None else [(i, None) for i in ids]
    rows = [{"span_id": s, "root_span_id": r, "label": label, "action": "remove"} for s, r in targets]
    frame = store.change(rows, author=author, source=source)
    version, _ = store.write_change(store.default_folder(workdir), frame)
    return frame.with_columns(version=pl.lit(version, pl.Int64))


def list_annotations(workdir: str | Path | None = None, *, history: bool = False) -> pl.DataFrame:
    """The current annotations (one row per span and label), or every change when ``history``."""
    folder = store.default_folder(workdir)
    return store.history(folder) if history else store.current(folder)


def _targets_for(ctx: ToolContext, span_id: str | None, where: str | None) -> pl.DataFrame:
    logs = ctx.unscoped.logs if ctx.unscoped is not None else ctx.logs
    if span_id:
        return resolve_targets(logs, [span_id])
    if where:
        roots = ctx.engine.filter(where, shape="traces").get_column("root_span_id").to_list()
        if not roots:
            raise ValueError(f"no trace matches {where}")
        return resolve_targets(logs, roots[:MAX_TARGETS])
    if ctx.selection:
        return resolve_targets(logs, ctx.selection[:MAX_TARGETS])
    roots = ctx.logs.get_column("root_span_id").unique().to_list() if ctx.unscoped is not None else []
    if len(roots) == 1:  # the chat is scoped to one trace: "this trace"
        return resolve_targets(logs, roots)
    raise ValueError("say which span or trace to annotate: a span_id, a where filter, or select traces in the explorer")


@tool(
    name="annotate",
    side_effects=True,
    phrases=(
        r"\b(annotate|label|tag|mark)\b.*\b(this|these|that|the selected|selected)\b.*\b(traces?|spans?)\b.*\bas\b",
        r"\b(annotate|label) (this|these|that|the selected|selected) (traces?|spans?)\b",
        r"\badd (an? )?(annotation|label|note) to\b",
    ),
)
def annotate_spans(
    ctx: ToolContext,
    label: str,
    note: str | None = None,
    span_id: str | None = None,
    where: str | None = None,
) -> ToolResult:
    """Annotate a span or traces with a label and an optional note, after the person confirms.

    Saved beside the logs as a new version (never overwriting), visible in SQL as the
    ``annotations`` view (``SELECT ... FROM logs JOIN annotations USING (span_id)``) and used by
    failure_modes to name modes. Targets: ``span_id`` (a span, or a trace's root_span_id), else
    the traces matching ``where``, else the traces selected in the explorer, else the trace the
    chat is scoped to.

    Args:
        label: the label, e.g. "wrong tool arguments".
        note: a free-text note.
        span_id: the span (or trace root_span_id) to annotate.
        where: a filter on the traces view choosing the traces to annotate (their root spans).
    """
    try:
        targets = _targets_for(ctx, span_id, where)
        clean = store.clean_label(label)
        clean_note = store.clean_note(note)
    except ValueError as exc:
        return ToolResult(f"Cannot annotate: {exc}", is_error=True)
    folder = ctx.annotations_dir
    preview = (
        f"Label: {clean}\n" + (f"Note: {clean_note}\n" if clean_note else "")
        + f"Spans: {targets.height:,}\nSaved as a new version in: {folder} (earlier versions are kept)\n"
        + "\n".join(f"  span {s} (trace {r})" for s, r in targets.head(20).iter_rows())
        + ("\n  ..." if targets.height > 20 else "")
    )  # fmt: skip
    ids = targets.get_column("span_id").to_list()
    snippet = (
        "from loop_jupyter.analysis.annotating import annotate, list_annotations\n\n"
        f"annotate(logs, {literal(ids if len(ids) > 1 else ids[0])}, label={literal(clean)}"
        + (f", note={literal(clean_note)}" if clean_note else "")
        + f", workdir={literal(str(ctx.workdir))})\n"
        f"list_annotations({literal(str(ctx.workdir))})"
    )
    rows = [{"span_id": s, "root_span_id": r, "label": clean, "note": clean_note} for s, r in targets.iter_rows()]

    def action() -> list:
        frame = store.change(rows, author=f"assistant, confirmed by {store.author_name()}", source="agent")
        version, path = store.write_change(folder, frame)
        return [Table(frame.drop("action"), title=f"Annotations saved ({path.name}, version {version})")]

    pending = Pending(
        action_id=uuid.uuid4().hex,
        description=f"Annotate {targets.height:,} span(s) as {clean!r}",
        preview=preview,
        action=action,
        title="Annotate",
    )
    text = (
        f"Ready to annotate {targets.height:,} span(s) with the label {clean!r}. "
        "Waiting for the user to confirm; nothing is saved yet."
    )
    return ToolResult(text, [pending, Code(snippet, title="The same from Python")])


@tool(
    name="list_annotations",
    phrases=(r"\b(show|list|which|what|my)\b.*\bannotations\b", r"\bannotated (traces|spans)\b"),
)
def show_annotations(ctx: ToolContext, label: str | None = None) -> ToolResult:
    """The current annotations (labels and notes on spans and traces), newest first.

    Args:
        label: only this label.
    """
    table = store.current(ctx.annotations_dir)
    if label:
        table = table.filter(pl.col("label").str.to_lowercase() == label.strip().lower())
    code = f"from loop_jupyter.analysis.annotating import list_annotations\n\nlist_annotations({literal(str(ctx.workdir))})"
    if table.height == 0:
        return ToolResult("No annotations saved yet" + (f" with the label {label!r}." if label else "."), [Code(code)])
    table = table.sort("created_at", descending=True)
    counts = table.group_by("label").len().sort(["len", "label"], descending=[True, False])
    text = f"{table.height:,} annotations, {counts.height} labels: " + "; ".join(
        f"{lab} ({n})" for lab, n in counts.head(10).iter_rows()
    )
    return ToolResult(text, [Table(table, title="Annotations"), Code(code)])


__all__ = ["annotate", "annotate_spans", "list_annotations", "remove_annotation", "resolve_targets", "show_annotations"]
