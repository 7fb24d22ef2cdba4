"""The sandboxed SQL engine: DuckDB over the Polars span frame, returning Polars.

Models write these queries, so every query is checked on its sqlglot AST (one read-only SELECT
over the known views) and runs on a DuckDB connection with external access off and its
configuration locked, under a row limit and a time limit.

Braintrust-style filters work unchanged: ``scores.Factuality < 0.5``, ``metadata.user = 'x'``,
``span_attributes.type = 'llm'``, ``'production' IN tags``, ``tags INCLUDES 'beta'``,
``created > now() - interval 5 day``.
"""

from __future__ import annotations

import atexit
import gc
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import sqlglot
from sqlglot import exp

from .annotations import VIEW_SCHEMA as _ANNOTATION_VIEW
from .annotations import ViewSource
from .schema import JSON_FIELDS, SCHEMA
from .sql_guard import QueryError, check_tree, guard_sizes, max_query_chars, parse_query

Shape = Literal["spans", "traces"]

DEFAULT_ROW_LIMIT = 100_000
DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MEMORY_LIMIT = "6GB"

#: Derived columns that stand for Braintrust's nested fields (typed, so no JSON parsing); the
#: ClickHouse dialect reads the same table (through ``json_access``).
_FIELD_ALIASES: dict[tuple[str, str], str] = {
    ("span_attributes", "name"): "name",
    ("span_attributes", "type"): "type",
    ("metrics", "prompt_tokens"): "prompt_tokens",
    ("metrics", "completion_tokens"): "completion_tokens",
    ("metrics", "tokens"): "tokens",
    ("metrics", "estimated_cost"): "cost",
}
_NUMERIC_FIELDS = {"scores", "metrics"}

_TRACES_SQL = """
WITH agg AS (
  SELECT root_span_id,
    count(*)::BIGINT AS span_count,
    count(error)::BIGINT AS error_count,
    count(*) FILTER (WHERE type = 'llm')::BIGINT AS llm_calls,
    count(*) FILTER (WHERE type = 'tool')::BIGINT AS tool_calls,
    sum(tokens)::BIGINT AS total_tokens,
    sum(prompt_tokens)::BIGINT AS total_prompt_tokens,
    sum(completion_tokens)::BIGINT AS total_completion_tokens,
    sum(cost) AS total_cost,
    list_sort(list_distinct(list(model) FILTER (WHERE model IS NOT NULL))) AS models,
    max(depth) AS max_depth,
    min("start") AS first_start,
    max("end") AS last_end
  FROM logs_rows GROUP BY root_span_id
), roots AS (
  -- the first root span of each trace, found on (root_span_id, _row) only: a window over all
  -- columns of the root spans held their text in DuckDB's memory (+100 MB on 1M spans)
  SELECT l.* FROM logs_rows l SEMI JOIN (
    SELECT min(_row) AS _row FROM logs_rows WHERE is_root GROUP BY root_span_id
  ) first_root USING (_row)
)
SELECT
  agg.root_span_id,
  r.id, r.span_id, coalesce(r.created, agg.first_start) AS created,
  r.input, r.output, r.expected, r.error, coalesce(r.tags, []) AS tags, r.scores, r.metadata, r.metrics,
  r.span_attributes, r.name, r.type,
  coalesce(r."start", agg.first_start) AS "start",
  coalesce(r."end", agg.last_end) AS "end",
  coalesce(r.duration, epoch_us(agg.last_end - agg.first_start) / 1e6) AS duration,
  coalesce(json_extract_string(r.metadata, '$.user'), json_extract_string(r.metadata, '$.user_id')) AS "user",
  agg.span_count, agg.error_count, agg.error_count > 0 AS has_error,
  agg.llm_calls, agg.tool_calls, agg.total_tokens, agg.total_prompt_tokens, agg.total_completion_tokens,
  agg.total_cost, agg.models, agg.max_depth
FROM agg LEFT JOIN roots r USING (root_span_id)
ORDER BY created DESC NULLS LAST, root_span_id
"""

#: Columns of the ``traces`` view, documented in docs/schema.md.
TRACE_COLUMNS: tuple[str, ...] = (
    "root_span_id",
    "id",
    "span_id",
    "created",
    "input",
    "output",
    "expected",
    "error",
    "tags",
    "scores",
    "metadata",
    "metrics",
    "span_attributes",
    "name",
    "type",
    "start",
    "end",
    "duration",
    "user",
    "span_count",
    "error_count",
    "has_error",
    "llm_calls",
    "tool_calls",
    "total_tokens",
    "total_prompt_tokens",
    "total_completion_tokens",
    "total_cost",
    "models",
    "max_depth",
)


def _json_path(keys: Iterable[str]) -> str:
    return "$" + "".join('."' + key.replace('"', '\\"') + '"' for key in keys)


def _column_parts(column: exp.Column) -> list[str]:
    return [part.name for part in column.parts]


def dot_parts(node: exp.Dot) -> list[str]:
    """The names of a dotted chain over a column (``a.b.c.d``); [] when it is over something else."""
    parts: list[str] = []
    inner: exp.Expression = node
    while isinstance(inner, exp.Dot):
        parts.insert(0, inner.expression.name)
        inner = inner.this
    return _column_parts(inner) + parts if isinstance(inner, exp.Column) else []


def json_access(
    parts: list[str], table_names: set[str], extract: Callable[[str, list[str], bool], exp.Expression]
) -> exp.Expression | None:
    """Braintrust's dotted access ``field.key...`` (``table.`` in front allowed) on a JSON field,
    in any engine: a typed column where one stands for it, else ``extract(field, keys, numeric)``
    (the engine's own extraction; ``numeric``: scores and metrics, compared as numbers). None when
    ``parts`` is not JSON access."""
    if parts[0].lower() in table_names and len(parts) > 2:
        parts = parts[1:]
    field = parts[0].lower()
    if field not in JSON_FIELDS or len(parts) < 2:
        return None
    keys = parts[1:]
    alias = _FIELD_ALIASES.get((field, keys[0])) if len(keys) == 1 else None
    if alias:
        return exp.column(alias, quoted=True)
    return extract(field, keys, field in _NUMERIC_FIELDS)


def _duckdb_json(field: str, keys: list[str], numeric: bool) -> exp.Expression:
    extract = exp.func("json_extract_string", exp.column(field), exp.Literal.string(_json_path(keys)))
    if numeric:
        return exp.TryCast(this=extract, to=exp.DataType.build("DOUBLE"))
    extract.meta["json_text"] = True
    return extract


class _Rewriter:
    """Turns Braintrust's dotted JSON access and tag tests into DuckDB expressions."""

    def __init__(self, table_names: set[str]) -> None:
        self.table_names = {name.lower() for name in table_names}

    def __call__(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Dot) and isinstance(node.this, exp.Column | exp.Dot):
            parts = dot_parts(node)
            if parts:
                return self._json_access(parts) or node
        if isinstance(node, exp.Column) and not isinstance(node.parent, exp.Dot):
            parts = _column_parts(node)
            if len(parts) >= 2:
                return self._json_access(parts) or node
        if isinstance(node, exp.In) and node.args.get("field") is not None:
            field = node.args["field"]
            if isinstance(field, exp.Column) and field.name.lower() == "tags":
                return exp.func("list_contains", field.copy(), node.this.copy())
        return node

    def _json_access(self, parts: list[str]) -> exp.Expression | None:
        return json_access(parts, self.table_names, _duckdb_json)


def _cast_json_compared_to_numbers(tree: exp.Expression) -> exp.Expression:
    """``metadata.turns > 3`` compares a number: extract it as DOUBLE rather than text."""
    comparisons = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
    for node in tree.find_all(*comparisons):
        for side, other in (("this", node.expression), ("expression", node.this)):
            value = node.args.get(side)
            if (
                isinstance(value, exp.Anonymous | exp.Func)
                and value.meta.get("json_text")
                and isinstance(other, exp.Literal)
                and not other.is_string
            ):
                node.set(side, exp.TryCast(this=value.copy(), to=exp.DataType.build("DOUBLE")))
    return tree


def _arrow_view(frame: pl.DataFrame, *, row_index: bool = False) -> pa.Table:
    """``frame`` as an Arrow table sharing Polars' buffers, plus a ``_row`` position column.

    Registering the Polars frame itself made DuckDB export it with ``large_string`` (every string
    copied out of Polars' views) and ``with_row_index`` added a one-chunk column that forced all
    columns into one chunk: +1.0 GB on 1M spans. String views (``CompatLevel.newest()``) export
    without a copy, and ``_row`` is cut into the frame's own chunks (zero-copy slices).
    """
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    if not row_index:
        return table
    index_type = pa.uint64() if pl.get_index_type() == pl.UInt64 else pa.uint32()
    rows = pa.array(np.arange(table.num_rows, dtype=index_type.to_pandas_dtype()), type=index_type)
    lengths = [len(chunk) for chunk in table.column(0).chunks] if table.num_columns else [table.num_rows]
    chunks, start = [], 0
    for length in lengths:
        chunks.append(rows.slice(start, length))
        start += length
    return table.append_column("_row", pa.chunked_array(chunks, type=index_type))


class LogEngine:
    """DuckDB views ``logs`` (spans) and ``traces`` over one frame, plus any named sources, plus
    ``annotations`` (the labels and notes saved under ``annotations_dir``, default
    ``./loop_annotations``; see :mod:`loop_jupyter.annotations`) unless a source has that name.

    Thread-safe: one query at a time per engine.
    """

    def __init__(
        self,
        logs: pl.DataFrame,
        *,
        sources: dict[str, pl.DataFrame] | None = None,
        row_limit: int = DEFAULT_ROW_LIMIT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        annotations_dir: Path | None = None,
    ) -> None:
        self.logs = logs
        self.row_limit = row_limit
        self.timeout_s = timeout_s
        self._lock = threading.RLock()
        self._traces: pl.DataFrame | None = None
        self._con = duckdb.connect(
            config={
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "memory_limit": memory_limit,
                # Spill to the system temp folder, not a `.tmp/` in the user's working directory.
                "temp_directory": str(Path(tempfile.gettempdir()) / "loop_jupyter_duckdb"),
            }
        )
        self._con.execute("SET TimeZone = 'UTC'")
        # No progress bar of DuckDB's own in the notebook, the terminal or --json output.
        self._con.execute("SET enable_progress_bar_print = false")
        self._con.register("logs_rows", _arrow_view(logs, row_index=True))
        self._con.execute("CREATE VIEW logs AS SELECT * EXCLUDE (_row) FROM logs_rows")
        self.source_names = {"logs", "traces"}
        for name, frame in (sources or {}).items():
            if not re.fullmatch(r"[A-Za-z_]\w*", name) or name in self.source_names:
                raise ValueError(f"source name {name!r} must be an identifier other than logs/traces")
            self._con.register(name, _arrow_view(frame) if isinstance(frame, pl.DataFrame) else frame)
            self.source_names.add(name)
        self._annotations: ViewSource | None = None
        if "annotations" not in self.source_names:
            self._annotations = ViewSource(annotations_dir)
            self._con.register("annotations", _arrow_view(pl.DataFrame(schema=_ANNOTATION_VIEW)))
            self.source_names.add("annotations")
        self._con.execute("SET lock_configuration = true")

    # -- the traces view -------------------------------------------------------------------------
    @property
    def traces(self) -> pl.DataFrame:
        """One row per trace: root fields plus duration, span/error/LLM/tool counts, tokens, models, user."""
        with self._lock:
            if self._traces is None:
                self._traces = self._con.sql(_TRACES_SQL).pl()
                self._con.register("traces", _arrow_view(self._traces))
            return self._traces

    def _prepare(self, sql: str) -> None:
        """Make the views ``sql`` reads ready before it runs (the traces view is built on first use).
        Engines over a persisted store (loop_jupyter.sources) have every view already."""
        lowered = sql.lower()
        if "traces" in lowered:
            _ = self.traces
        if self._annotations is not None and "annotations" in lowered:
            self.refresh_annotations()

    def refresh_annotations(self) -> None:
        """Re-read the ``annotations`` view when its folder has a new version (cheap otherwise)."""
        with self._lock:
            rows = self._annotations.refresh() if self._annotations is not None else None
            if rows is not None:
                self._con.register("annotations", _arrow_view(rows))

    # -- checking --------------------------------------------------------------------------------
    def check(self, query: str) -> str:
        """Validate and rewrite a query; returns the DuckDB SQL to run or raises QueryError."""
        tree = parse_query(query, max_chars=max_query_chars(self.timeout_s))
        try:
            check_tree(tree, self.source_names, query)
            rewritten = tree.transform(_Rewriter(self.source_names | self._aliases(tree)))
            rewritten = guard_sizes(_cast_json_compared_to_numbers(rewritten))
            return rewritten.sql(dialect="duckdb")
        except RecursionError:
            raise QueryError("the query is nested too deeply to check: write it flatter", query) from None

    def _aliases(self, tree: exp.Expression) -> set[str]:
        return {t.alias_or_name for t in tree.find_all(exp.Table) if t.alias_or_name}

    # -- running ---------------------------------------------------------------------------------
    def _interrupt_after(self, finished: threading.Event, budget_s: float) -> None:
        """Past the time limit, interrupt the query, and keep interrupting until it has stopped: a
        single interrupt can land before DuckDB starts executing and be lost."""
        if finished.wait(budget_s):
            return
        while not finished.is_set():
            self._con.interrupt()
            finished.wait(0.2)

    def _run(self, sql: str, original: str, limit: int, started: float) -> tuple[pl.DataFrame, bool]:
        """Run checked SQL; ``started`` is when checking began (time.monotonic()): checking and
        parsing count against the time limit too."""
        with self._lock:
            spent = time.monotonic() - started
            if spent >= self.timeout_s:
                raise QueryError(
                    f"query stopped after the {self.timeout_s:g} s time limit (checking it took {spent:.1f} s)",
                    original,
                )
            self._prepare(sql)
            finished = threading.Event()
            watchdog = threading.Thread(
                target=self._interrupt_after, args=(finished, self.timeout_s - spent), daemon=True
            )
            watchdog.start()
            try:
                reader = self._con.sql(sql).to_arrow_reader(batch_size=min(limit + 1, 100_000))
                batches, rows = [], 0
                for batch in reader:
                    batches.append(batch)
                    rows += batch.num_rows
                    if rows > limit:
                        break

                table = pa.Table.from_batches(batches, schema=reader.schema)
            except duckdb.InterruptException:
                raise QueryError(f"query stopped after the {self.timeout_s:g} s time limit", original) from None
            except duckdb.OutOfMemoryException:
                raise QueryError("query stopped: it needs more memory than the engine's limit", original) from None
            except duckdb.Error as exc:
                raise QueryError(f"query failed: {str(exc).splitlines()[0]}", original) from None
            finally:
                finished.set()
                watchdog.join()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        truncated = frame.height > limit
        return (frame.head(limit) if truncated else frame), truncated

    def sql(self, query: str, *, limit: int | None = None) -> pl.DataFrame:
        """Run one read-only SELECT over ``logs``, ``traces`` and the named sources.

        Raises QueryError when the query is refused, fails, or returns more than the row limit
        (say ``LIMIT`` or aggregate).
        """
        limit = self.row_limit if limit is None else limit
        started = time.monotonic()
        frame, truncated = self._run(self.check(query), query, limit, started)
        if truncated:
            raise QueryError(f"the query returns more than {limit:,} rows: add a LIMIT or aggregate", query)
        return frame

    def where(self, condition: str, *, shape: Shape = "spans") -> str:
        """Validate a WHERE condition; returns the full SELECT it stands for."""
        table = "traces" if shape == "traces" else "logs"
        query = f"SELECT * FROM {table} WHERE {condition}"
        try:
            tree = self.check(query)
        except QueryError as exc:
            if exc.reason.startswith("exactly one statement"):  # parsed, so a ';' in a string is no separator
                raise QueryError("a filter is one condition, not several statements", condition) from None
            raise
        try:
            parsed = sqlglot.parse_one(tree, read="duckdb")
        except RecursionError:
            raise QueryError("the filter is nested too deeply to check: write it flatter", condition) from None
        if not isinstance(parsed, exp.Select) or any(parsed.args.get(k) for k in ("joins", "limit", "group")):
            raise QueryError("a filter is a single WHERE condition", condition)
        return tree

    def filter_ids(self, condition: str, *, shape: Shape = "spans") -> pl.Series:
        """Row positions in ``logs`` (spans) or ``traces`` matching a WHERE condition."""
        started = time.monotonic()
        select = self.where(condition, shape=shape)
        table = "traces_rows" if shape == "traces" else "logs_rows"
        if shape == "traces":
            with self._lock:
                if "traces_rows" not in self.source_names:
                    self._con.register("traces_rows", _arrow_view(self.traces, row_index=True))
        body = select.split(" WHERE ", 1)[1]
        frame, _ = self._run(f"SELECT _row FROM {table} WHERE {body} ORDER BY _row", condition, 10**12, started)
        return frame.get_column("_row")

    def filter(self, condition: str, *, shape: Shape = "spans") -> pl.DataFrame:
        """The spans (or traces) matching a Braintrust-style WHERE condition, as Polars."""
        rows = self.filter_ids(condition, shape=shape)
        source = self.traces if shape == "traces" else self.logs
        return source[rows]

    def count(self, condition: str, *, shape: Shape = "spans") -> int:
        return len(self.filter_ids(condition, shape=shape))


_ENGINES: dict[int, tuple[pl.DataFrame, LogEngine]] = {}


@atexit.register
def _release_engines() -> None:
    # DuckDB objects still referenced when the interpreter tears down make nanobind print leak
    # reports; drop the cache and collect first.
    _ENGINES.clear()
    gc.collect()


def engine_for(frame: pl.DataFrame) -> LogEngine:
    """A cached engine for a frame (the last few frames used), so repeated queries are cheap."""
    entry = _ENGINES.get(id(frame))
    if entry is None or entry[0] is not frame:
        if len(_ENGINES) >= 4:
            _ENGINES.pop(next(iter(_ENGINES)))
        entry = (frame, LogEngine(frame))
        _ENGINES[id(frame)] = entry
    return entry[1]


def sql(frame: pl.DataFrame, query: str, *, limit: int | None = None) -> pl.DataFrame:
    """Run one sandboxed, read-only SELECT over views ``logs`` and ``traces`` of ``frame``."""
    return engine_for(frame).sql(query, limit=limit)


def filter(frame: pl.DataFrame, where: str, *, shape: Shape = "spans") -> pl.DataFrame:
    """Rows of ``frame`` (spans) or of its traces view matching a Braintrust-style WHERE condition."""
    return engine_for(frame).filter(where, shape=shape)


def traces(frame: pl.DataFrame) -> pl.DataFrame:
    """The traces view of a frame (one row per trace)."""
    return engine_for(frame).traces


__all__ = ["SCHEMA", "TRACE_COLUMNS", "LogEngine", "QueryError", "engine_for", "filter", "sql", "traces"]
