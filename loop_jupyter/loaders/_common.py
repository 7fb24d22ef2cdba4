"""What the file-based loaders share: opening a path, sniffing a file, loading a folder's files.

Each loader keeps its own ``detect`` and ``_events``; these helpers only carry the steps that
were the same in every one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ..frame import frame_from_events, loads
from ..report import LoadError, LoadReport, Problem
from ..safejson import loads_checked

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


def read_document(data: bytes | str, report: LoadReport, source: str) -> Any:
    """One whole JSON document (ValueError if it is not one), made safe like a JSONL line: a lone
    surrogate becomes U+FFFD, NaN/Infinity null, of duplicate keys the last is kept; each change is
    a warning naming the field (no line: the document is one record source)."""
    value, problems = loads_checked(data)
    for problem in problems:
        report.warn(None, problem, source=source)
    return value


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


def folder_files(root: str | Path, report: LoadReport | None = None) -> list[Path]:
    """Every file under ``root``, recursively, sorted, never leaving ``root``.

    Symbolic links are not followed out of the folder: a link (to a file or a folder) whose
    target lies outside ``root`` is skipped and, given a report, named in its warnings (once);
    a linked folder is never descended (its target, when inside, is walked anyway). Links to
    files inside the folder are kept, as before.
    """
    root = Path(root)
    top = root.resolve()
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in dirnames:
            link = here / name
            if link.is_symlink() and not _inside(link, top):
                _escaped(link, root, report)
        for name in filenames:
            file = here / name
            if file.is_symlink() and not _inside(file, top):
                _escaped(file, root, report)
                continue
            if file.is_file():  # not a FIFO, socket or device (reading one could block forever)
                found.append(file)
    return sorted(found)


def _inside(link: Path, top: Path) -> bool:
    try:
        target = link.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    return target == top or top in target.parents


def _escaped(link: Path, root: Path, report: LoadReport | None) -> None:
    if report is None:
        return
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    problem = Problem(
        None, f"{link.relative_to(root)}: a symbolic link to {target} outside the folder: skipped", str(root)
    )
    if problem not in report.warnings:
        report.warn(problem.line, problem.reason, source=problem.source)
