"""Annotations: a label and a note on any span (or trace: its root span), kept beside the logs.

Stored as versioned Parquet under ``<workdir>/loop_annotations/v<N>.parquet``: every change (adding
labels, removing them) is a new version holding just that change, with its author and time; a
version is never overwritten (the name is claimed with a hard link, as datasets are). The current
annotations are the fold of all versions in order: per (span, label) the last change wins, a
removal drops the label (or every label of the span when it names none).

The SQL engine shows the fold as the ``annotations`` view, one row per (span, label):
``span_id, annotation_label, annotation_note, annotation_author, annotated_at, annotation_version``
(no column besides ``span_id`` shares a name with ``logs``/``traces``, so
``SELECT * FROM logs JOIN annotations USING (span_id)`` works). Labels and notes are data: they are
cleaned of control characters and capped, never put into SQL text or HTML unescaped.
"""

from __future__ import annotations

import getpass
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from .safefiles import publish, refuse_symlink, write_temp

DIRNAME = "loop_annotations"
MAX_LABEL = 120
MAX_NOTE = 4000

#: Columns of one version file (a change).
FILE_SCHEMA: dict[str, pl.DataType] = {
    "span_id": pl.String(),
    "root_span_id": pl.String(),
    "label": pl.String(),
    "note": pl.String(),
    "action": pl.String(),  # "set" or "remove"
    "author": pl.String(),
    "source": pl.String(),  # "python", "explorer" or "agent"
    "created_at": pl.Datetime("us", "UTC"),
}

#: Columns of the folded annotations (what :func:`current` returns).
CURRENT_SCHEMA: dict[str, pl.DataType] = {
    "span_id": pl.String(),
    "root_span_id": pl.String(),
    "label": pl.String(),
    "note": pl.String(),
    "author": pl.String(),
    "source": pl.String(),
    "created_at": pl.Datetime("us", "UTC"),
    "version": pl.Int64(),
}

#: Columns of the SQL view ``annotations`` (documented in docs/failures.md).
VIEW_SCHEMA: dict[str, pl.DataType] = {
    "span_id": pl.String(),
    "annotation_label": pl.String(),
    "annotation_note": pl.String(),
    "annotation_author": pl.String(),
    "annotated_at": pl.Datetime("us", "UTC"),
    "annotation_version": pl.Int64(),
}

_VERSION = re.compile(r"^v(\d+)\.parquet$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def default_folder(workdir: str | Path | None = None) -> Path:
    return (Path(workdir) if workdir is not None else Path.cwd()) / DIRNAME


def clean_label(label: Any) -> str:
    """A label as stored: text on one line, no control characters, at most :data:`MAX_LABEL`."""
    if not isinstance(label, str):
        raise ValueError("an annotation label is text")
    text = " ".join(_CONTROL.sub(" ", label).split())[:MAX_LABEL].strip()
    if not text:
        raise ValueError("an annotation needs a non-empty label")
    return text


def clean_note(note: Any) -> str | None:
    """A note as stored: newlines and tabs kept, other control characters dropped, at most :data:`MAX_NOTE`."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise ValueError("an annotation note is text")
    text = _CONTROL.sub("", note.replace("\r\n", "\n")).strip()[:MAX_NOTE]
    return text or None


def author_name() -> str:
    try:
        return getpass.getuser() or "user"
    except Exception:  # no login name (containers): still an author
        return "user"


def _files(folder: str | Path) -> list[tuple[int, Path]]:
    """(version, path) of every version file in ``folder``, ascending."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _VERSION.match(p.name)))


def versions(folder: str | Path) -> list[int]:
    return [v for v, _ in _files(folder)]


def _write(folder: Path, frame: pl.DataFrame) -> tuple[int, Path]:
    """``frame`` as the next version in ``folder``; never over an existing file (a racing writer
    that took the number makes this one take the next)."""
    refuse_symlink(folder, "annotations")
    folder.mkdir(parents=True, exist_ok=True)
    refuse_symlink(folder, "annotations")
    temp = write_temp(folder, lambda path: frame.write_parquet(path))
    try:
        for _ in range(1000):
            found = versions(folder)
            version = (found[-1] if found else 0) + 1
            final = folder / f"v{version:04d}.parquet"
            try:
                publish(temp, final)
                return version, final
            except FileExistsError:
                continue
        raise OSError(f"could not claim a new annotations version in {folder}")  # pragma: no cover
    finally:
        temp.unlink(missing_ok=True)


def change(rows: list[dict[str, Any]], *, author: str | None = None, source: str = "python") -> pl.DataFrame:
    """A change (version file content) from ``rows`` of span_id, root_span_id, label, note, action."""
    now = datetime.now(UTC)
    who = (author or author_name())[:MAX_LABEL]
    out = []
    for row in rows:
        action = row.get("action", "set")
        if action not in ("set", "remove"):
            raise ValueError(f"unknown annotation action {action!r}")
        span = row.get("span_id")
        if not isinstance(span, str) or not span:
            raise ValueError("an annotation needs a span_id")
        label = row.get("label")
        label = clean_label(label) if (action == "set" or label is not None) else None
        note = clean_note(row.get("note")) if action == "set" else None
        out.append((span, row.get("root_span_id"), label, note, action, who, source, now))
    return pl.DataFrame(out, schema=FILE_SCHEMA, orient="row")


def write_change(folder: str | Path, frame: pl.DataFrame) -> tuple[int, Path]:
    """Save a change as a new version; returns (version, path)."""
    if frame.height == 0:
        raise ValueError("nothing to annotate")
    return _write(Path(folder), frame.select([pl.col(c).cast(t) for c, t in FILE_SCHEMA.items()]))


def history(folder: str | Path) -> pl.DataFrame:
    """Every change in every version, in order, with its ``version``."""
    parts = [
        pl.read_parquet(path).select(list(FILE_SCHEMA)).cast(FILE_SCHEMA).with_columns(version=pl.lit(v, pl.Int64))
        for v, path in _files(folder)
    ]
    if not parts:
        return pl.DataFrame(schema={**FILE_SCHEMA, "version": pl.Int64()})
    return pl.concat(parts)


def fold(changes: pl.DataFrame) -> pl.DataFrame:
    """The current annotations: changes applied in order (see the module docstring)."""
    state: dict[tuple[str, str], tuple] = {}
    for span, root, label, note, action, author, source, created, version in changes.select(
        *FILE_SCHEMA, "version"
    ).iter_rows():
        if action == "remove":
            if label is None:
                for key in [k for k in state if k[0] == span]:
                    del state[key]
            else:
                state.pop((span, label.casefold()), None)
            continue
        state.pop((span, label.casefold()), None)  # re-inserted last: the order is of the latest change
        state[(span, label.casefold())] = (span, root, label, note, author, source, created, version)
    return pl.DataFrame(list(state.values()), schema=CURRENT_SCHEMA, orient="row")


def current(folder: str | Path) -> pl.DataFrame:
    """The current annotations under ``folder`` (empty when there are none)."""
    return fold(history(folder))


def view(annotations: pl.DataFrame) -> pl.DataFrame:
    """The ``annotations`` SQL view's rows from :func:`current`."""
    return annotations.select(
        "span_id",
        annotation_label="label",
        annotation_note="note",
        annotation_author="author",
        annotated_at="created_at",
        annotation_version="version",
    ).cast(VIEW_SCHEMA)


class ViewSource:
    """What the engine registers as ``annotations``: the folded view of a folder, re-read only
    when the folder's versions change (``folder`` None: ``./loop_annotations`` of the moment)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._seen: tuple[Path, tuple[int, ...]] | None = None

    def refresh(self) -> pl.DataFrame | None:
        """The view's rows when they changed since the last call, else None."""
        folder = self.folder or default_folder()
        key = (folder, tuple(versions(folder)))
        if key == self._seen:
            return None
        self._seen = key
        return view(current(folder)) if key[1] else pl.DataFrame(schema=VIEW_SCHEMA)


__all__ = [
    "CURRENT_SCHEMA",
    "DIRNAME",
    "FILE_SCHEMA",
    "VIEW_SCHEMA",
    "ViewSource",
    "change",
    "clean_label",
    "clean_note",
    "current",
    "default_folder",
    "fold",
    "history",
    "view",
    "write_change",
]
