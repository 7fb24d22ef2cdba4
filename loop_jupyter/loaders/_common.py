"""What the file-based loaders share: opening a path, sniffing a file, loading a folder's files.

Each loader keeps its own ``detect`` and ``_events``; these helpers only carry the steps that
were the same in every one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ..frame import frame_from_events, loads
from ..report import LoadError, LoadReport

Events = Iterable[tuple[int | None, dict[str, Any]]]


def load_path(
    path: str | Path,
    report: LoadReport,
    *,
    load_dir: Callable[[Path, LoadReport], pl.DataFrame],
    events: Callable[[Path], Events],
    fmt: str | None,
) -> pl.DataFrame:
    """A directory goes to ``load_dir``; a file's ``events(path)`` become the frame. ``fmt``, when
    given, is the report's format unless one is set already (None: the loader's events set it)."""
    path = Path(path)
    if path.is_dir():
        return load_dir(path, report)
    if not path.is_file():
        raise LoadError(f"{path}: not a file")
    if fmt is not None:
        report.format = report.format or fmt
    return frame_from_events(events(path), report, source=str(path))


def sniff_json(path: Path, detect: Callable[[object], bool], *, first_line: bool = True) -> bool:
    """Whether ``detect`` accepts the file parsed as one JSON value or, with ``first_line``, when
    the whole does not parse (JSONL), its first line."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    try:
        return detect(loads(data))
    except ValueError:
        if not first_line:
            return False
        try:
            return detect(loads(data.split(b"\n", 1)[0]))
        except ValueError:
            return False


def load_files(
    path: Path,
    files: list[Path],
    report: LoadReport,
    events: Callable[[int, Path], Events],
) -> pl.DataFrame:
    """One frame of every file's ``events(index, file)``, in the order given, read lazily."""

    def chained() -> Iterator[tuple[int | None, dict[str, Any]]]:
        for index, file in enumerate(files):
            yield from events(index, file)

    return frame_from_events(chained(), report, source=str(path))


def source_of(path_or_obj: object, report: LoadReport, fmt: str) -> str:
    """Set the report's format; a path is the source (recorded in the report), an object has none."""
    report.format = fmt
    if isinstance(path_or_obj, str | Path):
        source = str(path_or_obj)
        report.sources.append(source)
        return source
    return ""
