"""Saved sessions: a conversation written as it goes to ``<workdir>/.loop/sessions/<name>.jsonl``.

One JSON object per line (the format is documented in docs/sessions.md); lines are only ever
appended, each with one ``write`` and an ``fsync``, so a crash loses at most the line being
written. Reading skips and reports a line that is not JSON (a cut-off last line, a hand edit) and
keeps every other. Log text is JSON-escaped data: nothing read back is run, nor used as a path.

Artifacts are stored by reference (:func:`artifact_ref`): the SQL, the tool call that made them
(on their message), a small preview and, for datasets a person kept, the path of the Parquet file
the dataset tool wrote. :func:`artifact_from_ref` rebuilds a displayable artifact from that.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from ..artifacts import Artifact, Chart, Code, Dataset, Pending, Scorer, SqlFilter, Table, TraceView, json_rows
from ..safejson import loads_checked

log = logging.getLogger(__name__)

#: The ``format`` of a session file's first line.
FORMAT = "loop_jupyter.session/1"
#: Rows of a table kept in the session file (the rest is re-run from the tool call).
PREVIEW_ROWS = 20
#: Largest chart figure / trace HTML kept inline (bigger ones are re-run from the tool call).
INLINE_CHARS = 200_000
#: Characters of a cell or a pending action's preview kept.
CELL_CHARS = 2_000

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


class SessionNameError(ValueError):
    """A session name that could name something outside ``.loop/sessions`` (or is not portable)."""


def check_name(name: object) -> str:
    """The name if it is a safe session name: 1-80 of ``A-Z a-z 0-9 _ . -``, starting with a letter
    or digit, no ``..``, not a device name. Anything else (``../x``, ``a/b``, ``""``) is refused."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name or name.endswith("."):
        shown = repr(name)[:60]
        raise SessionNameError(
            f"invalid session name {shown}: use 1-80 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    if name.split(".")[0].lower() in _RESERVED:
        raise SessionNameError(f"invalid session name {name!r}: a reserved device name")
    return name


def sessions_dir(workdir: str | Path) -> Path:
    return Path(workdir) / ".loop" / "sessions"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps_line(record: dict[str, Any]) -> bytes:
    """One record as one line of UTF-8 JSON (readable: non-ASCII kept; a lone surrogate, which
    UTF-8 cannot hold, makes that line ASCII-escaped instead)."""
    try:
        return (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, ensure_ascii=True, default=str) + "\n").encode("ascii")


@dataclass
class ReadResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: The file does not end with a newline (its last write was cut off).
    torn: bool = False


def read_records(path: Path) -> ReadResult:
    """Every record of a session file; a line that is not a JSON object is reported and skipped."""
    out = ReadResult()
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    if tail:
        out.torn = True
        lines.append(tail)
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        cut = out.torn and number == len(lines)
        try:
            value, problems = loads_checked(raw.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            value, problems = None, []
        if not isinstance(value, dict):
            why = "incomplete (the write was cut off)" if cut else "not a JSON object"
            out.warnings.append(f"{path.name} line {number} is {why}: skipped ({len(raw):,} bytes)")
            continue
        out.warnings.extend(f"{path.name} line {number}: {p}" for p in problems[:3])
        out.records.append(value)
    return out


class SessionFile:
    """Appends records to one session's JSONL file (created with its header line on first write)."""

    def __init__(self, workdir: str | Path, name: str) -> None:
        self.name = check_name(name)
        self.folder = sessions_dir(workdir)
        self.path = self.folder / f"{self.name}.jsonl"
        self._checked_tail = False

    def exists(self) -> bool:
        return self.path.is_file()

    def check_link(self) -> None:
        if self.path.is_symlink() or self.folder.is_symlink():
            raise OSError(f"{self.path} is a symbolic link: not reading or writing a session through it")

    def read(self) -> ReadResult:
        self.check_link()
        return read_records(self.path) if self.exists() else ReadResult()

    def append(self, record: dict[str, Any]) -> None:
        """Append one record: one write of one whole line, then fsync."""
        record = {"type": record.pop("type"), "at": now(), **record}
        self.folder.mkdir(parents=True, exist_ok=True)
        self.check_link()
        new = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            prefix = b""
            if new:
                prefix = dumps_line({"type": "session", "at": record["at"], "format": FORMAT, "name": self.name})
            elif not self._checked_tail:
                # A line cut off by a crash stays on its own line (reported and skipped on read)
                # instead of swallowing the first record written after it.
                with open(self.path, "rb") as existing:
                    existing.seek(0, os.SEEK_END)
                    if existing.tell():
                        existing.seek(-1, os.SEEK_END)
                        prefix = b"" if existing.read(1) == b"\n" else b"\n"
            self._checked_tail = True
            data = memoryview(prefix + dumps_line(record))
            while data:  # one write for a whole line in practice; a short write is continued
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)


def delete_session(workdir: str | Path, name: str) -> bool:
    """Delete a saved session's file (and its folder of kept frames, if any): only ever inside
    ``.loop/sessions``. Returns whether there was anything to delete."""
    name = check_name(name)
    folder = sessions_dir(workdir)
    if not folder.is_dir() or folder.is_symlink():
        return False
    base = folder.resolve()
    found = False
    for target in (folder / f"{name}.jsonl", folder / name):
        if not (target.exists() or target.is_symlink()):
            continue
        if target.parent.resolve() != base:
            raise OSError(f"{target} is not inside {base}")
        found = True
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()  # a symlink is removed itself, never what it points to
    return found


# -- artifacts by reference ---------------------------------------------------------------------------------
def _clip(text: Any, limit: int = CELL_CHARS) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def artifact_ref(artifact: Artifact) -> dict[str, Any]:
    """What a session file keeps of an artifact (the tool call that made it is on its message)."""
    ref: dict[str, Any] = {"kind": artifact.kind, "title": artifact.title}
    if isinstance(artifact, Table):
        ref["columns"] = list(artifact.frame.columns)
        ref["dtypes"] = [str(t) for t in artifact.frame.dtypes]
        rows = json_rows(artifact.frame, PREVIEW_ROWS)
        ref["rows"] = [[_clip(v) if isinstance(v, str) else v for v in row] for row in rows]
        ref["total_rows"] = int(getattr(artifact, "total_rows", artifact.frame.height))
    elif isinstance(artifact, SqlFilter):
        ref.update(sql=artifact.sql, shape=artifact.shape, count=artifact.count, ids=list(artifact.ids[:PREVIEW_ROWS]))
    elif isinstance(artifact, Chart):
        figure = artifact.figure.to_json() if artifact.figure is not None else None
        ref["figure"] = figure if figure is not None and len(figure) <= INLINE_CHARS else None
    elif isinstance(artifact, TraceView):
        ref["root_span_id"] = artifact.root_span_id
        ref["html"] = artifact.html if len(artifact.html) <= INLINE_CHARS else ""
        figure = artifact.figure.to_json() if artifact.figure is not None else None
        ref["figure"] = figure if figure is not None and len(figure) <= INLINE_CHARS else None
    elif isinstance(artifact, Pending):
        ref.update(
            action_id=artifact.action_id,
            description=artifact.description,
            preview=_clip(artifact.preview, 4000),
            status=artifact.status,
        )
    else:  # Dataset (a kept frame: its Parquet file), Scorer, Code: small already
        ref.update({k: v for k, v in artifact.to_json().items() if k not in ("kind", "title")})
    return ref


class SavedTable(Table):
    """A table read back from a session file: its first rows, and how many the original had."""

    total_rows: int = 0


_DATETIME = re.compile(r"Datetime\(time_unit='(ns|us|ms)', time_zone=(?:'([^']*)'|None)\)")
_SIMPLE = {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64", "Boolean"}


def _cast(column: pl.Series, dtype: str) -> pl.Series:
    """The column back in its saved type (JSON holds times as ISO text): best effort, else as read."""
    try:
        match = _DATETIME.fullmatch(dtype)
        if match and column.dtype == pl.String:
            return (
                column.str.to_datetime(time_unit=match[1], time_zone=match[2])
                if match[2]
                else column.str.to_datetime(time_unit=match[1]).dt.replace_time_zone(None)
            )
        if dtype == "Date" and column.dtype == pl.String:
            return column.str.to_date()
        if dtype in _SIMPLE:
            return column.cast(getattr(pl, dtype))
    except Exception:
        pass
    return column


def _frame(ref: dict[str, Any]) -> pl.DataFrame:
    columns = [str(c) for c in ref["columns"]] if isinstance(ref.get("columns"), list) else []
    if len(set(columns)) != len(columns):
        columns = [f"{c}_{i}" for i, c in enumerate(columns)]
    rows = ref["rows"] if isinstance(ref.get("rows"), list) else []
    rows = [r for r in rows if isinstance(r, list) and len(r) == len(columns)]
    try:
        frame = pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
    except Exception:  # mixed types in a column: keep it as text
        text = [[None if v is None else str(v) for v in row] for row in rows]
        return pl.DataFrame(text, schema={c: pl.String for c in columns}, orient="row")
    dtypes = ref.get("dtypes") if isinstance(ref.get("dtypes"), list) else []
    if len(dtypes) == len(columns):
        frame = pl.DataFrame([_cast(frame.get_column(c), str(t)) for c, t in zip(columns, dtypes, strict=True)])
    return frame


def _figure(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        import plotly.io as pio

        return pio.from_json(text)
    except Exception:
        return None


def artifact_from_ref(ref: dict[str, Any]) -> Artifact | None:
    """A displayable artifact from its reference (None for one this version cannot show)."""
    kind, title = ref.get("kind"), _clip(ref.get("title"), 500)
    s = lambda key: str(ref.get(key) or "")  # noqa: E731
    n = lambda key: ref.get(key) if isinstance(ref.get(key), int) else 0  # noqa: E731
    if kind == "table":
        table = SavedTable(_frame(ref), title=title)
        table.total_rows = n("total_rows")
        return table
    if kind == "sql":
        shape = "traces" if ref.get("shape") == "traces" else "spans"
        ids = [str(i) for i in ref.get("ids") or [] if isinstance(i, str)]
        return SqlFilter(s("sql"), shape, n("count"), ids, title=title)
    if kind == "chart":
        figure = _figure(ref.get("figure"))
        return Chart(figure, title=title) if figure is not None else None
    if kind == "trace":
        return TraceView(s("root_span_id"), s("html"), _figure(ref.get("figure")), title=title)
    if kind == "dataset":
        return Dataset(s("name"), n("version"), s("path"), n("rows"), title=title)
    if kind == "scorer":
        scorer_kind = "llm_judge" if ref.get("scorer_kind") == "llm_judge" else "code"
        return Scorer(s("name"), scorer_kind, s("source"), s("path"), title=title)
    if kind == "code":
        return Code(s("source"), "sql" if ref.get("language") == "sql" else "python", title=title)
    if kind == "confirmation":
        # The action itself (a closure) did not survive the restart: it can no longer be confirmed.
        status = s("status") if ref.get("status") in ("confirmed", "cancelled") else "expired"
        pending = Pending(s("action_id"), s("description"), s("preview"), title=title)
        pending.status = status  # type: ignore[assignment]
        return pending
    return None


__all__ = [
    "FORMAT",
    "SavedTable",
    "SessionFile",
    "SessionNameError",
    "artifact_from_ref",
    "artifact_ref",
    "check_name",
    "delete_session",
    "read_records",
]
