"""The DuckDB dialect our users and the model write, as ClickHouse SQL.

A query is parsed and checked exactly as the DuckDB engine checks it (sql_guard), then rewritten
on its sqlglot tree and generated with ``dialect="clickhouse"``. The rewrites are the ones sqlglot
does not make, above all the silent ones, where ClickHouse answers without an error but differently:

- JSON access (``metadata.user``, ``json_extract_string``, ``->>``): ``JSONExtractString`` gives
  '' for a missing key, a JSON null and a number, where DuckDB gives NULL (or the number's text);
  so ``metadata.user IS NULL``, ``coalesce`` and group-bys on missing fields would go wrong.
  :func:`adapters.json_text` gives DuckDB's answers.
- ``TRY_CAST(x AS DOUBLE)`` (numeric JSON fields) as ``toFloat64OrNull``: a ClickHouse CAST throws.
- ``len``/``length``: characters of a string (``lengthUTF8``; ClickHouse's ``length`` counts bytes)
  or elements of an array (``length``).
- ``epoch(ts)`` as seconds; ``quantile_cont``/``median`` as ``quantileExactInclusive`` (the same
  interpolation; ClickHouse's ``quantile`` samples); ``'x' IN tags`` and ``list_contains`` as ``has``.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from ..engine import dot_parts, json_access
from ..schema import JSON_FIELDS
from ..sql_guard import QueryError, check_tree, max_query_chars, parse_query
from .adapters import json_text
from .functions import check_calls, check_names

ARRAY_COLUMNS = {"tags", "span_parents", "models"}


def _ch(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="clickhouse")


def _to_float(node: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="toFloat64OrNull", expressions=[node])


def _json(field: str, keys: list[str], numeric: bool = False) -> exp.Expression:
    node = _ch(json_text(f"`{field}`", keys))
    node.meta["json_text"] = True
    text = exp.Paren(this=node)
    return _to_float(text) if numeric else text


_REENTER = (
    exp.Length, exp.ArraySize, exp.Median, exp.Quantile, exp.PercentileCont, exp.TryCast, exp.TimeToUnix,
    exp.JSONKeys, exp.JSONType,
)  # fmt: skip


class _Rewriter:
    def __init__(self, table_names: set[str]) -> None:
        self.tables = {name.lower() for name in table_names}

    def access(self, parts: list[str]) -> exp.Expression | None:
        return json_access(parts, self.tables, _json)

    def __call__(self, node: exp.Expression) -> exp.Expression:
        new = self.rewrite(node)
        if new is not node and isinstance(node, _REENTER):
            # sqlglot's transform does not enter a replacement: rewrite the arguments of those
            # built around the original's (``len(json_keys(x))``, ``median(metadata.x)``). Not
            # JSON access, whose ClickHouse text parses back into nodes rewritten again.
            for child in list(new.iter_expressions()):
                child.replace(child.transform(self))
        return new

    def rewrite(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
            return _series(node)
        if isinstance(node, exp.Dot) and isinstance(node.this, exp.Column | exp.Dot):
            parts = dot_parts(node)
            if parts:
                return self.access(parts) or node
        if isinstance(node, exp.Column) and not isinstance(node.parent, exp.Dot) and len(node.parts) >= 2:
            return self.access([p.name for p in node.parts]) or node
        if isinstance(node, exp.In) and isinstance(node.args.get("field"), exp.Column):
            field = node.args["field"]
            if field.name.lower() in ARRAY_COLUMNS:
                return exp.Anonymous(this="has", expressions=[field.copy(), node.this.copy()])
        if isinstance(node, exp.JSONExtractScalar | exp.JSONExtract) and isinstance(node.this, exp.Column):
            keys = _path_keys(node.expression)
            if keys is not None and node.this.name.lower() in JSON_FIELDS and isinstance(node, exp.JSONExtractScalar):
                return _json(node.this.name.lower(), keys)
        if type(node).__name__ in ("ArrayContains", "ArrayHas") and isinstance(node, exp.Func):
            return exp.Anonymous(this="has", expressions=[node.this.copy(), node.expression.copy()])
        if isinstance(node, exp.Anonymous) and node.name.lower() in {"list_contains", "array_contains", "list_has"}:
            return exp.Anonymous(this="has", expressions=[e.copy() for e in node.expressions])
        if isinstance(node, exp.TryCast) and node.to.is_type(*exp.DataType.REAL_TYPES, exp.DataType.Type.DOUBLE):
            return _to_float(node.this.copy())
        if isinstance(node, exp.TryCast) and node.to.is_type(*exp.DataType.INTEGER_TYPES):
            return exp.Anonymous(
                this="toInt64OrNull", expressions=[exp.Anonymous(this="toString", expressions=[node.this.copy()])]
            )
        if isinstance(node, exp.Length | exp.ArraySize):
            arg = node.this
            is_array = (
                isinstance(node, exp.ArraySize)
                or isinstance(arg, exp.Array | exp.ArrayAgg | exp.GenerateSeries | exp.Split | exp.JSONKeys)
                or (isinstance(arg, exp.Column) and arg.name.lower() in ARRAY_COLUMNS)
                or (
                    isinstance(arg, exp.Func)
                    and (arg.sql_name() or "").lower().startswith(("list", "array_", "string_split"))
                )
            )
            return exp.Anonymous(this="length" if is_array else "lengthUTF8", expressions=[arg.copy()])
        if isinstance(node, exp.Median):
            return _quantile(0.5, node.this)
        if isinstance(node, exp.Quantile | exp.PercentileCont) and isinstance(
            node.args.get("quantile") or node.expression, exp.Literal
        ):
            q = node.args.get("quantile") or node.expression
            return _quantile(float(q.name), node.this)
        if (
            isinstance(node, exp.Anonymous)
            and node.name.lower() in {"quantile_cont", "quantile"}
            and len(node.expressions) == 2
        ):
            q = node.expressions[1]
            if isinstance(q, exp.Literal):
                return _quantile(float(q.name), node.expressions[0])
        if isinstance(node, exp.Anonymous) and node.name.lower() == "epoch" and len(node.expressions) == 1:
            return _epoch(node.expressions[0])
        if isinstance(node, exp.TimeToUnix):
            return _epoch(node.this)
        if isinstance(node, exp.JSONKeys | exp.JSONType):
            return _json_function(node)
        return node


#: ClickHouse's JSONType names as DuckDB's json_type answers them (integers: see _json_function).
_JSON_TYPES = {
    "Object": "OBJECT",
    "Array": "ARRAY",
    "String": "VARCHAR",
    "Double": "DOUBLE",
    "Bool": "BOOLEAN",
    "Null": "NULL",
}


def _json_function(node: exp.JSONKeys | exp.JSONType) -> exp.Expression:
    """DuckDB's ``json_keys(x[, path])`` and ``json_type(x[, path])`` in ClickHouse.

    ``json_keys`` becomes ``JSONExtractKeys`` (ClickHouse has no Nullable array: the keys of NULL are
    ``[]``, DuckDB's NULL, the same under ``unnest``). ``json_type`` becomes ``JSONType`` with
    DuckDB's names ('OBJECT', 'VARCHAR', 'UBIGINT' for an integer >= 0, 'BIGINT' below), NULL for
    a NULL value and a missing key (ClickHouse says 'Null' for both, as for a JSON null)."""
    path = node.args.get("expression")
    keys = _path_keys(path) if path is not None else []
    if keys is None:
        raise QueryError("json_keys/json_type on ClickHouse take a constant path such as '$.a.b'", node.sql())
    value = node.this.copy()
    args = [exp.Literal.string(k) for k in keys]
    if isinstance(node, exp.JSONKeys):
        text = exp.Anonymous(this="ifNull", expressions=[value, exp.Literal.string("")])
        return exp.Anonymous(this="JSONExtractKeys", expressions=[text, *args])
    kind = exp.Anonymous(
        this="toString", expressions=[exp.Anonymous(this="JSONType", expressions=[value.copy(), *args])]
    )
    case = exp.Case()
    for theirs, ours in _JSON_TYPES.items():
        case = case.when(exp.EQ(this=kind.copy(), expression=exp.Literal.string(theirs)), exp.Literal.string(ours))
    negative = exp.LT(
        this=exp.Anonymous(this="JSONExtractInt", expressions=[value.copy(), *args]), expression=exp.Literal.number(0)
    )
    case = case.when(
        exp.In(this=kind.copy(), expressions=[exp.Literal.string("Int64"), exp.Literal.string("UInt64")]),
        exp.If(this=negative, true=exp.Literal.string("BIGINT"), false=exp.Literal.string("UBIGINT")),
    )
    if keys:
        has = exp.Anonymous(this="JSONHas", expressions=[value.copy(), *args])
        return exp.If(this=has, true=case, false=exp.Null())
    return case


def _series(table: exp.Table) -> exp.Expression:
    """DuckDB's ``range(a, b, s)`` (end excluded, column ``range``) and ``generate_series`` (end
    included) in FROM as a subquery over ClickHouse's ``numbers`` (sqlglot writes
    GENERATE_SERIES, which ClickHouse does not know in capitals, and drops the exclusive end)."""
    series = table.this
    exclusive = bool(series.args.get("is_end_exclusive"))

    def arg(name: str, default: str) -> str:
        value = series.args.get(name)
        return value.sql(dialect="clickhouse") if value is not None else default

    start, end, step = arg("start", "0"), arg("end", "0"), arg("step", "1")
    column = "range" if exclusive else "generate_series"
    count = f"ceil(({end} - ({start})) / ({step}))" if exclusive else f"floor(({end} - ({start})) / ({step})) + 1"
    alias = table.alias or column
    sub = _ch(
        f"(SELECT toInt64(({start}) + number * ({step})) AS `{column}` "
        f"FROM numbers(toUInt64(greatest(0, {count})))) AS `{alias}`"
    )
    return sub


def _epoch(value: exp.Expression) -> exp.Expression:
    micros = exp.Anonymous(
        this="toUnixTimestamp64Micro",
        expressions=[
            exp.Anonymous(
                this="toDateTime64", expressions=[value.copy(), exp.Literal.number(6), exp.Literal.string("UTC")]
            )
        ],
    )
    return exp.Paren(this=exp.Div(this=micros, expression=exp.Literal.number("1e6")))


def _quantile(q: float, value: exp.Expression) -> exp.Expression:
    return _ch(f"quantileExactInclusive({q!r})(x)").transform(
        lambda n: value.copy() if isinstance(n, exp.Column) and n.name == "x" else n
    )


def _path_keys(path: exp.Expression | None) -> list[str] | None:
    """Keys of a constant JSON path ``$.a.b`` / ``$."a"`` (sqlglot's JSONPath), else None."""
    if isinstance(path, exp.JSONPath):
        keys = []
        for part in path.expressions:
            if isinstance(part, exp.JSONPathRoot):
                continue
            if isinstance(part, exp.JSONPathKey) and isinstance(part.this, str):
                keys.append(part.this)
            else:
                return None
        return keys or None
    if isinstance(path, exp.Literal) and path.is_string:
        text = path.name
        if text.startswith("$."):
            return [k.strip('"') for k in text[2:].split(".")]
        return [text]
    return None


def translate(query: str, source_names: set[str], *, timeout_s: float = 20.0) -> tuple[exp.Query, str]:
    """Check ``query`` (DuckDB dialect) as the DuckDB engine does and translate it; returns the
    checked tree and the ClickHouse SQL of its body (without our CTEs). Raises QueryError."""
    tree = parse_query(query, max_chars=max_query_chars(timeout_s))
    try:
        check_tree(tree, source_names, query)
        check_names(tree, query)  # DuckDB's functions only: a ClickHouse name would reach ClickHouse
        aliases = {t.alias_or_name for t in tree.find_all(exp.Table) if t.alias_or_name}
        rewritten = tree.transform(_Rewriter(source_names | aliases))
        _cast_json_compared_to_numbers(rewritten)
        sql = rewritten.sql(dialect="clickhouse")
        check_calls(sql, query)
        return rewritten, sql
    except RecursionError:
        raise QueryError("the query is nested too deeply to check: write it flatter", query) from None


def _cast_json_compared_to_numbers(tree: exp.Expression) -> None:
    """``metadata.turns > 3`` compares a number, as in the DuckDB engine."""
    for node in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE):
        for side, other in (("this", node.expression), ("expression", node.this)):
            value = node.args.get(side)
            inner = value.this if isinstance(value, exp.Paren) else value
            if (
                inner is not None
                and inner.meta.get("json_text")
                and isinstance(other, exp.Literal)
                and not other.is_string
            ):
                node.set(side, _to_float(value.copy()))
