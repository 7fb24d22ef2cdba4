"""Datasets from logs: versioned Parquet files shaped like Braintrust dataset records.

``<datasets_dir>/<name>/v<N>.parquet`` holds the records (``id``, ``input``, ``expected``,
``metadata``, ``tags`` and the ``origin_span_id`` / ``origin_root_span_id`` they came from; open
fields are JSON text like the log frame) and ``v<N>.json`` says how they were made (name, version,
row count, the filter or SQL, the source, created_at). A version is never overwritten: saving
again makes the next version. Writing asks for confirmation first (a Pending artifact).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import polars as pl

from ..artifacts import Code, Dataset, Pending, Table, ToolResult
from ..engine import QueryError
from ..snippet import keyword_args, literal
from ..tools import ToolContext, tool
from ._versioned import check_name, json_companion, pick_version, propose_version, versions, write_version

_STRING = pl.String()
Preset = Literal["errors", "common_inputs", "high_scores"]

#: Columns of a dataset file, in order.
DATASET_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "input": pl.String(),
    "expected": pl.String(),
    "metadata": pl.String(),
    "tags": pl.List(pl.String()),
    "origin_span_id": pl.String(),
    "origin_root_span_id": pl.String(),
}

PRESET_SQL: dict[str, str] = {
    "errors": "SELECT * FROM traces WHERE has_error",
    "common_inputs": (
        "SELECT * EXCLUDE (_rank) FROM (SELECT *, count(*) OVER (PARTITION BY input) AS occurrences, "
        "row_number() OVER (PARTITION BY input ORDER BY created DESC, root_span_id) AS _rank "
        "FROM traces WHERE input IS NOT NULL) WHERE _rank = 1 ORDER BY occurrences DESC, root_span_id LIMIT {limit}"
    ),
    "high_scores": (
        "SELECT * FROM traces WHERE scores IS NOT NULL AND "
        "list_avg(map_values(CAST(CAST(scores AS JSON) AS MAP(VARCHAR, DOUBLE)))) >= {min_score}"
    ),
}


#: How a request names each preset, tried in this order ("high-scoring examples" names its rows too).
PRESET_PATTERNS: dict[str, str] = {
    "common_inputs": r"\b(most )?(common|frequent|popular|top) (user )?(inputs|questions|requests|queries|prompts)",
    "high_scores": (
        r"\b(high[- ]?scor\w*|best[- ]scor\w*|top[- ]scor\w*|good examples|highly rated)"
        r"( (examples?|traces|rows|ones|answers|responses|conversations|runs))?"
    ),
    "errors": r"\b(errors?|failures?|failed|failing)\b",
}


def preset_match(text: str) -> tuple[str, str] | None:
    """(the preset a request names, the words that name it), or None."""
    lowered = text.lower()
    for preset, pattern in PRESET_PATTERNS.items():
        if m := re.search(pattern, lowered):
            return preset, text[m.start() : m.end()]
    return None


def infer_preset(text: str) -> str | None:
    """The preset a request names ("from the most common inputs", "high-scoring examples", "errors")."""
    found = preset_match(text)
    return found[0] if found else None


def _record_id(span_id: str | None, index: int) -> str:
    # Stable ids: the same log row always becomes the same record id.
    basis = span_id if span_id is not None else f"row-{index}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def to_records(rows: pl.DataFrame) -> pl.DataFrame:
    """Turn log rows (spans or traces, or any SELECT with an ``input`` column) into dataset records.

    ``expected`` is the logged ``expected`` when there is one, else the logged ``output`` (what
    Braintrust does when logs are added to a dataset).
    """
    if "input" not in rows.columns:
        raise ValueError("the rows need an 'input' column to become dataset records")

    def col(name: str, dtype: pl.DataType = _STRING) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in rows.columns else pl.lit(None, dtype)

    span = col("span_id") if "span_id" in rows.columns else col("id")
    expected = pl.coalesce(col("expected"), col("output"))
    records = rows.select(
        input=col("input"),
        expected=expected,
        metadata=col("metadata"),
        tags=col("tags", pl.List(pl.String())),
        origin_span_id=span,
        origin_root_span_id=col("root_span_id"),
    )
    ids = [_record_id(s, i) for i, s in enumerate(records.get_column("origin_span_id").to_list())]
    return records.with_columns(id=pl.Series(ids, dtype=pl.String)).select(list(DATASET_SCHEMA))


def select_rows(
    ctx: ToolContext,
    *,
    where: str | None = None,
    sql: str | None = None,
    preset: str | None = None,
    shape: Literal["traces", "spans"] = "traces",
    limit: int = 100,
    min_score: float = 0.8,
) -> tuple[pl.DataFrame, str]:
    """The rows a dataset would hold and the SQL that selects them."""
    if sql:
        return ctx.engine.sql(sql), sql.strip()
    if preset:
        if preset not in PRESET_SQL:
            raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(PRESET_SQL)}")
        query = PRESET_SQL[preset].format(limit=int(limit), min_score=float(min_score))
        return ctx.engine.sql(query), query
    if where and shape == "traces":
        # Like Braintrust's log filters: a trace matches when any of its spans does. A condition on
        # trace-only columns (has_error, span_count, ...) is applied to the traces view instead.
        try:
            matching = ctx.engine.filter(where, shape="spans").get_column("root_span_id").unique()
        except QueryError:
            return ctx.engine.filter(where, shape="traces"), ctx.engine.where(where, shape="traces")
        traces = ctx.engine.traces
        query = f"SELECT * FROM traces WHERE root_span_id IN (SELECT root_span_id FROM logs WHERE {where})"
        return traces.filter(pl.col("root_span_id").is_in(matching.implode())), query
    if where:
        return ctx.engine.filter(where, shape=shape), ctx.engine.where(where, shape=shape)
    query = "SELECT * FROM traces" if shape == "traces" else "SELECT * FROM logs"
    return (ctx.engine.traces if shape == "traces" else ctx.logs), query


def _preview(frame: pl.DataFrame, rows: int = 5, width: int = 80) -> str:
    lines = []
    for row in frame.head(rows).iter_rows(named=True):
        lines.append(f"  input={(row['input'] or '')[:width]!s}  expected={(row['expected'] or '')[: width // 2]!s}")
    return "\n".join(lines)


def save_dataset(
    records: pl.DataFrame,
    folder: Path,
    name: str,
    *,
    query: str,
    source: str,
    description: str = "",
    version: int | None = None,
) -> tuple[int, Path]:
    """Write ``records`` as a new version of dataset ``name`` under ``folder`` (atomic, new file):
    ``version`` when given and still free, else the next one."""
    name = check_name(name)
    records = records.select([pl.col(c).cast(t) for c, t in DATASET_SCHEMA.items()])

    def meta(version: int) -> dict:
        return {
            "name": name,
            "version": version,
            "rows": records.height,
            "filter": query,
            "source": source,
            "description": description,
            "created_at": datetime.now(UTC).isoformat(),
            "columns": list(DATASET_SCHEMA),
            "file": f"v{version}.parquet",
        }

    return write_version(
        folder / name,
        "parquet",
        lambda path: records.write_parquet(path),
        {"json": json_companion(meta)},
        preferred=version,
    )


@tool(
    side_effects=True,
    phrases=(
        r"\b(create|make|build|save|export)\b.*\b(dataset|eval set|golden set|test set)\b",
        r"\b(dataset|eval set|golden set)\b.*\bfrom\b",
        r"\badd (these|them|the \w+) to a dataset\b",
    ),
)
def create_dataset(
    ctx: ToolContext,
    name: str | None = None,
    where: str | None = None,
    sql: str | None = None,
    description: str = "",
    preset: Preset | None = None,
    level: Literal["traces", "spans"] = "traces",
    limit: int = 100,
) -> ToolResult:
    """Save log rows as a new version of a dataset (input, expected, metadata), after confirmation.

    Rows come from a filter over traces (or spans), a SELECT, or a preset: ``errors`` (traces with
    an error), ``common_inputs`` (one trace per distinct input, most frequent first, up to
    ``limit``), ``high_scores`` (traces whose mean score is at least 0.8). Never overwrites: an
    existing dataset gets a new version.

    Args:
        name: dataset name (letters, digits, _ - .); defaults to the preset's name.
        where: a Braintrust-style filter, e.g. "has_error" or "scores.Factuality > 0.8".
        sql: a read-only SELECT over logs/traces with an input column (instead of where).
        description: what the dataset is for.
        preset: "errors", "common_inputs" or "high_scores" when no where/sql is given.
        level: one record per trace ("traces": traces with any span matching where) or per span.
        limit: rows kept by the common_inputs preset.
    """
    if not (preset or where or sql) and description:
        preset = infer_preset(description)
    # A name from what was asked ("... from logs with errors" -> errors) before the generic one.
    name = name or preset or (infer_preset(description) if description else None) or "dataset"
    try:
        name = check_name(name)
        rows, query = select_rows(ctx, where=where, sql=sql, preset=preset, shape=level, limit=limit)
        records = to_records(rows)
    except (QueryError, ValueError) as exc:
        return ToolResult(f"Cannot create the dataset: {exc}", is_error=True)
    folder = ctx.datasets_dir
    existing = versions(folder / name, "parquet")
    # Proposals still waiting hold their version: a second proposal for the same name previews the
    # one after, and each confirmation writes the version its preview showed (when still free).
    proposals = ctx.cache.setdefault("versioned_proposals", [])
    version = propose_version(proposals, folder / name, "parquet")
    target = folder / name / f"v{version}.parquet"
    source = "logs"
    preview = (
        f"Dataset: {name}\nVersion: v{version}"
        + (f" (v{existing[-1]} exists and is kept)" if existing else "")
        + (
            " (after the proposals still waiting for this name)"
            if version > (existing[-1] if existing else 0) + 1
            else ""
        )
        + "\n"
        f"Path: {target}\nRows: {records.height:,}\nFilter: {query}\n"
        f"Columns: {', '.join(DATASET_SCHEMA)}\nFirst rows:\n{_preview(records)}"
    )
    args = keyword_args({"where": where, "sql": sql, "preset": preset})
    code = (
        "from loop_jupyter.analysis.datasets import create_dataset, load_dataset\n"
        "from loop_jupyter.artifacts import Pending\n\n"
        f"pending = create_dataset(logs, name={literal(name)}{', ' + args if args else ''}).first(Pending)\n"
        "print(pending.preview)\n"
        "pending.action()  # writes the new version\n"
        f"load_dataset({literal(str(folder / name))})"
    )

    def action() -> list:
        new_version, path = save_dataset(
            records, folder, name, query=query, source=source, description=description, version=version
        )
        return [
            Dataset(name, new_version, str(path), records.height, title=f"Dataset {name} v{new_version}"),
            Code(code, title="Reproduce"),
        ]

    pending = Pending(
        action_id=uuid.uuid4().hex,
        description=f"Save {records.height:,} rows as dataset {name} v{version}",
        preview=preview,
        action=action,
        title=f"Create dataset {name}",
    )
    proposals.append((folder / name, version, pending))
    text = (
        f"Ready to save {records.height:,} rows as dataset '{name}' v{version} ({query}). "
        "Waiting for the user to confirm."
    )
    return ToolResult(text, [pending, Table(records.head(20), title=f"First rows of {name}"), Code(code)])


def _resolve(path_or_name: str | Path, version: int | None, datasets_dir: Path | None) -> Path:
    path = Path(path_or_name)
    if path.suffix == ".parquet":
        return path
    folder = path if path.is_dir() else (datasets_dir or Path.cwd() / "loop_datasets") / str(path_or_name)
    if not folder.is_dir():
        raise FileNotFoundError(f"no dataset {path_or_name!r} (looked in {folder})")
    found = versions(folder, "parquet")
    if not found:
        raise FileNotFoundError(f"dataset folder {folder} has no versions")
    version = pick_version(found, version, f"dataset {path_or_name!r}")
    return folder / f"v{version}.parquet"


def load_dataset(
    path_or_name: str | Path, version: int | None = None, *, datasets_dir: Path | None = None
) -> pl.DataFrame:
    """Load a dataset: a ``.parquet`` path, a dataset folder, or a name under ``datasets_dir``
    (default ``./loop_datasets``); the latest version unless ``version`` is given."""
    return pl.read_parquet(_resolve(path_or_name, version, datasets_dir))


def dataset_info(path_or_name: str | Path, version: int | None = None, *, datasets_dir: Path | None = None) -> dict:
    """The metadata saved beside a dataset version (name, version, rows, filter, source, created_at)."""
    path = _resolve(path_or_name, version, datasets_dir)
    meta = path.with_suffix(".json")
    if meta.exists():
        return json.loads(meta.read_text(encoding="utf-8"))
    return {
        "name": path.parent.name,
        "version": int(path.stem[1:]),
        "rows": pl.scan_parquet(path).select(pl.len()).collect().item(),
    }


def datasets_table(datasets_dir: Path) -> pl.DataFrame:
    """One row per dataset version under ``datasets_dir``."""
    rows = []
    if datasets_dir.is_dir():
        for folder in sorted(p for p in datasets_dir.iterdir() if p.is_dir()):
            for version in versions(folder, "parquet"):
                path = folder / f"v{version}.parquet"
                meta_path = path.with_suffix(".json")
                meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
                count = meta.get("rows")
                if count is None:
                    count = pl.scan_parquet(path).select(pl.len()).collect().item()
                rows.append(
                    {
                        "name": folder.name,
                        "version": version,
                        "rows": int(count),
                        "created_at": meta.get("created_at"),
                        "filter": meta.get("filter"),
                        "description": meta.get("description"),
                        "path": str(path),
                    }
                )
    schema = {
        "name": pl.String,
        "version": pl.Int64,
        "rows": pl.Int64,
        "created_at": pl.String,
        "filter": pl.String,
        "description": pl.String,
        "path": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def list_datasets(datasets_dir: str | Path | ToolContext | None = None) -> pl.DataFrame:
    """One row per saved dataset version (name, version, rows, created_at, filter, path).

    ``datasets_dir`` defaults to ``./loop_datasets`` (the folder the tools write to).
    """
    if isinstance(datasets_dir, ToolContext):
        folder = datasets_dir.datasets_dir
    else:
        folder = Path(datasets_dir) if datasets_dir is not None else Path.cwd() / "loop_datasets"
    return datasets_table(folder)


@tool(name="list_datasets", phrases=(r"\b(list|show|which|what)\b.*\bdatasets\b", r"\bmy datasets\b"))
def show_datasets(ctx: ToolContext) -> ToolResult:
    """List the saved datasets and their versions (rows, filter, created at)."""
    table = datasets_table(ctx.datasets_dir)
    code = f"import loop_jupyter as lj\n\nlj.list_datasets({literal(str(ctx.datasets_dir))})"
    if table.height == 0:
        return ToolResult(f"No datasets saved yet under {ctx.datasets_dir}.", [Table(table), Code(code)])
    lines = [f"{table.height} dataset versions under {ctx.datasets_dir}:"]
    for row in table.head(20).iter_rows(named=True):
        lines.append(f"- {row['name']} v{row['version']}: {row['rows']:,} rows ({row['filter']})")
    return ToolResult("\n".join(lines), [Table(table, title="Datasets"), Code(code)])


__all__ = [
    "create_dataset",
    "dataset_info",
    "datasets_table",
    "list_datasets",
    "load_dataset",
    "show_datasets",
    "to_records",
]
