"""Build the canonical frame: validate Braintrust-shaped events, then derive the typed columns.

Every loader ends here: it turns its format into Braintrust log events (plain dicts) and calls
:func:`frame_from_events`, or, on the fast path, hands DuckDB a relation of base columns and calls
:func:`derive`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import orjson
import polars as pl

from .report import LoadReport
from .safejson import SURROGATE, loads_checked
from .safejson import loads as _safe_loads
from .schema import BASE_SCHEMA, JSON_FIELDS, SCHEMA

# Unix timestamps arrive as seconds, milliseconds, microseconds or nanoseconds; the magnitude
# tells which (seconds stay below 1e11 until the year 5138).
_EPOCH_SQL = """CASE WHEN abs({x}) >= 1e17 THEN {x} / 1e9 WHEN abs({x}) >= 1e14 THEN {x} / 1e6
  WHEN abs({x}) >= 1e11 THEN {x} / 1e3 ELSE {x} END"""

_METRIC_KEYS = ("start", "end", "prompt_tokens", "completion_tokens", "tokens", "estimated_cost")


def epoch_seconds(value: float) -> float:
    """Normalise a unix timestamp given in s, ms, us or ns to seconds."""
    magnitude = abs(value)
    if magnitude >= 1e17:
        return value / 1e9
    if magnitude >= 1e14:
        return value / 1e6
    if magnitude >= 1e11:
        return value / 1e3
    return value


def parse_timestamp(value: object) -> datetime | None:
    """Parse the timestamps seen in the wild: ISO 8601 with or without zone (naive means UTC),
    unix seconds, milliseconds, microseconds or nanoseconds, as numbers or numeric strings.
    Returns None for null; raises ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"timestamp must be a string or number, got {value!r}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"timestamp is not finite: {value!r}")
        return _from_epoch(value, value)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return _from_epoch(number, value)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ValueError(f"timestamp must be a string or number, got {type(value).__name__}")


class TimestampOutOfRange(ValueError):
    """A number that reads as a unix time but falls outside the years datetime can hold (1-9999)."""


def _from_epoch(number: float, shown: object) -> datetime:
    try:
        return datetime.fromtimestamp(epoch_seconds(float(number)), UTC)
    except (OverflowError, OSError, ValueError) as exc:
        text = repr(shown) if len(repr(shown)) <= 40 else repr(shown)[:37] + "..."
        raise TimestampOutOfRange(f"timestamp out of range: {text}") from exc


def dumps(value: object) -> str:
    """JSON text for an open field; exact for everything JSON can hold (big ints included)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        return SURROGATE.sub("\ufffd", text)  # a lone surrogate cannot leave as UTF-8


def loads(data: str | bytes) -> Any:
    """Parse JSON text exactly (integers beyond 64 bits too) and safely: lone surrogates become
    U+FFFD, NaN/Infinity null (see :mod:`loop_jupyter.safejson`; ``loads_checked`` reports them)."""
    return _safe_loads(data)


def _string_list(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{field} must be a list of strings, got {type(value).__name__}")
    return value


def _number_object(value: object, field: str) -> object:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{field} must be an object, got {type(value).__name__}")
    for key, item in value.items():
        if item is not None and (isinstance(item, bool) or not isinstance(item, int | float)):
            raise ValueError(f"{field}.{key} must be a number, got {type(item).__name__}")
    return value


def _identifier(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{field} must be a string, got {type(value).__name__}")


def normalize_event(event: object, notes: list[str] | None = None) -> dict[str, object]:
    """Check one Braintrust log event and turn it into base-column values.

    Raises ValueError naming the field for anything that cannot be loaded as it is. What loads
    changed (a ``created`` out of range loads as null) is described in ``notes`` when given.
    """
    if not isinstance(event, dict):
        raise ValueError(f"a log event must be a JSON object, got {type(event).__name__}")
    span_id = _identifier(event.get("span_id"), "span_id")
    row_id = _identifier(event.get("id"), "id") or span_id
    if row_id is None:
        raise ValueError("missing id and span_id")
    span_id = span_id or row_id
    parents = _string_list(event.get("span_parents"), "span_parents")
    root = _identifier(event.get("root_span_id"), "root_span_id")
    if root is None:
        if parents:
            raise ValueError("missing root_span_id on a span that has span_parents")
        root = span_id
    is_root = event.get("is_root")
    if is_root is None:
        is_root = not parents
    elif not isinstance(is_root, bool):
        raise ValueError(f"is_root must be a boolean, got {type(is_root).__name__}")
    try:
        created = parse_timestamp(event.get("created"))
    except TimestampOutOfRange as exc:
        created = None  # the span loads without a time rather than being lost
        if notes is not None:
            notes.append(f"created: {exc} (loaded with created null)")
    except ValueError as exc:
        raise ValueError(f"created: {exc}") from exc
    row: dict[str, object] = {
        "id": row_id,
        "span_id": span_id,
        "root_span_id": root,
        "span_parents": parents,
        "is_root": is_root,
        "created": created,
        "tags": _string_list(event.get("tags"), "tags"),
    }
    _number_object(event.get("scores"), "scores")
    _number_object(event.get("metrics"), "metrics")
    for field in ("span_attributes", "context"):
        if event.get(field) is not None and not isinstance(event[field], dict):
            raise ValueError(f"{field} must be an object, got {type(event[field]).__name__}")
    for field in JSON_FIELDS:
        value = event.get(field)
        row[field] = None if value is None else dumps(value)
    return row


def frame_from_events(
    events: Iterable[tuple[int | None, object]],
    report: LoadReport,
    *,
    source: str = "",
) -> pl.DataFrame:
    """Build the canonical frame from ``(line, event)`` pairs; bad events go to ``report.skipped``."""
    columns: dict[str, list[object]] = {name: [] for name in BASE_SCHEMA}
    lines: list[int | None] = []
    notes: list[str] = []
    for line, event in events:
        report.records_read += 1
        try:
            row = normalize_event(event, notes)
        except ValueError as exc:
            notes.clear()
            report.skip(line, str(exc), source=source, excerpt=_excerpt(event))
            continue
        for note in notes:
            report.warn(line, note, source=source)
        notes.clear()
        for name in BASE_SCHEMA:
            columns[name].append(row[name])
        lines.append(line)
    base = pl.DataFrame(columns, schema=BASE_SCHEMA).with_columns(_line=pl.Series(lines, dtype=pl.Int64))
    frame = derive(base, report, source=source)
    report.rows_loaded += frame.height
    return frame


def _excerpt(event: object) -> str:
    try:
        return dumps(event)[:200]
    except (TypeError, ValueError):
        return repr(event)[:200]


def iter_json_lines(data: bytes, report: LoadReport, *, source: str = "") -> Iterator[tuple[int, object]]:
    """Yield ``(line_number, parsed)`` for each non-blank line; bad UTF-8 and bad JSON are skipped
    into the report with their line numbers (and counted as read). What parsing repaired (a lone
    surrogate, NaN/Infinity, a duplicate key) is a warning with the line and the field."""
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.records_read += 1
            report.skip(number, f"invalid UTF-8 at byte {exc.start}", source=source, excerpt=repr(raw[:200]))
            continue
        try:
            value, problems = loads_checked(text)
        except ValueError as exc:
            report.records_read += 1
            report.skip(number, f"invalid JSON: {exc}", source=source, excerpt=SURROGATE.sub("\ufffd", text[:200]))
            continue
        for problem in problems:
            report.warn(number, problem, source=source)
        yield number, value


def _derive_sql(relation: str) -> str:
    # One json_transform per metrics object (not one extraction per key): 1M spans 0.2 s CPU
    # against 0.25 s. Metrics are checked to be numbers before they get here, on both paths.
    struct = "{" + ", ".join(f'"{key}": "DOUBLE"' for key in _METRIC_KEYS) + "}"
    start = _EPOCH_SQL.format(x="m.start")
    end = _EPOCH_SQL.format(x='m."end"')
    return f"""
    WITH base AS (
      SELECT *, json_transform(metrics, '{struct}') AS m,
             json_extract_string(span_attributes, ['$.name', '$.type']) AS sa
      FROM {relation}
    ), timed AS (
      SELECT *, coalesce(to_timestamp({start}), created) AS "start", to_timestamp({end}) AS "end"
      FROM base
    )
    SELECT * EXCLUDE (m, sa, "start", "end"),
      sa[1] AS name,
      lower(sa[2]) AS type,
      "start", "end",
      epoch_us("end" - "start") / 1e6 AS duration,
      json_extract_string(metadata, '$.model') AS model,
      TRY_CAST(m.prompt_tokens AS BIGINT) AS prompt_tokens,
      TRY_CAST(m.completion_tokens AS BIGINT) AS completion_tokens,
      coalesce(TRY_CAST(m.tokens AS BIGINT),
               CASE WHEN m.prompt_tokens IS NOT NULL OR m.completion_tokens IS NOT NULL
                    THEN coalesce(TRY_CAST(m.prompt_tokens AS BIGINT), 0)
                       + coalesce(TRY_CAST(m.completion_tokens AS BIGINT), 0) END) AS tokens,
      m.estimated_cost AS cost
    FROM timed
    """


def derive_sql(relation: str) -> str:
    """SQL that selects the base columns of ``relation`` plus the derived columns (DuckDB)."""
    return _derive_sql(relation)


def derive(base: pl.DataFrame, report: LoadReport, *, source: str = "") -> pl.DataFrame:
    """Add the derived columns to a frame of base columns.

    A ``_line`` column, when present, locates warnings and is dropped from the result.
    """
    con = duckdb.connect()
    con.execute("SET enable_progress_bar_print = false")  # no DuckDB bar in terminals or notebooks
    con.execute("SET TimeZone = 'UTC'")
    con.register("base_rows", base)
    return finish(con.sql(derive_sql("base_rows")).pl(), report, source=source)


def finish(derived: pl.DataFrame, report: LoadReport, *, source: str = "") -> pl.DataFrame:
    """Add ``parent_id`` and ``depth``, drop bookkeeping columns and cast to the canonical schema."""
    # The parent's id taken from the list in Polars shares the list's string buffers: 1M spans
    # +16 MB, against +52 MB for the copy DuckDB's span_parents[1] makes.
    derived = derived.with_columns(parent_id=pl.col("span_parents").list.first())
    derived = with_depth(derived, report, source=source)
    _report_duplicates(derived, report, source)
    if "_line" in derived.columns:
        derived = derived.drop("_line")
    # Columns already of their canonical type are taken as they are: a no-op cast in a select
    # still cost 0.16 s and 130 MB on 1M spans.
    schema = derived.schema
    if all(schema.get(name) == dtype for name, dtype in SCHEMA.items()):
        return derived.select(list(SCHEMA))
    return derived.select(
        [pl.col(name) if schema.get(name) == dtype else pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()]
    )


def _report_duplicates(frame: pl.DataFrame, report: LoadReport, source: str) -> None:
    """Rows sharing an ``id`` all load (nothing is dropped); each repeat is reported."""
    if _unique(frame.get_column("id")):
        return
    repeated = frame.filter(pl.col("id").is_duplicated() & ~pl.col("id").is_first_distinct())
    if not repeated.height:
        return
    has_line = "_line" in repeated.columns
    for row in repeated.head(1000).iter_rows(named=True):
        report.warn(row["_line"] if has_line else None, f"duplicate id {row['id']} (both rows loaded)", source=source)
    if repeated.height > 1000:
        report.warn(None, f"{repeated.height - 1000:,} more duplicate ids", source=source)


def with_depth(frame: pl.DataFrame, report: LoadReport, *, source: str = "") -> pl.DataFrame:
    """Add ``depth`` (0 for roots) by walking parent links level by level.

    Spans whose parent is missing, and spans on a cycle of ``span_parents``, keep a null depth and
    are reported as warnings: they load, nothing is dropped.
    """
    links = frame.select("span_id", "parent_id").with_row_index("_row")
    ids = links.get_column("span_id")
    if ids.null_count() == 0 and _unique(ids):
        depth, pending = _depth_by_parent_row(links)
    else:
        depth, pending = _depth_by_levels(links)
    frame = frame.with_columns(_chunked_like(depth, ids))
    if pending.height:
        _report_unresolved(frame, pending, report, source)
    return frame


def _depth_by_parent_row(links: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """Unique span ids: one join finds each parent's row, then numpy walks the levels on integers.

    1M spans: 0.3 s and a few narrow arrays, against 0.6 s and ~400 MB of string joins per level.
    """
    ids = links.get_column("span_id")
    parents = links.get_column("parent_id")
    # Join parents to ids on 64-bit hashes (Polars' parallel join on integers: 1M spans 0.13 s,
    # against 0.35 s for a numpy sort and search and 0.4 s and ~200 MB for a join on the
    # strings), then confirm every match on the strings: a parent whose hash matched another id
    # (a collision) sends the whole lookup to the exact join; so do two ids sharing a hash, which
    # would give a parent two rows.
    targets = pl.DataFrame({"_h": ids.hash(seed=0), "_prow": pl.int_range(0, links.height, dtype=pl.Int64, eager=True)})
    wanted = pl.DataFrame({"_h": parents.hash(seed=0).set(parents.is_null(), None)})
    matched = wanted.join(targets, on="_h", how="left", maintain_order="left").get_column("_prow")
    same = matched.len() == links.height and not bool(
        (matched.is_not_null() & (ids.gather(matched.fill_null(0)) != parents)).any()
    )
    parent_row = matched.fill_null(-1).to_numpy() if same else _parent_rows_exact(links)
    has_parent = parents.is_not_null().to_numpy()
    depth = np.full(links.height, -1, dtype=np.int32)
    depth[~has_parent] = 0
    pending = np.flatnonzero(has_parent & (parent_row >= 0))
    level = 0
    while pending.size:
        level += 1
        ready = depth[parent_row[pending]] == level - 1
        if not ready.any():
            break
        depth[pending[ready]] = level
        pending = pending[~ready]
    unresolved = np.flatnonzero(has_parent & (depth < 0))
    series = pl.Series("depth", depth, dtype=pl.Int32)
    series = pl.select(pl.when(series >= 0).then(series)).to_series().alias("depth")
    rows = pl.DataFrame({"_row": pl.Series(unresolved).cast(links.schema["_row"])})
    return series, rows


def _chunked_like(values: pl.Series, like: pl.Series) -> pl.Series:
    """``values`` cut into the chunks of ``like`` (zero-copy slices). A one-chunk column beside
    columns in many chunks (the fast loader's batches) made the next select copy the whole
    frame into one chunk: 200 MB on 1M spans."""
    lengths = like.chunk_lengths()
    if len(lengths) < 2:
        return values
    offsets = np.cumsum([0, *lengths[:-1]])
    return pl.concat([values.slice(int(o), n) for o, n in zip(offsets, lengths, strict=True)], rechunk=False)


def _unique(values: pl.Series) -> bool:
    """No value repeats. Distinct 64-bit hashes prove it in one cheap pass; equal hashes (a
    repeat, or a collision) are settled on the values themselves."""
    if values.hash(seed=0).n_unique() == values.len():
        return True
    return values.n_unique() == values.len()


def _parent_rows_exact(links: pl.DataFrame) -> np.ndarray:
    """Each span's parent row (-1 when none) by joining the id strings themselves."""
    targets = links.select(pl.col("span_id").alias("parent_id"), pl.col("_row").cast(pl.Int64).alias("_prow"))
    return (
        links.select("parent_id")
        .join(targets, on="parent_id", how="left", maintain_order="left")
        .get_column("_prow")
        .fill_null(-1)
        .to_numpy()
    )


def _depth_by_levels(links: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """Any span ids (duplicates too): semi-joins level by level; a repeated id takes its shallowest depth."""
    known = links.filter(pl.col("parent_id").is_null()).select("_row", "span_id", depth=pl.lit(0, pl.Int32))
    resolved = [known]
    pending = links.filter(pl.col("parent_id").is_not_null())
    level = 0
    while pending.height and known.height:
        level += 1
        parents = known.select(pl.col("span_id").alias("parent_id")).unique()
        step = pending.join(parents, on="parent_id", how="semi")
        known = step.select("_row", "span_id", depth=pl.lit(level, pl.Int32))
        pending = pending.join(step.select("_row"), on="_row", how="anti")
        resolved.append(known)
    depths = pl.concat(resolved).select("_row", "depth")
    # Align depths to row order on two narrow columns; joining and re-sorting the whole frame
    # moved every input/output string (1M spans: 0.7 s and a second copy of the text).
    aligned = links.select("_row").join(depths, on="_row", how="left", maintain_order="left")
    return aligned.get_column("depth"), pending.select("_row")


def _report_unresolved(frame: pl.DataFrame, pending: pl.DataFrame, report: LoadReport, source: str) -> None:
    present = set(frame.get_column("span_id").to_list())
    has_line = "_line" in frame.columns
    rows = frame.with_row_index("_row").join(pending.select("_row"), on="_row", how="semi")
    for row in rows.iter_rows(named=True):
        line = row["_line"] if has_line else None
        if row["parent_id"] not in present:
            reason = f"span {row['span_id']}: parent {row['parent_id']} is not in the logs (loaded as an orphan)"
        else:
            reason = (
                f"span {row['span_id']}: its ancestors never reach a root (a cycle in span_parents or under an orphan)"
            )
        report.warn(line, reason, source=source)
