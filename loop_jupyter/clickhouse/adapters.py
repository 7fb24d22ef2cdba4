"""Schema adapters: our canonical ``logs`` columns (docs/schema.md) and the ``traces`` view as
ClickHouse SELECTs over the tables users already have. Only SELECTs: they become CTEs in front of
the user's query, so no DDL rights are needed on the user's database.

- ``otel``: the OpenTelemetry collector exporter's ``otel_traces`` (GenAI / OpenInference
  attributes mapped as loaders/attributes.py maps them; see docs/clickhouse.md for what is not).
- ``langfuse_v3``: Langfuse's ``traces`` + ``observations`` (ReplacingMergeTree: read ``FINAL``,
  deleted rows skipped), one root span per trace as loaders/langfuse.py makes one.
- ``native``: our canonical columns in a MergeTree table (:data:`NATIVE_DDL`).

Every adapter yields the same columns with the same ClickHouse types, in ``schema.COLUMNS`` order.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..loaders.attributes import GENAI_OPERATIONS, LANGSMITH_KINDS, OPENINFERENCE_KINDS
from ..loaders.langfuse import OBSERVATION_TYPES
from ..schema import COLUMNS

SCHEMAS: tuple[str, ...] = ("otel", "langfuse_v3", "langfuse_v4", "native")
DEFAULT_TABLES: dict[str, dict[str, str]] = {
    "otel": {"spans": "otel_traces"},
    "langfuse_v3": {"traces": "traces", "observations": "observations", "scores": "scores"},
    "langfuse_v4": {"events": "events_full", "scores": "scores"},  # langfuse_v4.py
    "native": {"spans": "loop_spans"},
}

#: ``get(attribute key)`` -> SQL of that attribute as Nullable(String).
Getter = Callable[[str], str]

_TS = "Nullable(DateTime64(6, 'UTC'))"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Our canonical columns as a ClickHouse table (written by ``import --to``; the ``native`` schema),
#: plus ``_row``, the load position (spans come back in import order, as from a DuckDB store).
NATIVE_DDL = """CREATE TABLE IF NOT EXISTS {table} (
  id String, span_id String, root_span_id String, span_parents Array(String), is_root Bool,
  created Nullable(DateTime64(6, 'UTC')),
  input Nullable(String), output Nullable(String), expected Nullable(String), error Nullable(String),
  tags Array(String), scores Nullable(String), metadata Nullable(String), metrics Nullable(String),
  span_attributes Nullable(String), context Nullable(String),
  parent_id Nullable(String), depth Nullable(Int32), name Nullable(String), type Nullable(String),
  start Nullable(DateTime64(6, 'UTC')), `end` Nullable(DateTime64(6, 'UTC')), duration Nullable(Float64),
  model Nullable(String), prompt_tokens Nullable(Int64), completion_tokens Nullable(Int64),
  tokens Nullable(Int64), cost Nullable(Float64), _row Int64
) ENGINE = MergeTree ORDER BY (root_span_id, span_id)"""


def quote_name(name: str) -> str:
    """A table name (``db.table`` allowed) quoted for ClickHouse; refuses anything else."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENT.match(part) for part in parts):
        raise ValueError(f"not a table name: {name!r}")
    return ".".join(f"`{part}`" for part in parts)


def sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def json_text(column: str, keys: list[str]) -> str:
    """DuckDB's ``json_extract_string(column, path)`` in ClickHouse: the value as text (a string
    unquoted, anything else as its JSON), and NULL where DuckDB gives NULL (a missing key, a JSON
    null, a NULL column). ``JSONExtractString`` alone gives '' for all of those, and '' for numbers."""
    path = ", ".join(sql_string(key) for key in keys)
    return (
        f"if(JSONType({column}, {path}) = 'String', JSONExtractString({column}, {path}), "
        f"nullIf(nullIf(JSONExtractRaw({column}, {path}), ''), 'null'))"
    )


def _as_json_value(text_sql: str) -> str:
    """Attribute text as our loaders keep it: JSON objects/arrays parsed, anything else a string."""
    return (
        f"if(match({text_sql}, '^\\\\s*[\\\\[{{]') AND isValidJSON({text_sql}), {text_sql}, toJSONString({text_sql}))"
    )


def _json_object(pairs: list[tuple[str, str]], *, raw_tail: str | list[str] | None = None) -> str:
    """A JSON object from (key, JSON-value SQL) pairs; NULL values leave their key out.
    ``raw_tail`` is SQL for extra ``"k":v`` members (comma-joined text, '' for none)."""
    members = [
        f"if(({value}) IS NULL, '', concat({sql_string(_json_key(key) + ':')}, {value}))" for key, value in pairs
    ]
    if raw_tail is not None:
        members.extend([raw_tail] if isinstance(raw_tail, str) else raw_tail)
    return f"concat('{{', arrayStringConcat(arrayFilter(x -> x != '', [{', '.join(members)}]), ','), '}}')"


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _str(value: str) -> str:
    """JSON for a Nullable String expression (NULL stays NULL)."""
    return f"if(({value}) IS NULL, NULL, toJSONString(assumeNotNull({value})))"


def _map_members(map_sql: str, *, parse_values: bool) -> str:
    value = _as_json_value("v") if parse_values else "toJSONString(v)"
    return (
        f"arrayStringConcat(arrayMap((k, v) -> concat(toJSONString(toString(k)), ':', {value}), "
        f"mapKeys({map_sql}), mapValues({map_sql})), ',')"
    )


def _map_object(map_sql: str, *, parse_values: bool = False) -> str:
    return f"concat('{{', {_map_members(map_sql, parse_values=parse_values)}, '}}')"


def _span_type(get: Getter) -> str:
    """loaders/attributes.py ``_span_type`` in SQL: OpenInference kind, GenAI operation,
    LangSmith kind, Vercel AI SDK operation id, then a tool name."""

    def case(value: str, table: dict[str, str | None]) -> str:
        keys = [k for k, v in table.items() if v is not None]
        froms = ", ".join(sql_string(k) for k in keys)
        tos = ", ".join(sql_string(str(table[k])) for k in keys)
        return f"transform({value}, [{froms}], [{tos}], CAST(NULL AS Nullable(String)))"

    kind, op, ls, op_id = (
        get("openinference.span.kind"),
        get("gen_ai.operation.name"),
        get("langsmith.span.kind"),
        get("ai.operationId"),
    )
    vercel = (
        f"multiIf({op_id} IS NULL, NULL, endsWith({op_id}, '.doGenerate') OR endsWith({op_id}, '.doStream') "
        f"OR {op_id} = 'ai.embed.doEmbed', 'llm', {op_id} = 'ai.toolCall', 'tool', 'function')"
    )
    tool = f"if({get('gen_ai.tool.name')} IS NOT NULL OR {get('ai.toolCall.name')} IS NOT NULL, 'tool', NULL)"
    return (
        f"if(upper({kind}) = 'UNKNOWN', NULL, coalesce({case(f'upper({kind})', OPENINFERENCE_KINDS)}, "
        f"{case(op, GENAI_OPERATIONS)}, {case(f'lower({ls})', LANGSMITH_KINDS)}, {vercel}, {tool}))"
    )


def _first(get: Getter, keys: tuple[str, ...]) -> str:
    return f"coalesce({', '.join(get(k) for k in keys)})"


_MODEL_KEYS = ("gen_ai.response.model", "llm.model_name", "ai.response.model", "gen_ai.request.model", "ai.model.id")
_PROMPT_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "ai.usage.inputTokens",
    "ai.usage.promptTokens",
)
_COMPLETION_KEYS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "ai.usage.outputTokens",
    "ai.usage.completionTokens",
)
_TOTAL_KEYS = ("gen_ai.usage.total_tokens", "llm.token_count.total", "ai.usage.totalTokens")
_COST_KEYS = ("llm.cost.total", "gen_ai.usage.cost", "operation.cost")


def _aggregate(get: Getter) -> str:
    """Spans whose usage sums their children's (attributes.py ``_is_aggregate``)."""
    op_id, op = get("ai.operationId"), get("gen_ai.operation.name")
    return (
        f"(coalesce(startsWith({op_id}, 'ai.') AND position(substring({op_id}, 4), '.') = 0 "
        f"AND {op_id} != 'ai.toolCall', false) OR coalesce({op} IN ('invoke_agent', 'create_agent'), false))"
    )


def _mapped_metadata(get: Getter) -> list[tuple[str, str]]:
    """The metadata keys attributes.py ``map_attributes`` sets from attributes (first match wins)."""
    return [
        ("span_kind", _str(get("openinference.span.kind"))),
        ("operation", _str(get("gen_ai.operation.name"))),
        ("model", _str(_first(get, _MODEL_KEYS))),
        (
            "provider",
            _str(
                _first(
                    get, ("gen_ai.provider.name", "llm.provider", "ai.model.provider", "gen_ai.system", "llm.system")
                )
            ),
        ),
        ("user", _str(_first(get, ("user.id", "enduser.id")))),
        ("session_id", _str(_first(get, ("session.id", "gen_ai.conversation.id")))),
        ("tool_name", _str(_first(get, ("gen_ai.tool.name", "tool.name", "ai.toolCall.name")))),
    ]


def _object_members(json_sql: str) -> str:
    """The members of a JSON object text without its braces ('' for anything else)."""
    return (
        f"if(isValidJSON({json_sql}) AND startsWith({json_sql}, '{{') AND length({json_sql}) > 2, "
        f"substring({json_sql}, 2, length({json_sql}) - 2), '')"
    )


def _otel_base(table: str) -> str:
    def get(key: str) -> str:
        return f"nullIf(SpanAttributes[{sql_string(key)}], '')"

    aggregate = _aggregate(get)

    def count(keys: tuple[str, ...]) -> str:
        return f"if({aggregate}, NULL, toInt64OrNull({_first(get, keys)}))"

    value = {name: get(f"{name}.value") for name in ("input", "output")}
    start = "toDateTime64(Timestamp, 6, 'UTC')"
    end = "toDateTime64(fromUnixTimestamp64Nano(toUnixTimestamp64Nano(Timestamp) + toInt64(Duration), 'UTC'), 6, 'UTC')"
    exception = "arrayFirstIndex(n -> n = 'exception', `Events.Name`)"
    exc_attr = "nullIf(`Events.Attributes`[{i}][{k}], '')"
    error = _json_object(
        [
            ("status", "if(StatusCode IN ('Error', 'STATUS_CODE_ERROR'), '\"ERROR\"', NULL)"),
            ("message", _str("if(StatusCode IN ('Error', 'STATUS_CODE_ERROR'), nullIf(StatusMessage, ''), NULL)")),
        ]
        + [
            (
                f"exc_{field}",
                _str(f"if({exception} > 0, {exc_attr.format(i=exception, k=sql_string('exception.' + field))}, NULL)"),
            )
            for field in ("type", "message", "stacktrace")
        ]
    ).replace('"exc_', '"')
    has_error = f"(StatusCode IN ('Error', 'STATUS_CODE_ERROR') OR {exception} > 0)"
    metadata = _json_object(
        [
            ("trace_id", "toJSONString(TraceId)"),
            *_mapped_metadata(get),
            ("otel.span_kind", _str("nullIf(SpanKind, '')")),
            ("service_name", _str("nullIf(ServiceName, '')")),
            ("resource", f"if(empty(ResourceAttributes), NULL, {_map_object('ResourceAttributes')})"),
        ],
        raw_tail=_map_members("SpanAttributes", parse_values=True),
    )
    return f"""
SELECT SpanId AS span_id, TraceId AS trace_id, nullIf(ParentSpanId, '') AS parent_id,
  {start} AS start, {end} AS `end`, {start} AS created,
  {_as_json_value(value["input"])} AS input, {_as_json_value(value["output"])} AS output,
  CAST(NULL AS Nullable(String)) AS expected,
  if({has_error}, {error}, NULL) AS error,
  CAST([] AS Array(String)) AS tags, CAST(NULL AS Nullable(String)) AS scores, {metadata} AS metadata,
  CAST(NULL AS Nullable(String)) AS context, SpanName AS name, {_span_type(get)} AS type,
  {_first(get, _MODEL_KEYS)} AS model, {count(_PROMPT_KEYS)} AS prompt_tokens,
  {count(_COMPLETION_KEYS)} AS completion_tokens, {count(_TOTAL_KEYS)} AS tokens_given,
  toFloat64OrNull({_first(get, _COST_KEYS)}) AS cost
FROM {table}"""


def _otel_roots(table: str) -> str:
    return f"(SELECT TraceId, argMin(SpanId, Timestamp) AS root FROM {table} WHERE ParentSpanId = '' GROUP BY TraceId)"


def _otel_links(tables: dict[str, str], source: str | None = None) -> str:
    """The tree for the depth walk, by ``trace_id`` (a trace's root is a function of its TraceId, so
    walking within a TraceId walks within a root: no join with the roots, at every step, needed)."""
    table = source or quote_name(tables["spans"])
    return f"""
SELECT SpanId AS span_id, TraceId AS trace_id, nullIf(ParentSpanId, '') AS parent_id FROM {table}"""


def _otel(tables: dict[str, str], source: str | None = None) -> str:
    """``source``: SQL of the rows to map instead of the whole table (pushdown.py narrows it)."""
    table = source or quote_name(tables["spans"])
    base = _otel_base(table)
    # The root of a trace is its span without a parent (the earliest of several); a trace without
    # one has its TraceId stand in, as loaders/otlp.py does.
    return f"""
SELECT b.*, span_id AS id, coalesce(r.root, b.trace_id) AS root_span_id
FROM ({base}) AS b
LEFT JOIN {_otel_roots(table)} AS r ON r.TraceId = b.trace_id"""


#: Langfuse observation types onto our span types: the Langfuse loader's table.
_LF_TYPES = {kind: ours for kind, ours in OBSERVATION_TYPES.items() if ours is not None}


def _content(value: str) -> str:
    """Langfuse input/output text as loaders/langfuse.py reads it: JSON text kept, other text a string."""
    return f"if(match({value}, '^\\\\s*[\\\\[{{\"]') AND isValidJSON({value}), {value}, toJSONString({value}))"


def _lf_parent(obs: str) -> str:
    return (
        f"if(o.parent_observation_id IS NULL OR o.parent_observation_id = '' "
        f"OR o.parent_observation_id NOT IN (SELECT id FROM {obs}), o.trace_id, o.parent_observation_id)"
    )


def _langfuse_links(tables: dict[str, str]) -> str:
    traces, observations = quote_name(tables["traces"]), quote_name(tables["observations"])
    obs = f"(SELECT * FROM {observations} FINAL WHERE is_deleted = 0)"
    return f"""
SELECT id AS span_id, id AS root_span_id, CAST(NULL AS Nullable(String)) AS parent_id
FROM {traces} FINAL WHERE is_deleted = 0
UNION ALL
SELECT o.id AS span_id, o.trace_id AS root_span_id, CAST({_lf_parent(obs)} AS Nullable(String)) AS parent_id
FROM {obs} AS o"""


def _langfuse_scores(table: str) -> str:
    """Numeric scores by target (the observation, else the trace) as a JSON object, as
    loaders/langfuse.py keeps them (categorical scores stay out); keys by name (``groupArray``'s
    order follows ClickHouse's threads, so the same trace's scores text changed from query to query)."""
    return f"""(
  SELECT coalesce(nullIf(observation_id, ''), trace_id) AS target,
    concat('{{', arrayStringConcat(arraySort(groupArray(concat(toJSONString(name), ':', toJSONString(value)))), ','),
           '}}') AS score_json
  FROM {table} FINAL WHERE is_deleted = 0 AND data_type != 'CATEGORICAL' AND trace_id IS NOT NULL
  GROUP BY target)"""


def _langfuse_v3(tables: dict[str, str]) -> str:
    traces, observations = quote_name(tables["traces"]), quote_name(tables["observations"])
    obs = f"(SELECT * FROM {observations} FINAL WHERE is_deleted = 0)"
    scores = _langfuse_scores(quote_name(tables["scores"]))

    def get(key: str) -> str:
        return json_text("o.metadata['attributes']", [key])

    attr_type = _span_type(get)
    native = (
        "multiIf(" + ", ".join(f"o.type = {sql_string(k)}, {sql_string(v)}" for k, v in _LF_TYPES.items()) + ", NULL)"
    )
    lf_type = f"if(o.type IN ('SPAN', 'EVENT') AND ({attr_type}) IS NOT NULL, {attr_type}, {native})"

    def usage(key: str) -> str:
        return f"if(mapContains(o.usage_details, {sql_string(key)}), toInt64(o.usage_details[{sql_string(key)}]), NULL)"

    cost = (
        "if(mapContains(o.cost_details, 'total'), toFloat64(o.cost_details['total']), "
        "if(o.total_cost IS NOT NULL AND o.total_cost != 0, toFloat64(o.total_cost), NULL))"
    )
    error_json = _json_object([("level", "'\"ERROR\"'"), ("message", _str("o.status_message"))])
    start_obs = "toDateTime64(o.start_time, 6, 'UTC')"
    obs_metadata = _json_object(
        [
            ("trace_id", "toJSONString(o.trace_id)"),
            ("observation_type", "toJSONString(toString(o.type))"),
            ("model", _str(f"coalesce(o.provided_model_name, {_first(get, _MODEL_KEYS)})")),
            *[pair for pair in _mapped_metadata(get) if pair[0] != "model"],
            ("level", "if(o.level IN ('DEFAULT', 'ERROR', ''), NULL, toJSONString(toString(o.level)))"),
            ("project_id", "toJSONString(o.project_id)"),
        ],
        raw_tail=[
            _map_members("mapFilter((k, v) -> k != 'attributes', o.metadata)", parse_values=True),
            _object_members("o.metadata['attributes']"),
        ],
    )
    observations_sql = f"""
SELECT o.id AS span_id, o.trace_id AS trace_id,
  {_lf_parent(obs)} AS parent_id,
  {start_obs} AS start, CAST(toDateTime64(o.end_time, 6, 'UTC') AS {_TS}) AS `end`, {start_obs} AS created,
  if(o.input IS NULL, NULL, {_content("assumeNotNull(o.input)")}) AS input,
  if(o.output IS NULL, NULL, {_content("assumeNotNull(o.output)")}) AS output,
  CAST(NULL AS Nullable(String)) AS expected,
  if(o.level = 'ERROR', {error_json}, NULL) AS error,
  CAST([] AS Array(String)) AS tags, sc.score_json AS scores, {obs_metadata} AS metadata,
  CAST(NULL AS Nullable(String)) AS context, o.name AS name, {lf_type} AS type,
  coalesce(o.provided_model_name, {_first(get, _MODEL_KEYS)}) AS model, {usage("input")} AS prompt_tokens, {usage("output")} AS completion_tokens,
  {usage("total")} AS tokens_given, {cost} AS cost,
  o.id AS id, o.trace_id AS root_span_id
FROM {obs} AS o LEFT JOIN {scores} AS sc ON sc.target = o.id"""

    def tget(key: str) -> str:
        return json_text("t.metadata['attributes']", [key])

    trace_metadata = _json_object(
        [
            ("trace_id", "toJSONString(t.id)"),
            ("observation_type", "'\"TRACE\"'"),
            ("user", _str(f"coalesce(t.user_id, {_first(tget, ('user.id', 'enduser.id'))})")),
            ("session_id", _str(f"coalesce(t.session_id, {_first(tget, ('session.id', 'gen_ai.conversation.id'))})")),
            ("model", _str(_first(tget, _MODEL_KEYS))),
            ("project_id", "toJSONString(t.project_id)"),
        ],
        raw_tail=_map_members("mapFilter((k, v) -> k != 'attributes', t.metadata)", parse_values=True),
    )
    created = "toDateTime64(t.timestamp, 6, 'UTC')"
    roots_sql = f"""
SELECT t.id AS span_id, t.id AS trace_id, CAST(NULL AS Nullable(String)) AS parent_id,
  CAST(if(s.first_start IS NOT NULL AND s.first_start < {created}, s.first_start, {created}) AS {_TS}) AS start,
  CAST(s.last_end AS {_TS}) AS `end`, {created} AS created,
  if(t.input IS NULL, NULL, {_content("assumeNotNull(t.input)")}) AS input,
  if(t.output IS NULL, NULL, {_content("assumeNotNull(t.output)")}) AS output,
  CAST(NULL AS Nullable(String)) AS expected, CAST(NULL AS Nullable(String)) AS error,
  t.tags AS tags, sc.score_json AS scores, {trace_metadata} AS metadata,
  CAST(NULL AS Nullable(String)) AS context, t.name AS name, 'task' AS type,
  {_first(tget, _MODEL_KEYS)} AS model, CAST(NULL AS Nullable(Int64)) AS prompt_tokens,
  CAST(NULL AS Nullable(Int64)) AS completion_tokens, CAST(NULL AS Nullable(Int64)) AS tokens_given,
  CAST(NULL AS Nullable(Float64)) AS cost, t.id AS id, t.id AS root_span_id
FROM (SELECT * FROM {traces} FINAL WHERE is_deleted = 0) AS t
LEFT JOIN (SELECT trace_id, min(toDateTime64(start_time, 6, 'UTC')) AS first_start,
                  max(toDateTime64(end_time, 6, 'UTC')) AS last_end FROM {obs} GROUP BY trace_id) AS s
  ON s.trace_id = t.id
LEFT JOIN {scores} AS sc ON sc.target = t.id"""
    return f"{roots_sql}\nUNION ALL\n{observations_sql}"


def canonical_columns() -> dict[str, str]:
    """Each canonical column as SQL over an adapter's base span ``b`` (``depth`` from the walk ``d``)."""
    start_s = "toUnixTimestamp64Micro(b.start) / 1e6"
    end_s = "toUnixTimestamp64Micro(b.`end`) / 1e6"
    tokens = (
        "coalesce(b.tokens_given, if(b.prompt_tokens IS NULL AND b.completion_tokens IS NULL, NULL, "
        "coalesce(b.prompt_tokens, 0) + coalesce(b.completion_tokens, 0)))"
    )
    metrics = _json_object(
        [
            ("start", f"toJSONString({start_s})"),
            ("end", f"if(b.`end` IS NULL, NULL, toJSONString({end_s}))"),
            ("prompt_tokens", "if(b.prompt_tokens IS NULL, NULL, toString(b.prompt_tokens))"),
            ("completion_tokens", "if(b.completion_tokens IS NULL, NULL, toString(b.completion_tokens))"),
            ("tokens", f"if({tokens} IS NULL, NULL, toString({tokens}))"),
            ("estimated_cost", "if(b.cost IS NULL, NULL, toJSONString(b.cost))"),
        ]
    )
    span_attributes = _json_object([("name", _str("b.name")), ("type", _str("b.type"))])
    columns = {
        "id": "b.id",
        "span_id": "b.span_id",
        "root_span_id": "b.root_span_id",
        "span_parents": "if(b.parent_id IS NULL, CAST([] AS Array(String)), [assumeNotNull(b.parent_id)])",
        "is_root": "CAST(b.parent_id IS NULL AS Bool)",
        "created": f"CAST(b.created AS {_TS})",
        "input": "CAST(b.input AS Nullable(String))",
        "output": "CAST(b.output AS Nullable(String))",
        "expected": "b.expected",
        "error": "CAST(b.error AS Nullable(String))",
        "tags": "b.tags",
        "scores": "b.scores",
        "metadata": "CAST(b.metadata AS Nullable(String))",
        "metrics": f"CAST({metrics} AS Nullable(String))",
        "span_attributes": f"CAST({span_attributes} AS Nullable(String))",
        "context": "b.context",
        "parent_id": "CAST(b.parent_id AS Nullable(String))",
        "depth": "CAST(d.depth AS Nullable(Int32))",
        "name": "CAST(b.name AS Nullable(String))",
        "type": "CAST(b.type AS Nullable(String))",
        "start": f"CAST(b.start AS {_TS})",
        "end": f"CAST(b.`end` AS {_TS})",
        "duration": f"CAST(if(b.`end` IS NULL, NULL, {end_s} - {start_s}) AS Nullable(Float64))",
        "model": "CAST(b.model AS Nullable(String))",
        "prompt_tokens": "CAST(b.prompt_tokens AS Nullable(Int64))",
        "completion_tokens": "CAST(b.completion_tokens AS Nullable(Int64))",
        "tokens": f"CAST({tokens} AS Nullable(Int64))",
        "cost": "CAST(b.cost AS Nullable(Float64))",
    }
    assert tuple(columns) == COLUMNS
    return columns


def _span_key(trace: str, span: str) -> str:
    """A span's key within its trace: a 128-bit hash of (trace, span id). The walk's joins and its
    GROUP BY hold 16-byte keys, not two strings: at 10M spans the string keys took the 4 GiB of
    the sandbox's ``max_memory_usage`` (bench/RESULTS.md); two different spans share a key with a
    probability of about n²/2¹²⁹ (1e-25 at 10M spans)."""
    return f"sipHash128({trace}, {span})"


def _canonical(base: str, links: str, trace: str = "root_span_id") -> str:
    """Canonical columns from an adapter's base spans: parents, depth (walked down from the
    roots by a recursive CTE), metrics and span_attributes JSON, duration, tokens.

    ``links`` (span_id, parent_id and ``trace``, a column that base and links both give and that
    names a span's trace) is the tree: a span's parent is the span of that id in the same trace."""
    select = ",\n  ".join(f"{sql} AS `{name}`" for name, sql in canonical_columns().items())
    key, parent = _span_key(f"l.{trace}", "l.span_id"), _span_key(f"l.{trace}", "assumeNotNull(l.parent_id)")
    return f"""
WITH RECURSIVE _base AS ({base}),
_links AS (SELECT {key} AS k, if(l.parent_id IS NULL, NULL, {parent}) AS pk FROM ({links}) AS l),
_walk AS (
  SELECT k, 0 AS depth FROM _links WHERE pk IS NULL
  UNION ALL
  SELECT c.k, w.depth + 1 FROM _links AS c JOIN _walk AS w ON c.pk = w.k
  WHERE w.depth < 200
)
SELECT
  {select}
FROM _base AS b
LEFT JOIN (SELECT k, min(depth) AS depth FROM _walk GROUP BY k) AS d
  ON d.k = {_span_key(f"b.{trace}", "b.span_id")}"""


def logs_sql(schema: str, tables: dict[str, str] | None = None) -> str:
    """A ClickHouse SELECT giving the canonical ``logs`` columns over ``schema``'s tables."""
    if schema not in SCHEMAS:
        raise ValueError(f"unknown ClickHouse schema {schema!r}: use one of {', '.join(SCHEMAS)}")
    tables = {**DEFAULT_TABLES[schema], **(tables or {})}
    if schema == "native":
        names = ", ".join(f"`{name}`" for name in COLUMNS)
        return f"SELECT {names} FROM {quote_name(tables['spans'])}"
    if schema == "otel":
        return _canonical(_otel(tables), _otel_links(tables), "trace_id")
    if schema == "langfuse_v3":
        return _canonical(_langfuse_v3(tables), _langfuse_links(tables))
    raise ValueError(f"{schema}: use schemas.logs_sql")


def traces_sql(logs: str = "logs") -> str:
    """The ``traces`` view (engine.py's, column for column) over a relation of canonical spans.

    Every trace is in ``a`` (its figures), at most one root row in ``r``: ``r RIGHT JOIN a`` is
    ``a LEFT JOIN r``, with the hash table built on the narrow figures rather than on the root
    rows (their input, output and metadata text: at 10M spans over 1 GB of the 4 GiB limit)."""
    user = f"coalesce({json_text('r.metadata', ['user'])}, {json_text('r.metadata', ['user_id'])})"
    return f"""
SELECT
  a.root_span_id AS root_span_id,
  r.id AS id, r.span_id AS span_id, coalesce(r.created, a.first_start) AS created,
  r.input AS input, r.output AS output, r.expected AS expected, r.error AS error,
  if(r.root_span_id IS NULL, CAST([] AS Array(String)), r.tags) AS tags, r.scores AS scores,
  r.metadata AS metadata, r.metrics AS metrics, r.span_attributes AS span_attributes,
  r.name AS name, r.type AS type,
  coalesce(r.start, a.first_start) AS start, coalesce(r.`end`, a.last_end) AS `end`,
  coalesce(r.duration, (toUnixTimestamp64Micro(a.last_end) - toUnixTimestamp64Micro(a.first_start)) / 1e6) AS duration,
  {user} AS `user`,
  a.span_count AS span_count, a.error_count AS error_count, CAST(a.error_count > 0 AS Bool) AS has_error,
  a.llm_calls AS llm_calls, a.tool_calls AS tool_calls, a.total_tokens AS total_tokens,
  a.total_prompt_tokens AS total_prompt_tokens, a.total_completion_tokens AS total_completion_tokens,
  a.total_cost AS total_cost, a.models AS models, a.max_depth AS max_depth
FROM (
  SELECT * FROM {logs} WHERE is_root ORDER BY start, span_id LIMIT 1 BY root_span_id
) AS r
RIGHT JOIN (
  SELECT root_span_id,
    toInt64(count()) AS span_count, toInt64(count(error)) AS error_count,
    toInt64(countIf(type = 'llm')) AS llm_calls, toInt64(countIf(type = 'tool')) AS tool_calls,
    CAST(sum(tokens) AS Nullable(Int64)) AS total_tokens,
    CAST(sum(prompt_tokens) AS Nullable(Int64)) AS total_prompt_tokens,
    CAST(sum(completion_tokens) AS Nullable(Int64)) AS total_completion_tokens,
    CAST(sum(cost) AS Nullable(Float64)) AS total_cost,
    arraySort(arrayMap(m -> assumeNotNull(m), groupUniqArray(model))) AS models,
    max(depth) AS max_depth, min(start) AS first_start, max(`end`) AS last_end
  FROM {logs} GROUP BY root_span_id
) AS a ON r.root_span_id = a.root_span_id
ORDER BY created DESC NULLS LAST, root_span_id"""
