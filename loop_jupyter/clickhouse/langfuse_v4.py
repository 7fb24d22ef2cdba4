"""``langfuse_v4``: Langfuse's one-row-per-span ``events_full`` table (migration 0039; ``events_core``,
0040-0041, is the same rows with input/output cut to 200 characters, so it is not read).

ReplacingMergeTree(event_ts, is_deleted): read ``FINAL`` with deleted rows skipped. Every row is a
span. One root span per trace, as the v3 adapter and loaders/langfuse.py make one:

- the trace's app root (``is_app_root``: the span Langfuse makes of a trace created through its
  API, holding the trace's name, input and output; the earliest when there are several) is the
  root, typed ``task``, named ``trace_name``, with the trace's tags, ``metadata.user`` =
  ``user_id`` and ``metadata.session_id``; it starts with the trace's first span and ends with its last;
- a trace without one gets a root made from the trace-level columns every span carries (id = the
  trace id, ``trace_name``, ``user_id``, ``session_id``, ``tags``; start/end of its spans; no input
  or output);
- every other span hangs under its ``parent_span_id`` when that span is in the trace, else under
  the root. Types, models, usage, cost, levels and the OTel attributes (the ``attributes`` metadata
  key) as for v3; metadata from ``metadata_names`` / ``metadata_values``; scores from ``scores``.
"""

from __future__ import annotations

from .adapters import (
    _LF_TYPES,
    _MODEL_KEYS,
    _TS,
    _canonical,
    _content,
    _first,
    _json_object,
    _langfuse_scores,
    _mapped_metadata,
    _object_members,
    _span_type,
    _str,
    json_text,
    quote_name,
    sql_string,
)


def _metadata_value(row: str, key: str) -> str:
    """A metadata value by name (NULL when missing or empty)."""
    return f"nullIf(arrayElement({row}.metadata_values, indexOf({row}.metadata_names, {sql_string(key)})), '')"


def _members(row: str) -> str:
    """The metadata pairs (but ``attributes``) as JSON members, values parsed as for v3."""
    value = "if(match(v, '^\\\\s*[\\\\[{]') AND isValidJSON(v), v, toJSONString(v))"
    return (
        f"arrayStringConcat(arrayFilter(x -> x != '', arrayMap((k, v) -> if(k = 'attributes', '', "
        f"concat(toJSONString(k), ':', {value})), {row}.metadata_names, {row}.metadata_values)), ',')"
    )


def langfuse_v4(tables: dict[str, str]) -> str:
    """The canonical ``logs`` SELECT over the events table (``events=``) and ``scores=``."""
    events = f"(SELECT * FROM {quote_name(tables['events'])} FINAL WHERE is_deleted = 0)"
    scores = _langfuse_scores(quote_name(tables["scores"]))
    start = "toDateTime64(e.start_time, 6, 'UTC')"
    end = f"CAST(toDateTime64(e.end_time, 6, 'UTC') AS {_TS})"
    # Per trace: its app root (if any), trace-level columns, first start and last end. Each taken
    # from the earliest event (ties on the span id): any()/anyIf() answer in the threads' order,
    # so two queries of one trace could disagree (its root, name or user).
    traces = f"""(
  SELECT trace_id, countIf(is_app_root) > 0 AS has_root, argMinIf(span_id, (start_time, span_id), is_app_root) AS app_root,
    nullIf(argMinIf(trace_name, (start_time, span_id), trace_name != ''), '') AS t_name,
    nullIf(argMinIf(user_id, (start_time, span_id), user_id != ''), '') AS t_user,
    nullIf(argMinIf(session_id, (start_time, span_id), session_id != ''), '') AS t_session,
    argMinIf(tags, (start_time, span_id), notEmpty(tags)) AS t_tags,
    argMin(project_id, (start_time, span_id)) AS t_project, min(toDateTime64(start_time, 6, 'UTC')) AS first_start,
    max(toDateTime64(end_time, 6, 'UTC')) AS last_end
  FROM {events} GROUP BY trace_id)"""
    root_id = "if(t.has_root, t.app_root, t.trace_id)"

    def get(key: str) -> str:
        return f"coalesce({_metadata_value('e', key)}, {json_text(_metadata_value('e', 'attributes'), [key])})"

    attr_type = _span_type(get)
    native = (
        "multiIf(" + ", ".join(f"e.type = {sql_string(k)}, {sql_string(v)}" for k, v in _LF_TYPES.items()) + ", NULL)"
    )
    is_root = f"e.span_id = {root_id}"
    parent = (
        f"if({is_root}, NULL, if(e.parent_span_id = '' OR e.parent_span_id = e.span_id "
        f"OR (e.trace_id, e.parent_span_id) NOT IN (SELECT trace_id, span_id FROM {events}), "
        f"{root_id}, e.parent_span_id))"
    )

    def usage(key: str) -> str:
        return f"if(mapContains(e.usage_details, {sql_string(key)}), toInt64(e.usage_details[{sql_string(key)}]), NULL)"

    def trace_pairs(model: str) -> list[tuple[str, str]]:
        return [
            ("trace_id", "toJSONString(e.trace_id)"),
            ("observation_type", "'\"TRACE\"'"),
            ("user", _str(f"coalesce(t.t_user, {_first(get, ('user.id', 'enduser.id'))})")),
            ("session_id", _str(f"coalesce(t.t_session, {_first(get, ('session.id', 'gen_ai.conversation.id'))})")),
            ("model", _str(model)),
            ("project_id", "toJSONString(e.project_id)"),
        ]

    model = f"coalesce(nullIf(e.provided_model_name, ''), {_first(get, _MODEL_KEYS)})"
    span_pairs = [
        ("trace_id", "toJSONString(e.trace_id)"),
        ("observation_type", "toJSONString(toString(e.type))"),
        ("model", _str(model)),
        *[pair for pair in _mapped_metadata(get) if pair[0] != "model"],
        ("level", "if(e.level IN ('DEFAULT', 'ERROR', ''), NULL, toJSONString(toString(e.level)))"),
        ("project_id", "toJSONString(e.project_id)"),
    ]
    tail = [_members("e"), _object_members(f"coalesce({_metadata_value('e', 'attributes')}, '')")]
    # The root keeps the trace's own metadata; its OTel attributes stay under ``attributes`` (as v3).
    root_metadata = _json_object(trace_pairs(_first(get, _MODEL_KEYS)), raw_tail=_members("e"))
    span_metadata = _json_object(span_pairs, raw_tail=tail)
    error = _json_object([("level", "'\"ERROR\"'"), ("message", _str("nullIf(e.status_message, '')"))])
    cost = "if(mapContains(e.cost_details, 'total'), toFloat64(e.cost_details['total']), NULL)"
    spans = f"""
SELECT e.span_id AS span_id, e.trace_id AS trace_id, {parent} AS parent_id,
  if({is_root}, least({start}, t.first_start), {start}) AS start,
  if({is_root}, CAST(t.last_end AS {_TS}), {end}) AS `end`, {start} AS created,
  if(e.input = '', NULL, {_content("e.input")}) AS input,
  if(e.output = '', NULL, {_content("e.output")}) AS output,
  CAST(NULL AS Nullable(String)) AS expected,
  if(e.level = 'ERROR' AND NOT {is_root}, {error}, NULL) AS error,
  if({is_root}, t.t_tags, CAST([] AS Array(String))) AS tags, sc.score_json AS scores,
  if({is_root}, {root_metadata}, {span_metadata}) AS metadata,
  CAST(NULL AS Nullable(String)) AS context,
  if({is_root}, coalesce(t.t_name, e.name), e.name) AS name,
  if({is_root}, 'task', if(e.type IN ('SPAN', 'EVENT') AND ({attr_type}) IS NOT NULL, {attr_type}, {native})) AS type,
  if({is_root}, {_first(get, _MODEL_KEYS)}, {model}) AS model,
  if({is_root}, NULL, {usage("input")}) AS prompt_tokens, if({is_root}, NULL, {usage("output")}) AS completion_tokens,
  if({is_root}, NULL, {usage("total")}) AS tokens_given, if({is_root}, NULL, {cost}) AS cost,
  e.span_id AS id, {root_id} AS root_span_id
FROM {events} AS e
JOIN {traces} AS t ON t.trace_id = e.trace_id
LEFT JOIN {scores} AS sc ON sc.target = if({is_root}, e.trace_id, e.span_id)"""
    synthetic_metadata = _json_object(
        [
            ("trace_id", "toJSONString(t.trace_id)"),
            ("observation_type", "'\"TRACE\"'"),
            ("user", _str("t.t_user")),
            ("session_id", _str("t.t_session")),
            ("project_id", "toJSONString(t.t_project)"),
        ]
    )
    synthetic = f"""
SELECT t.trace_id AS span_id, t.trace_id AS trace_id, CAST(NULL AS Nullable(String)) AS parent_id,
  CAST(t.first_start AS {_TS}) AS start, CAST(t.last_end AS {_TS}) AS `end`, CAST(t.first_start AS {_TS}) AS created,
  CAST(NULL AS Nullable(String)) AS input, CAST(NULL AS Nullable(String)) AS output,
  CAST(NULL AS Nullable(String)) AS expected, CAST(NULL AS Nullable(String)) AS error,
  t.t_tags AS tags, sc.score_json AS scores,
  {synthetic_metadata} AS metadata,
  CAST(NULL AS Nullable(String)) AS context, t.t_name AS name, 'task' AS type,
  CAST(NULL AS Nullable(String)) AS model, CAST(NULL AS Nullable(Int64)) AS prompt_tokens,
  CAST(NULL AS Nullable(Int64)) AS completion_tokens, CAST(NULL AS Nullable(Int64)) AS tokens_given,
  CAST(NULL AS Nullable(Float64)) AS cost, t.trace_id AS id, t.trace_id AS root_span_id
FROM {traces} AS t LEFT JOIN {scores} AS sc ON sc.target = t.trace_id
WHERE NOT t.has_root"""
    base = f"{spans}\nUNION ALL\n{synthetic}"
    # The tree alone (ids and parents, the same expressions as ``spans`` / ``synthetic``): the depth
    # walk reads these three columns, not the whole mapping (which ClickHouse would inline into
    # both halves of the recursive CTE and plan again per query: seconds on 100 spans).
    links = f"""
SELECT e.span_id AS span_id, {root_id} AS root_span_id, CAST({parent} AS Nullable(String)) AS parent_id
FROM {events} AS e JOIN {traces} AS t ON t.trace_id = e.trace_id
UNION ALL
SELECT t.trace_id AS span_id, t.trace_id AS root_span_id, CAST(NULL AS Nullable(String)) AS parent_id
FROM {traces} AS t WHERE NOT t.has_root"""
    return _canonical(base, links)
