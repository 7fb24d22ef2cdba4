"""The core tools: SQL, filters, the schema, and reading/grepping inside large JSON fields.

Every tool returns bounded text for the model and artifacts for the person, always including the
code that reproduces the result in a notebook cell (``import loop_jupyter as lj``). The helpers
``frame_preview`` and ``clip`` (:mod:`loop_jupyter.tools.text`) are shared with the agent's
budgeting and analysis tools so that no cell of a 10 MB span ever reaches a model whole.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import polars as pl

from ..artifacts import Code, SqlFilter, Table, ToolResult
from ..engine import TRACE_COLUMNS, QueryError
from ..schema import JSON_FIELDS, SCHEMA
from ..snippet import literal
from .registry import ToolContext, tool
from .text import cell_text, clip, frame_preview, sql_literal
from .working_set import FILTER_ROWS

#: Rows of a store read for describe_schema's example values.
EXAMPLE_ROWS = 2_000
#: Upper bound of one read_field slice.
MAX_SLICE = 16_000

#: Columns shown in the sample of a filter, when present.
SAMPLE_SPAN_COLUMNS = ("id", "root_span_id", "created", "name", "type", "duration", "model", "tokens", "error")
SAMPLE_TRACE_COLUMNS = (
    "root_span_id",
    "created",
    "name",
    "duration",
    "user",
    "span_count",
    "has_error",
    "total_tokens",
)


def _q(value: Any) -> str:
    """A Python literal for generated code (never the raw value: see :mod:`loop_jupyter.snippet`)."""
    return literal(value)


# -- run_sql -----------------------------------------------------------------------------------------
@tool
def run_sql(ctx: ToolContext, query: str) -> ToolResult:
    """Run one read-only SQL SELECT (DuckDB dialect) over the views `logs` (one row per span) and
    `traces` (one row per trace), plus any other enabled data source by name.

    Braintrust-style field access works: `scores.Factuality < 0.5`, `metadata.user = 'x'`,
    `span_attributes.type = 'llm'`, `'production' IN tags`, `created > now() - interval 5 day`.
    Aggregate or add LIMIT for big results; the person gets the full table, you get a preview.

    Args:
        query: the SELECT statement.
    """
    code = Code(f"import loop_jupyter as lj\n\nresult = lj.sql(logs, {_q(query)})\nresult", title="Reproduce")
    try:
        frame = ctx.sql(query)
    except QueryError as exc:
        return ToolResult(f"Query error: {exc.reason}", [code], is_error=True)
    return ToolResult(frame_preview(frame), [Table(frame, title="Query result"), code])


# -- generate_filter ---------------------------------------------------------------------------------
@tool
def generate_filter(
    ctx: ToolContext, description: str, where: str, shape: Literal["spans", "traces"] = "spans"
) -> ToolResult:
    """Turn a plain-language description into a Braintrust-style SQL WHERE condition: it is
    validated and executed, and the person gets the filter with its match count and a sample.

    Use shape "spans" to filter the `logs` view (one row per span: type, name, duration, model,
    tokens, error, scores.*, metadata.*, tags, created) and "traces" to filter the `traces` view
    (one row per trace: duration, user, span_count, error_count, has_error, llm_calls, tool_calls,
    total_tokens, total_cost, models, plus the root span's fields).

    Args:
        description: what the filter selects, in the user's words.
        where: the condition only, without the WHERE keyword, e.g. "type = 'llm' AND duration > 60".
        shape: "spans" or "traces".
    """
    code = Code(
        f"import loop_jupyter as lj\n\nmatches = lj.filter(logs, {_q(where)}, shape={_q(shape)})\nmatches",
        title="Reproduce",
    )
    id_column = "root_span_id" if shape == "traces" else "id"
    wanted = SAMPLE_TRACE_COLUMNS if shape == "traces" else SAMPLE_SPAN_COLUMNS
    try:
        # From a store: the exact count, and the first FILTER_ROWS rows (ids and table) only, of
        # the columns shown (whole rows read every span's text: past 20 s at 10M spans).
        if ctx.pushdown and hasattr(ctx.source, "select_columns"):
            known = TRACE_COLUMNS if shape == "traces" else tuple(SCHEMA)
            shown = tuple(c for c in dict.fromkeys((id_column, *wanted)) if c in known)
            rows = ctx.source.select_columns(shown, where, shape=shape, limit=FILTER_ROWS)
        else:
            rows = ctx.rows(where, shape=shape, limit=FILTER_ROWS if ctx.pushdown else None)
        matched = ctx.count(where, shape=shape) if ctx.pushdown else rows.height
    except QueryError as exc:
        return ToolResult(f"Filter error: {exc.reason}\nWHERE {where}", [code], is_error=True)
    ids = rows.get_column(id_column).to_list()
    sample = rows.select([c for c in wanted if c in rows.columns]).head(20)
    noun = shape if matched != 1 else shape[:-1]
    text = f"{matched:,} {noun} match ({description}).\nWHERE {where}\nSample:\n{frame_preview(sample.head(5))}"
    if matched > rows.height:
        text += f"\n(ids and table: the first {rows.height:,} of {matched:,} {shape})"
    artifacts = [
        SqlFilter(where, shape, matched, ids, title=description),
        Table(rows.select([c for c in wanted if c in rows.columns]), title=f"Matching {shape}"),
        code,
    ]
    return ToolResult(text, artifacts)


# -- describe_schema ---------------------------------------------------------------------------------
def _json_keys_sql(field: str, limit: int = 40) -> str:
    return (
        f"SELECT k, count(*) AS n FROM (SELECT unnest(json_keys({field})) AS k FROM logs "
        f"WHERE {field} IS NOT NULL AND json_type({field}) = 'OBJECT') GROUP BY k ORDER BY n DESC, k LIMIT {limit}"
    )


def _example(series: pl.Series, limit: int = 60) -> str:
    values = series.drop_nulls()
    if values.dtype == pl.List(pl.String()):
        values = values.filter(values.list.len() > 0)
    if values.len() == 0:
        return "(all null)"
    return cell_text(values[0], limit)


def schema_summary(ctx: ToolContext, *, keys: int = 40) -> dict[str, Any]:
    """Facts about the logs that stay small whatever their size (used by the system prompt too)."""
    if ctx.pushdown:  # counts and the time range from the store, not from a sample
        stats = ctx.source.stats()
        spans, traces = stats.spans, stats.traces
        time_range = (str(stats.first), str(stats.last)) if stats.first is not None else None
    else:
        logs = ctx.logs
        spans = logs.height
        traces = logs.get_column("root_span_id").n_unique() if spans else 0
        created = logs.get_column("created").drop_nulls()
        time_range = (str(created.min()), str(created.max())) if created.len() else None
    facts: dict[str, Any] = {"spans": spans}
    if spans == 0:
        facts.update(traces=0, score_keys=[], metadata_keys=[], types=[], models=[], tags=[], time_range=None)
        return facts
    facts["traces"] = traces
    vocab = getattr(ctx.source, "vocabulary", lambda: None)() if ctx.pushdown else None

    def counts(kind: str, limit: int, sql: str, drop_null: bool = False) -> list[tuple[Any, int]]:
        stored = _stored_counts(vocab, kind, limit, drop_null) if vocab is not None else None
        return stored if stored is not None else ctx.sql(sql).rows()

    facts["score_keys"] = counts("score_key", keys, _json_keys_sql("scores", keys))
    facts["metadata_keys"] = counts("meta_key", keys, _json_keys_sql("metadata", keys))
    # Ties in the counts go by value (NULL last), the order the stored vocabulary gives too.
    facts["types"] = counts(
        "type", 20, "SELECT type, count(*) AS n FROM logs GROUP BY type ORDER BY n DESC, type NULLS LAST LIMIT 20"
    )
    facts["models"] = counts(
        "model",
        20,
        "SELECT model, count(*) AS n FROM logs WHERE model IS NOT NULL GROUP BY model "
        "ORDER BY n DESC, model NULLS LAST LIMIT 20",
        drop_null=True,
    )
    facts["tags"] = counts(
        "tag",
        20,
        "SELECT t, count(*) AS n FROM (SELECT unnest(tags) AS t FROM logs) GROUP BY t "
        "ORDER BY n DESC, t NULLS LAST LIMIT 20",
    )
    facts["time_range"] = time_range
    return facts


def _stored_counts(vocab: Any, kind: str, limit: int, drop_null: bool) -> list[tuple[Any, int]] | None:
    """``(value, spans)`` of a kind from a store's stored vocabulary (None: not kept, ask the spans)."""
    from ..sources.vocab import top_counts

    values = vocab.values(kind)
    return None if values is None else top_counts(values, limit, drop_null=drop_null)


@tool(phrases=(r"\b(schema|columns|fields|what (data|fields|columns)|describe (the )?(logs|data))\b",))
def describe_schema(ctx: ToolContext) -> ToolResult:
    """Describe the logs: columns with types and example values, the score and metadata keys
    present, span types, models, tags, counts and time range. Call this first when unsure which
    fields exist."""
    facts = schema_summary(ctx)
    # Example values: from a large store, its first rows (not a sample: no sampling note).
    large = ctx.pushdown and facts["traces"] > ctx.sample_traces
    logs = ctx.source.filter(limit=EXAMPLE_ROWS) if large else ctx.logs
    rows = [
        {"column": name, "type": str(dtype), "example": _example(logs.get_column(name))}
        for name, dtype in logs.schema.items()
    ]
    table = pl.DataFrame(rows, schema={"column": pl.String, "type": pl.String, "example": pl.String})
    lines = [
        f"{facts['spans']:,} spans in {facts['traces']:,} traces"
        + (f", created {facts['time_range'][0]} to {facts['time_range'][1]}" if facts.get("time_range") else ""),
        "Views: logs (one row per span), traces (one row per trace: " + ", ".join(TRACE_COLUMNS) + ")",
        "Columns of logs:",
        *(f"  {r['column']} ({r['type']}): e.g. {r['example']}" for r in rows),
        "Score keys (scores.<key>): " + (", ".join(f"{k} ({n:,})" for k, n in facts["score_keys"]) or "none"),
        "Metadata keys (metadata.<key>): " + (", ".join(f"{k} ({n:,})" for k, n in facts["metadata_keys"]) or "none"),
        "Span types: " + ", ".join(f"{t} ({n:,})" for t, n in facts["types"]),
        "Models: " + (", ".join(f"{m} ({n:,})" for m, n in facts["models"]) or "none"),
        "Tags: " + (", ".join(f"{t} ({n:,})" for t, n in facts["tags"]) or "none"),
    ]
    for name, frame in ctx.sources.items():
        lines.append(f"Source {name}: {frame.height:,} rows; columns {', '.join(frame.columns)}")
    code = Code("import loop_jupyter as lj\n\nlogs.schema", title="Reproduce")
    return ToolResult("\n".join(lines), [Table(table, title="Schema"), code])


# -- read_field / grep_field -------------------------------------------------------------------------
_FIELDS = tuple(SCHEMA)


def _find_span(ctx: ToolContext, span_id: str) -> dict[str, Any] | None:
    if ctx.pushdown:  # read that span alone from the store
        key = sql_literal(span_id)
        match = ctx.sql(f"SELECT * FROM logs WHERE span_id = {key} OR id = {key} LIMIT 1")
        if match.height == 0:
            match = ctx.sql(f"SELECT * FROM logs WHERE root_span_id = {key} AND is_root LIMIT 1")
        return match.row(0, named=True) if match.height else None
    logs = ctx.logs
    match = logs.filter((pl.col("span_id") == span_id) | (pl.col("id") == span_id))
    if match.height == 0:
        match = logs.filter(pl.col("root_span_id") == span_id).filter(pl.col("is_root"))
    return match.row(0, named=True) if match.height else None


def _path_value(text: str, path: list[str]) -> str:
    """Follow ``a.b.0.c`` inside JSON text; returns the JSON text (or plain string) found there."""
    try:
        value: Any = json.loads(text)
    except RecursionError:  # JSON nested ~1,000 deep loads (orjson), but Python's json stops short
        raise ValueError("the JSON is nested too deeply to follow a path") from None
    for key in path:
        if isinstance(value, list) and re.fullmatch(r"-?\d+", key):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            raise KeyError(key)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _field_text(row: dict[str, Any], field: str) -> str:
    base, *path = re.split(r"\.|\[(\d+)\]", field)
    path = [p for p in path if p]
    if base not in row:
        raise KeyError(base)
    value = row[base]
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if path:
        if base not in JSON_FIELDS:
            raise KeyError(field)
        return _path_value(text, path)
    return text


@tool(phrases=(r"\bread (the )?(field|input|output|metadata)\b",))
def read_field(ctx: ToolContext, span_id: str, field: str, offset: int = 0, length: int = 4000) -> ToolResult:
    """Read a slice of one span's field (a large input or output is read piece by piece, never whole).

    Args:
        span_id: the span's id or span_id (a root_span_id reads the trace's root span).
        field: a column such as input, output, metadata, error; a JSON path like input.messages.0.content
            reads inside it.
        offset: character offset to start from.
        length: characters to read (at most 16000).
    """
    length = max(1, min(int(length), MAX_SLICE))
    offset = max(0, int(offset))
    code = Code(
        "from loop_jupyter.tools.core import read_field\n\n"
        f"result = read_field(logs, {_q(span_id)}, {_q(field)}, offset={_q(offset)}, length={_q(length)})\n"
        "result.text",
        title="Reproduce",
    )
    row = _find_span(ctx, span_id)
    if row is None:
        return ToolResult(f"No span with id or span_id {span_id!r}.", [code], is_error=True)
    try:
        text = _field_text(row, field)
    except (KeyError, IndexError, ValueError):
        fields = ", ".join(_FIELDS)
        return ToolResult(f"Span {span_id} has no field {field!r} (fields: {fields}).", [code], is_error=True)
    piece = text[offset : offset + length]
    end = offset + len(piece)
    more = f"; read on with offset={end}" if end < len(text) else "; end of field"
    header = f"{field} of span {span_id}: characters {offset:,}-{end:,} of {len(text):,}{more}"
    return ToolResult(f"{header}\n{piece}", [code])


_CASELESS = "(?i)"
#: Marks the matches in the text Polars hands back (a private-use character; in the text itself it
#: is read as U+FFFD for the search, one character for one, so offsets stay exact).
_MARK = "\ue000"
_CHUNK_ROWS = 512
_LONE = re.compile("[\ud800-\udfff]")


def _rust_matches(rows: Any, field: str, pattern: str) -> Any:
    """(row, field text, [(start, end), ...]) for each row whose ``field`` holds a match of
    ``pattern`` (case-insensitive), found by Polars' Rust regex in linear time: each match is
    wrapped in :data:`_MARK` by ``replace_all`` and the offsets are read off the pieces."""
    batch: list[tuple[dict[str, Any], str]] = []

    def flush() -> Any:
        # Lone surrogates (a JSON path can reach an escaped "\ud83d") as U+FFFD too: Polars holds
        # UTF-8. One character for one: the offsets and the context shown are those of this text.
        texts = [_LONE.sub("\ufffd", t.replace(_MARK, "\ufffd")) for _, t in batch]
        marked = pl.Series(texts, dtype=pl.String).str.replace_all(_CASELESS + pattern, f"{_MARK}${{0}}{_MARK}")
        for (row, _), text, shown in zip(batch, texts, marked.to_list(), strict=True):
            pieces, matches, at = (shown or "").split(_MARK), [], 0
            for index, piece in enumerate(pieces):
                if index % 2:
                    matches.append((at, at + len(piece)))
                at += len(piece)
            if matches:
                yield row, text, matches
        batch.clear()

    for row in rows:
        try:
            batch.append((row, _field_text(row, field)))
        except (KeyError, IndexError, ValueError):
            continue
        if len(batch) >= _CHUNK_ROWS:
            yield from flush()
    if batch:
        yield from flush()


@tool(phrases=(r"\b(grep|search|contain(s|ing)?|mention(s|ing)?)\b",))
def grep_field(
    ctx: ToolContext,
    pattern: str,
    field: str = "input",
    span_id: str | None = None,
    context: int = 80,
    limit: int = 20,
) -> ToolResult:
    """Find a regular expression inside a JSON field (case-insensitive) and show each match with
    surrounding context, across all spans or within one span: the way to explore huge inputs.

    Args:
        pattern: a regular expression (Python-like syntax without look-around or back-references).
        field: the column to search: input, output, expected, error, metadata, ...
        span_id: search only this span (id or span_id); all spans when omitted.
        context: characters shown either side of each match.
        limit: how many matches to return at most.
    """
    context = max(0, min(int(context), 1000))
    limit = max(1, min(int(limit), 200))
    base = field.split(".")[0]
    code = Code(
        "import re\nimport loop_jupyter as lj\n\n"
        f"hits = logs.filter(logs[{_q(base)}].str.contains({_q('(?i)' + pattern)}))\nhits",
        title="Reproduce",
    )
    try:
        pl.Series([""], dtype=pl.String).str.contains(_CASELESS + pattern)
    except pl.exceptions.PolarsError as exc:
        lines = str(exc).strip().splitlines()
        shown = next((line for line in lines if line.startswith("error:")), lines[0] if lines else type(exc).__name__)
        return ToolResult(
            f"Invalid regular expression {pattern!r} (Rust regex syntax: no look-around or back-references): "
            f"{clip(shown.removeprefix('error: '), 300)}",
            [code],
            is_error=True,
        )
    if base not in ctx.logs.columns:
        return ToolResult(f"No field {base!r} (fields: {', '.join(ctx.logs.columns)}).", [code], is_error=True)
    logs = ctx.logs
    if span_id is not None:
        logs = logs.filter((pl.col("span_id") == span_id) | (pl.col("id") == span_id))
        if logs.height == 0:
            return ToolResult(f"No span with id or span_id {span_id!r}.", [code], is_error=True)
    column = pl.col(base) if logs.schema[base] == pl.String else pl.col(base).cast(pl.String)
    # Rust's regex engine (Polars) does the prefilter and finds the positions: linear time in the
    # text whatever the pattern. Python's backtracking re took exponential time on a pattern like
    # (a+)+b over a crafted field, and held the kernel (a log line can ask a model for both).
    candidates = logs.filter(column.str.contains(_CASELESS + pattern))
    hits: list[dict[str, Any]] = []
    spans_with_hits = 0
    total = 0
    rows = candidates.select("id", "span_id", "root_span_id", base).iter_rows(named=True)
    for row, text, matches in _rust_matches(rows, field, pattern):
        found = False
        for start, end in matches:
            found = True
            total += 1
            if len(hits) < limit:
                before = text[max(0, start - context) : start]
                after = text[end : end + context]
                hits.append(
                    {
                        "span_id": row["span_id"],
                        "root_span_id": row["root_span_id"],
                        "offset": start,
                        "match": clip(text[start:end], 400),
                        "context": f"{before}[[{clip(text[start:end], 400)}]]{after}",
                        "field_length": len(text),
                    }
                )
        spans_with_hits += found
    table = pl.DataFrame(
        hits,
        schema={
            "span_id": pl.String,
            "root_span_id": pl.String,
            "offset": pl.Int64,
            "match": pl.String,
            "context": pl.String,
            "field_length": pl.Int64,
        },
    )
    header = f"{total:,} matches of /{pattern}/ in {field} across {spans_with_hits:,} spans"
    if total > len(hits):
        header += f" (showing {len(hits)}; narrow with span_id or raise limit)"
    lines = [header]
    for hit in hits:
        context_text = hit["context"].replace("\n", "\\n")
        lines.append(f"- span {hit['span_id']} @ {hit['offset']:,} of {hit['field_length']:,}: …{context_text}…")
    return ToolResult("\n".join(lines), [Table(table, title=f"Matches of {pattern}"), code])


__all__ = ["clip", "describe_schema", "frame_preview", "generate_filter", "grep_field", "read_field", "run_sql"]
