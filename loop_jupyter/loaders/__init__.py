"""``load_logs(source, format="auto")``: whatever the logs look like, the canonical span frame.

Each format is a module with ``detect(sample) -> bool`` and ``load(path, report) -> frame``
(and optionally ``load_dir``). Detection looks at the parsed start of a file; ``format=`` forces one.
"""

from __future__ import annotations

import importlib
import re
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl

from ..frame import loads
from ..progress import progress_bar
from ..report import LoadError, LoadReport, Problem
from ..schema import SCHEMA, empty_frame, is_canonical
from ._common import folder_files

#: Formats in detection order (most specific first); each is a module of this package.
FORMATS: dict[str, str] = {
    "braintrust": "braintrust",
    "otlp": "otlp",
    "langfuse": "langfuse",
    "claude-stream-json": "claude_stream",
    "openhands": "openhands",
    "tau-bench": "tau_bench",
    "who-and-when": "who_and_when",
    "openinference": "openinference",
}
_FRAME_EXTENSIONS = {".parquet", ".arrow", ".feather", ".ipc"}


def _module(fmt: str) -> ModuleType | None:
    try:
        return importlib.import_module(f".{FORMATS[fmt]}", __name__)
    except ModuleNotFoundError:
        return None


def supported_formats() -> list[str]:
    return [name for name in FORMATS if _module(name) is not None] + ["parquet", "arrow", "polars", "pandas"]


def load_logs(
    source: str | Path | pl.DataFrame | Any,
    format: str = "auto",
    *,
    strict: bool = False,
    progress: bool | None = None,
) -> pl.DataFrame:
    """Load logs into the canonical span frame.

    ``source`` is a file, a directory (every file inside, recursively), a Polars or pandas frame.
    Bad records are skipped into the load report (``strict=True`` raises on the first one);
    the report is at ``load_report(frame)`` and ``frame`` carries nothing extra.
    """
    frame, report = load_logs_with_report(source, format, strict=strict, progress=progress)
    _REPORTS[id(frame)] = report
    weakref.finalize(frame, _REPORTS.pop, id(frame), None)
    return frame


# Reports live as long as their frame (keyed by id, dropped when the frame is collected).
_REPORTS: dict[int, LoadReport] = {}


def load_report(frame: pl.DataFrame) -> LoadReport | None:
    """The load report of a frame returned by :func:`load_logs` (None for other frames)."""
    return _REPORTS.get(id(frame))


def load_logs_with_report(
    source: str | Path | pl.DataFrame | Any,
    format: str = "auto",
    *,
    strict: bool = False,
    progress: bool | None = None,
) -> tuple[pl.DataFrame, LoadReport]:
    """Like :func:`load_logs`, returning ``(frame, report)``."""
    report = LoadReport(strict=strict)
    if isinstance(source, pl.DataFrame) or type(source).__module__.startswith("pandas"):
        return _load_frame(source, format, report), report
    path = Path(source).expanduser()
    if not path.exists():
        raise LoadError(f"no such file or directory: {path}")
    if path.is_dir():
        return _load_dir(path, format, report, progress), report
    return _load_file(path, format, report, progress), report


def _load_frame(source: Any, fmt: str, report: LoadReport) -> pl.DataFrame:
    frame = source if isinstance(source, pl.DataFrame) else pl.from_pandas(source)
    if fmt in ("auto", "canonical", "polars", "pandas", "parquet", "arrow") and _looks_canonical(frame):
        report.format = "canonical"
        report.records_read = report.rows_loaded = frame.height
        return _as_canonical(frame)
    module = _module("openinference")
    if module is not None and (fmt in ("auto", "openinference")) and module.detect(frame):
        return module.load(frame, report)
    raise LoadError(
        f"this frame has columns {frame.columns[:12]}: neither the canonical span frame "
        f"({', '.join(list(SCHEMA)[:6])}, ...) nor a Phoenix/OpenInference spans frame"
    )


def _looks_canonical(frame: pl.DataFrame) -> bool:
    return {"id", "span_id", "root_span_id"} <= set(frame.columns)


def _as_canonical(frame: pl.DataFrame) -> pl.DataFrame:
    if is_canonical(frame):
        return frame.select(list(SCHEMA))
    missing = [name for name in SCHEMA if name not in frame.columns]
    if missing:
        from ..frame import derive

        base = [c for c in frame.columns if c in SCHEMA]
        return derive(frame.select(base).with_columns(_missing_base(frame)), LoadReport())
    return frame.select([pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()])


def _missing_base(frame: pl.DataFrame) -> list[pl.Expr]:
    from ..schema import BASE_SCHEMA

    return [pl.lit(None, dtype).alias(name) for name, dtype in BASE_SCHEMA.items() if name not in frame.columns]


def _sample(path: Path) -> object:
    """The parsed start of a file: its first JSON line (for JSONL), or the whole JSON document."""
    with path.open("rb") as handle:
        first_line = b""
        while not first_line.strip():
            first_line = handle.readline()
            if not first_line:
                break
        second_line = handle.readline()
    try:
        first = loads(first_line)
    except ValueError:
        first = None
    if isinstance(first, dict) and second_line.strip():
        return first
    try:
        return loads(path.read_bytes())
    except ValueError:
        return first


def detect_format(path: str | Path) -> str:
    """The format name of a file or directory, or raise LoadError saying what was seen."""
    path = Path(path)
    if path.suffix.lower() in _FRAME_EXTENSIONS:
        return "parquet" if path.suffix.lower() == ".parquet" else "arrow"
    if path.is_dir():
        found = {_format_or_none(p) for p in folder_files(path) if _loadable(p)}
        if len(found) == 1 and None not in found:
            return str(found.pop())
        raise LoadError(f"{path} is a folder of several formats: {sorted(str(f) for f in found)}")
    sample = _sample(path)
    for name in FORMATS:
        module = _module(name)
        if module is not None and name != "openinference" and module.detect(sample):
            return name
    module = _module("openinference")
    if module is not None and module.detect(sample):
        return "openinference"
    seen = type(sample).__name__
    if isinstance(sample, dict):
        seen = f"a JSON object with keys {sorted(sample)[:12]}"
    elif isinstance(sample, list):
        seen = f"a JSON array of {len(sample)} items" + (
            f" (first has keys {sorted(sample[0])[:12]})" if sample and isinstance(sample[0], dict) else ""
        )
    raise LoadError(f"could not tell the format of {path}: saw {seen}. Supported: {', '.join(supported_formats())}")


def _is_blank(path: Path) -> bool:
    if path.stat().st_size > 4096:
        return False
    return not path.read_bytes().strip()


def _load_file(path: Path, fmt: str, report: LoadReport, progress: bool | None) -> pl.DataFrame:
    if _is_blank(path):
        report.sources.append(str(path))
        report.format = report.format or "empty"
        report.warn(None, "the file is empty: no spans", source=str(path))
        return empty_frame()
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt in ("parquet", "arrow"):
        frame = _read_frame_file(path, fmt)
        report.sources.append(str(path))
        return _load_frame(frame, "auto", report)
    if fmt not in FORMATS:
        raise LoadError(f"unknown format {fmt!r}; supported: {', '.join(supported_formats())}")
    module = _module(fmt)
    if module is None:
        raise LoadError(f"the {fmt} loader is not available in this build")
    if fmt == "braintrust":
        return module.load(path, report, progress=progress)
    first = len(report.sources)
    frame = module.load(path, report)
    if str(path) not in report.sources[first:]:  # some loaders record their source themselves
        report.sources.append(str(path))
    return frame


class UnreadableFile(LoadError):
    """A Parquet/Arrow file the reader could not decode (corrupt, truncated, crafted)."""


def _read_frame_file(path: Path, fmt: str) -> pl.DataFrame:
    """Read a Parquet/Arrow file; a failure of the reader, a Rust panic included (Polars raises
    ``PanicException``, a BaseException that ``except Exception`` misses), is an UnreadableFile."""
    try:
        return pl.read_parquet(path) if fmt == "parquet" else pl.read_ipc(path)
    except (Exception, pl.exceptions.PanicException) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UnreadableFile(f"{path}: not a readable {fmt} file ({type(exc).__name__}: {first})") from None


def folder_entries(path: Path, fmt: str, report: LoadReport) -> tuple[str | None, list[Path], int]:
    """How ``load_logs`` splits a folder (and ``import_logs`` into batches): the format whose
    ``load_dir`` reads it whole, when every file in it is of that format (a workflow folder is one
    trace, not one per file), else None and the entries loaded each on its own (loadable files and
    sub-folders holding one); and how many loadable files it holds."""
    every = folder_files(path, report)  # symbolic links out of the folder: skipped, reported
    files = [p for p in every if not p.name.startswith(".") and _loadable(p)]
    if not files:
        raise LoadError(f"no log files found in {path}")
    formats = {fmt} if fmt != "auto" else {_format_or_none(file) for file in files}
    if len(formats) == 1:
        (only,) = formats
        module = _module(only) if only in FORMATS else None
        if module is not None and hasattr(module, "load_dir"):
            return only, [path], len(files)
    allowed = set(files)
    entries = [
        entry
        for entry in sorted(path.iterdir())
        if not entry.name.startswith(".")
        and (
            entry in allowed
            if not entry.is_dir()
            else not entry.is_symlink() and any(p in allowed for p in folder_files(entry))
        )
    ]
    return None, entries, len(files)


def _load_dir(path: Path, fmt: str, report: LoadReport, progress: bool | None) -> pl.DataFrame:
    """A folder: handed whole to a format's ``load_dir`` when every file in it is of that format;
    otherwise each entry on its own (``folder_entries``)."""
    whole, entries, n_files = folder_entries(path, fmt, report)
    module = _module(whole) if whole is not None else None
    if whole is not None and module is not None:
        report.format = whole
        report.sources.append(str(path))
        return module.load_dir(path, report)
    frames: list[pl.DataFrame] = []
    loaded: list[Path] = []  # the entries behind ``frames`` (an unreadable one has no frame)
    show = progress if progress is not None else n_files > 50
    with progress_bar(total=len(entries), desc=f"loading {path.name}", unit=" entries", disable=not show) as bar:
        for entry in entries:
            # Not strict per entry: a trace split over files has parents in another file; strictness
            # is applied once the entries are joined (below).
            sub = LoadReport(strict=False)
            loader = _load_dir if entry.is_dir() else _load_file
            try:
                frames.append(loader(entry, fmt, sub, False if show else progress))  # one bar, not nested ones
                loaded.append(entry)
            except UnreadableFile as exc:  # one corrupt file: reported, the rest of the folder loads
                sub.records_read += 1
                sub.skip(None, str(exc), source=str(entry))
            if sub.format:  # an unreadable file has none: it does not make the folder "mixed"
                report.format = sub.format if report.format in ("", sub.format) else "mixed"
            report.merge(sub)
            bar.update(1)
    merged = pl.concat(frames, how="vertical") if frames else empty_frame()
    shared = _shared_traces(loaded, frames)
    if shared.height:
        merged = _relink(merged, report)
    if report.strict and (report.skipped or report.warnings):
        raise LoadError(str((report.skipped or report.warnings)[0]))
    _report_shared_traces(path, shared, report)
    return merged


#: How many shared traces (and repeated span ids) the report lists one by one.
SHARED_LISTED = 20


_UNRESOLVED = re.compile(r"^span (\S+): (?:parent \S+ is not in the logs|its ancestors never reach a root)")


def _shared_traces(entries: list[Path], frames: list[pl.DataFrame]) -> pl.DataFrame:
    """root_span_id, entries, spans, ids: traces whose spans come from more than one entry, and the
    span ids found in more than one entry (``root_span_id`` null)."""
    names = [
        f.select("root_span_id", "id").with_columns(entry=pl.lit(entry.name))
        for entry, f in zip(entries, frames, strict=True)
        if f.height
    ]
    schema = {"root_span_id": pl.String, "entries": pl.List(pl.String), "spans": pl.UInt32, "id": pl.String}
    if len(names) < 2:
        return pl.DataFrame(schema=schema)
    rows = pl.concat(names)
    traces = rows.group_by("root_span_id").agg(entries=pl.col("entry").unique().sort(), spans=pl.len())
    ids = rows.group_by("id").agg(entries=pl.col("entry").unique().sort(), spans=pl.len())
    return (
        pl.concat(
            [
                traces.filter(pl.col("entries").list.len() > 1).with_columns(id=pl.lit(None, pl.String)),
                ids.filter(pl.col("entries").list.len() > 1).select(
                    pl.lit(None, pl.String).alias("root_span_id"), "entries", "spans", "id"
                ),
            ]
        )
        .cast(schema)
        .sort("root_span_id", "id", nulls_last=True)
    )


def _relink(merged: pl.DataFrame, report: LoadReport) -> pl.DataFrame:
    """Depths again over the joined entries (a span's parent may be in another file), and the
    per-file "parent is not in the logs" warnings dropped for spans that now reach their root."""
    from ..frame import with_depth

    relinked = with_depth(merged.drop("depth"), LoadReport()).select(merged.columns)
    resolved = set(relinked.filter(pl.col("depth").is_not_null()).get_column("span_id").to_list())
    report.warnings = [
        w for w in report.warnings if not ((m := _UNRESOLVED.match(w.reason)) and m.group(1) in resolved)
    ]
    return relinked


def _report_shared_traces(path: Path, found: pl.DataFrame, report: LoadReport) -> None:
    """Say when entries of a folder hold the same trace id (their spans are merged into one trace)
    or the same span id (both rows are kept): never merged without a word."""
    if found.height == 0:
        return
    shared = found.filter(pl.col("root_span_id").is_not_null())
    for row in shared.head(SHARED_LISTED).iter_rows(named=True):
        files = ", ".join(row["entries"][:4]) + (f" +{len(row['entries']) - 4}" if len(row["entries"]) > 4 else "")
        # A warning that never raises, even when strict: a trace split over files is not a bad record.
        report.warnings.append(
            Problem(
                None,
                f"trace {row['root_span_id']} is in {len(row['entries'])} files ({files}): "
                f"merged into one trace of {row['spans']:,} spans",
                str(path),
            )
        )
    if shared.height > SHARED_LISTED:
        report.warnings.append(
            Problem(None, f"{shared.height - SHARED_LISTED:,} more traces are split over several files", str(path))
        )
    repeated = found.filter(pl.col("id").is_not_null())
    for row in repeated.head(SHARED_LISTED).iter_rows(named=True):
        report.warn(
            None, f"span id {row['id']} is in {', '.join(row['entries'][:4])} (both rows loaded)", source=str(path)
        )


def _format_or_none(path: Path) -> str | None:
    try:
        return detect_format(path)
    except LoadError:
        return None


def _loadable(path: Path) -> bool:
    return path.suffix.lower() in {".json", ".jsonl", ".ndjson", ".txt", *_FRAME_EXTENSIONS} and path.name not in {
        "LICENSE",
        "prompt.txt",
    }


def save(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a canonical frame to Parquet (``.parquet``) or Arrow IPC (``.arrow``/``.feather``).

    Written to a fresh temporary file (random name, created exclusively) in the same folder and
    then linked to ``path``, so an interrupted write leaves no partial file; refuses to overwrite
    an existing file and refuses a ``path`` that is a symbolic link (never written through).
    """
    from ..safefiles import write_new

    path = Path(path)
    arrow = path.suffix.lower() in {".arrow", ".feather", ".ipc"}
    return write_new(path, frame.write_ipc if arrow else frame.write_parquet)


__all__ = ["FORMATS", "LoadError", "LoadReport", "detect_format", "load_logs", "load_logs_with_report", "save"]
