"""One large Braintrust JSONL file read by an import in chunks of whole traces (flat memory).

``load_logs`` holds a whole file in memory (1M spans, 814 MB of JSONL: about 1.6–2 GB at peak).
An import does not need that: a JSONL file past ``MIN_BYTES`` is cut at line boundaries every
``CHUNK_BYTES``, each cut moved forward to where the next line starts another trace (its
``"root_span_id"`` differs), and each chunk is loaded by the same loader as a file of its own, its
report mapped back to the file (source and line numbers). Derived columns (``parent_id``,
``depth``) are computed within a trace, so whole traces per chunk give the rows ``load_logs`` gives.

The cut points are found by a cheap look at the raw lines; whether every trace really sits in one
chunk is then checked on the loaded rows (a trace id seen in an earlier chunk raises
``NotContiguous``), and the importer then starts again reading the file whole. Repeated span ids
across chunks load as within one file; only their "duplicate id" warnings are not reported.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from ..report import LoadReport

#: Bytes of JSONL per chunk (about 80,000 demo spans).
CHUNK_BYTES = 64 << 20
#: Files below this are read whole.
MIN_BYTES = 2 * CHUNK_BYTES
#: Lines looked at past a cut point for the end of the trace before the file is read whole.
MAX_LOOKAHEAD = 1_000_000

_ROOT = re.compile(rb'"root_span_id"\s*:\s*("(?:[^"\\]|\\.)*"|null)')


class NotContiguous(Exception):
    """A trace's spans are not all in one chunk: the file must be read whole."""


def chunkable(path: Path, fmt: str) -> bool:
    """A Braintrust JSONL file (not a JSON array) big enough to be read in chunks."""
    from ..loaders import detect_format
    from ..loaders.braintrust import _is_json_array

    if not path.is_file() or path.stat().st_size < MIN_BYTES:
        return False
    try:
        kind = detect_format(path) if fmt == "auto" else fmt
    except Exception:  # the loader reports it when the file is read whole
        return False
    return kind == "braintrust" and not _is_json_array(path)


def _root(line: bytes) -> bytes | None:
    match = _ROOT.search(line)
    return match.group(1) if match else None


def cut_points(path: Path, chunk_bytes: int | None = None) -> list[tuple[int, int, int]]:
    """(start byte, end byte, first line number) per chunk; one chunk when no trace end is found."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    size = path.stat().st_size
    chunks: list[tuple[int, int, int]] = []
    start, line_no = 0, 1
    with path.open("rb") as handle:
        while start < size:
            handle.seek(start)
            lines, skipped, previous = 0, 0, b""
            while handle.tell() - start < chunk_bytes:  # whole lines up to the chunk's size
                line = handle.readline()
                if not line:
                    break
                previous = line
                lines += 1
            last = _root(previous)
            end = handle.tell()
            while end < size and skipped < MAX_LOOKAHEAD:  # then up to the end of the current trace
                line = handle.readline()
                root = _root(line)
                if last is not None and root is not None and root != last:
                    break
                last = root if root is not None else last
                lines += 1
                skipped += 1
                end = handle.tell()
            if skipped >= MAX_LOOKAHEAD:
                return [(0, size, 1)]
            chunks.append((start, end, line_no))
            start, line_no = end, line_no + lines
    return chunks or [(0, size, 1)]


def _relocated(report: LoadReport, tmp: str, source: str, offset: int) -> LoadReport:
    """A chunk's report as the file's: its source, and line numbers counted from the file's start."""

    def move(problems: list) -> list:  # type: ignore[type-arg]
        return [
            dataclasses.replace(p, source=source, line=p.line + offset if p.line is not None else None)
            if p.source == tmp
            else p
            for p in problems
        ]

    report.skipped, report.warnings = move(report.skipped), move(report.warnings)
    report.sources = [source if s == tmp else s for s in report.sources]
    return report


def iter_chunks(path: Path, report: LoadReport, *, progress: bool | None = None) -> Iterator[pl.DataFrame]:
    """The file's spans, one frame per chunk of whole traces, merged into ``report``."""
    from ..loaders import load_logs_with_report

    seen: set[str | None] = set()
    folder = Path(tempfile.gettempdir()) / "loop_jupyter_import"
    folder.mkdir(parents=True, exist_ok=True)
    chunks = cut_points(path)
    for index, (start, end, first_line) in enumerate(chunks):
        tmp = folder / f"chunk-{os.getpid()}-{index}.jsonl"
        try:
            with path.open("rb") as source, tmp.open("wb") as target:
                source.seek(start)
                left = end - start
                while left > 0:
                    block = source.read(min(left, 8 << 20))
                    if not block:
                        break
                    target.write(block)
                    left -= len(block)
            frame, sub = load_logs_with_report(tmp, "braintrust", strict=report.strict, progress=progress)
        finally:
            tmp.unlink(missing_ok=True)
        roots = set(frame.get_column("root_span_id").unique().to_list())
        if roots & seen:
            raise NotContiguous(f"{path}: a trace's spans are apart in the file")
        seen |= roots
        _relocated(sub, str(tmp), str(path), first_line - 1)
        sub.sources = [s for s in sub.sources if s != str(path)] if index else sub.sources
        report.format = sub.format if report.format in ("", sub.format) else "mixed"
        report.merge(sub)
        yield frame
        del frame


__all__ = ["CHUNK_BYTES", "MIN_BYTES", "NotContiguous", "chunkable", "cut_points", "iter_chunks"]
