"""The SQL guard: what a query may be, checked on its sqlglot parse tree before DuckDB runs it.

Models write these queries. The guard allows one read-only SELECT over the engine's own views,
refuses file, network and system functions and table functions, and bounds the size of single
values that DuckDB would build in one piece (neither interruptible nor memory-limited).
``loop_jupyter.engine`` runs what passes on a locked DuckDB connection.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from .sql_sizes import MAX_LIST, MAX_STRING, Sizes, oversized
from .sql_sizes import number as _number

#: Table functions that generate rows from nothing outside the database.
_ALLOWED_TABLE_FUNCTIONS = (exp.Unnest, exp.GenerateSeries, exp.ExplodingGenerateSeries)
_FORBIDDEN_FUNCTION = re.compile(
    r"^(read_|parquet_|sniff_|glob$|query$|query_table$|getenv$|iceberg|delta_|postgres|sqlite|mysql|"
    r"http|s3|ducklake|from_|current_setting$|duckdb_|pragma_|load|install|checkpoint|which_secret|"
    r"json_execute_serialized|summary$)",
    re.IGNORECASE,
)
#: Scalar functions that build one value (a string or a list) of a size given by an argument:
#: DuckDB neither interrupts nor memory-limits the building of one value (see sql_sizes). A
#: constant size past the cap is refused up front (sql_sizes.oversized); a size computed from the
#: data is guarded at run time (guard_sizes). As a table function in FROM, ``range`` and
#: ``generate_series`` stream rows and stay under the time limit.
MAX_GENERATED = MAX_STRING
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    node
    for node in (
        getattr(exp, name, None)
        for name in ("Into", "Command", "Pragma", "Set", "Copy", "Attach", "Detach", "Install", "Use", "Export")
    )
    if node is not None
)


class QueryError(ValueError):
    """A query that was refused or failed: ``reason`` says why, ``sql`` is what was run."""

    def __init__(self, reason: str, sql: str) -> None:
        super().__init__(f"{reason}\n  SQL: {sql.strip()[:2000]}")
        self.reason = reason
        self.sql = sql


#: Nesting (parentheses, brackets, braces) past this depth is refused before parsing: sqlglot's
#: recursive parser needs about 20 Python frames per level and stops with a RecursionError near 45
#: (which is caught too, and is a QueryError as well).
MAX_NESTING = 40
#: Characters of query text per second of the engine's time limit (and at least this many in all):
#: parsing runs before DuckDB and cannot be interrupted, so the text is bounded by what sqlglot
#: parses within the limit (20,000-90,000 characters a second on a slow 2-core machine, less for\n#: long chains of operators).
QUERY_CHARS_PER_SECOND = 20_000
MIN_QUERY_CHARS = 40_000
#: Parse trees deeper than this are refused before checking (DuckDB itself stops at 1,000
#: expression levels; checking and rewriting a tree thousands of levels deep takes seconds).
MAX_TREE_DEPTH = 600

_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}
_NAME_TOKENS = {TokenType.VAR, TokenType.IDENTIFIER}


def max_query_chars(timeout_s: float) -> int:
    return max(MIN_QUERY_CHARS, int(timeout_s * QUERY_CHARS_PER_SECOND))


def _rewrite_includes(text: str, tokens: list[Token]) -> str:
    """Braintrust's ``tags INCLUDES 'x'`` as ``list_contains(tags, 'x')``, found on the tokens (so
    never inside a string literal or a comment, and in linear time): a dotted name, the word
    INCLUDES, a string literal."""
    edits: list[tuple[int, int, str]] = []
    for i, token in enumerate(tokens):
        if not (token.token_type == TokenType.VAR and token.text.upper() == "INCLUDES" and 0 < i < len(tokens) - 1):
            continue
        value = tokens[i + 1]
        if value.token_type != TokenType.STRING or tokens[i - 1].token_type not in _NAME_TOKENS:
            continue
        first = i - 1
        while (
            first >= 2
            and tokens[first - 1].token_type == TokenType.DOT
            and tokens[first - 2].token_type in _NAME_TOKENS
        ):
            first -= 2
        start, end = tokens[first].start, value.end + 1
        if edits and start <= edits[-1][1]:
            continue
        column = text[start : tokens[i - 1].end + 1]
        edits.append((start, end, f"list_contains({column}, {text[value.start : end]})"))
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    return text


def _depth(tree: exp.Expression) -> int:
    """How deep the parse tree goes (walked without recursion)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        # AND/OR chains are flat lists to sqlglot and DuckDB alike: a chain counts as one level.
        stack.extend(
            (child, depth if isinstance(node, exp.Connector) and type(child) is type(node) else depth + 1)
            for child in node.iter_expressions()
        )
    return deepest


def parse_query(query: str, *, max_chars: int) -> exp.Query:
    """The one read-only query ``query`` holds, with ``INCLUDES`` rewritten; raises QueryError for
    text that is too long or nested too deeply, does not parse, or is not one SELECT."""
    text = query.strip().rstrip(";")
    if len(text) > max_chars:
        raise QueryError(
            f"the query is {len(text):,} characters long, over the limit of {max_chars:,}: "
            "write it shorter (aggregate, or filter on a column instead of listing values)",
            query,
        )
    dialect = sqlglot.Dialect.get_or_raise("duckdb")
    try:
        tokens = dialect.tokenize(text)
        depth = deepest = 0
        for token in tokens:
            if token.token_type in _OPEN:
                depth += 1
                deepest = max(deepest, depth)
            elif token.token_type in _CLOSE:
                depth -= 1
        if deepest > MAX_NESTING:
            raise QueryError(f"the query nests {deepest} levels deep, over the limit of {MAX_NESTING}", query)
        rewritten = _rewrite_includes(text, tokens)
        if rewritten != text:
            tokens = dialect.tokenize(rewritten)
        statements = [s for s in dialect.parser().parse(tokens, rewritten) if s is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as exc:
        raise QueryError(f"could not parse the SQL: {str(exc).splitlines()[0]}", query) from None
    except RecursionError:
        raise QueryError("the query is nested too deeply to check: write it flatter", query) from None
    if len(statements) != 1:
        raise QueryError(f"exactly one statement is allowed, got {len(statements)}", query)
    tree = statements[0]
    if _depth(tree) > MAX_TREE_DEPTH:
        raise QueryError(
            f"the query's expressions nest more than {MAX_TREE_DEPTH} levels deep "
            "(e.g. a chain of thousands of operators): write it flatter",
            query,
        )
    if not isinstance(tree, exp.Query):
        raise QueryError(f"only read-only SELECT queries are allowed, not {tree.key.upper()}", query)
    return tree


def guard_sizes(tree: exp.Expression) -> exp.Expression:
    """Sizes computed from the data (``repeat(input, tokens * 1000000)``) cannot be checked before
    running: each such size argument is wrapped in a CASE that raises an error once the value
    would pass its cap (sql_sizes), before DuckDB starts building it. Literal sizes were checked already
    and stay as written; a guarded column keeps its name (the expression as the user wrote it)."""

    def guarded(size_sql: str, value: exp.Expression, name: str, cap: int = MAX_STRING) -> exp.Expression:
        message = (
            f"{name} would build a single value of more than {cap:,} elements: "
            "aggregate or generate rows with FROM range(...)"
        )
        return sqlglot.parse_one(
            f"CASE WHEN {size_sql} > {cap} THEN error('{message}') ELSE ({value.sql(dialect='duckdb')}) END",
            read="duckdb",
        )

    def computed(node: exp.Expression | None) -> bool:
        return node is not None and _number(node) is None

    def transform(node: exp.Expression) -> exp.Expression:
        if isinstance(node.parent, exp.Table):  # range/generate_series in FROM stream rows
            return node
        if isinstance(node, exp.Repeat) and (computed(node.args.get("times")) or Sizes().of(node)[0] is None):
            # A constant count of a value from the data (repeat(input, 1000)) is guarded too.
            times, this = node.args["times"], node.this.sql(dialect="duckdb")
            size = f"({times.sql(dialect='duckdb')}) * greatest(len({this}), 1)"
            cap = MAX_LIST if isinstance(node.this, exp.Array) else MAX_STRING
            node.set("times", guarded(size, times, "repeat", cap))
        elif isinstance(node, exp.Pad) and computed(node.args.get("expression")):
            width = node.args["expression"]
            node.set("expression", guarded(f"({width.sql(dialect='duckdb')})", width, "pad"))
        elif (
            isinstance(node, exp.GenerateSeries)
            and any(computed(node.args.get(k)) for k in ("start", "end", "step"))
            # Numbers only: a series of dates or timestamps steps by an interval, and arithmetic
            # written for numbers would not bind on it.
            and (node.args.get("step") is None or _number(node.args["step"]) is not None)
        ):
            start, end, step = (node.args.get(k) for k in ("start", "end", "step"))
            begin = start.sql(dialect="duckdb") if start is not None else "0"
            stride = step.sql(dialect="duckdb") if step is not None else "1"
            size = f"abs(({end.sql(dialect='duckdb')}) - ({begin})) / greatest(abs({stride}), 1)"
            node.set("end", guarded(size, end, "generate_series", MAX_LIST))
        elif (
            isinstance(node, exp.Anonymous)
            and node.name.upper() in {"LIST_RESIZE", "ARRAY_RESIZE"}
            and len(node.expressions) >= 2
            and computed(node.expressions[1])
        ):
            width = node.expressions[1]
            node.expressions[1] = guarded(f"({width.sql(dialect='duckdb')})", width, node.name.lower(), MAX_LIST)
        return node

    projections = tree.expressions if isinstance(tree, exp.Select) else []
    names = [None if isinstance(p, exp.Alias | exp.Star) else p.sql(dialect="duckdb") for p in projections]
    tree = tree.transform(transform, copy=False)
    if isinstance(tree, exp.Select):
        for index, (projection, name) in enumerate(zip(tree.expressions, names, strict=False)):
            if name is not None and projection.sql(dialect="duckdb") != name:
                tree.expressions[index] = exp.alias_(projection, name, quoted=True)
    return tree


def _fold(name: str) -> str:
    """A name as DuckDB matches it: ASCII case folded only (a non-ASCII name must match exactly,
    so no Unicode case rule can make two names equal here that DuckDB keeps apart)."""
    return name.lower() if name.isascii() else name


def visible_ctes(table: exp.Table) -> set[str]:
    """The CTE names a table reference can resolve to in DuckDB, walking its own scope chain.

    A CTE is visible in the body of the query that defines it (and everything nested there) and
    in the CTEs defined after it in the same WITH. A CTE's own name is visible inside it only in
    the recursive arm of a ``WITH RECURSIVE`` CTE written ``anchor UNION [ALL] recursive``: in the
    anchor, and in a CTE that is no such union, DuckDB reads the name from the catalog
    (``WITH RECURSIVE pg_settings AS (SELECT * FROM pg_settings)`` reads the real settings).
    Names of CTEs defined elsewhere in the query (a subquery's WITH) are not visible.
    """
    visible: set[str] = set()
    path: list[exp.Expression] = [table]
    node: exp.Expression | None = table
    while node is not None and node.parent is not None:
        parent = node.parent
        with_ = parent.args.get("with_") if isinstance(parent, exp.Expression) else None
        if isinstance(with_, exp.With):
            ctes = [cte for cte in with_.expressions if isinstance(cte, exp.CTE)]
            if node is with_:
                # Inside one of this WITH's CTEs: path[-2] is that CTE.
                cte = path[-2] if len(path) >= 2 else None
                index = next((i for i, c in enumerate(ctes) if c is cte), len(ctes))
                visible.update(_fold(c.alias_or_name) for c in ctes[:index])
                body = cte.this if isinstance(cte, exp.CTE) else None
                if (
                    with_.args.get("recursive")
                    and isinstance(body, exp.Union)
                    and len(path) >= 4
                    and path[-3] is body
                    and path[-4] is body.args.get("expression")
                ):
                    visible.add(_fold(cte.alias_or_name))
            else:
                visible.update(_fold(c.alias_or_name) for c in ctes)
        path.append(parent)
        node = parent
    return visible


def check_tree(tree: exp.Expression, source_names: set[str], query: str) -> None:
    """Refuse a query tree that is not one read-only SELECT over ``source_names``: forbidden
    statements, unknown or qualified tables, table functions, file/system functions, and values
    of a constant size past the caps of sql_sizes. Raises QueryError."""
    allowed = {_fold(name) for name in source_names}
    sizes = Sizes()
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise QueryError(f"{node.key.upper()} is not allowed: queries are read-only", query)
        if isinstance(node, exp.Table):
            inner = node.this
            if isinstance(inner, _ALLOWED_TABLE_FUNCTIONS):
                continue
            if not isinstance(inner, exp.Identifier):
                raise QueryError(f"table function {inner.sql(dialect='duckdb')[:80]} is not allowed", query)
            if node.args.get("db") or node.args.get("catalog"):
                raise QueryError(f"qualified table {node.sql(dialect='duckdb')} is not allowed", query)
            if _fold(inner.name) not in allowed and _fold(inner.name) not in visible_ctes(node):
                raise QueryError(f"unknown table {inner.name!r}: query {', '.join(sorted(source_names))}", query)
        if isinstance(node, exp.Func | exp.DPipe):
            problem = oversized(node, sizes)
            if problem:
                hint = ": aggregate or generate rows with FROM range(...)" if "would build" in problem else ""
                raise QueryError(problem + hint, query)
        if isinstance(node, exp.Func):
            name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
            if _FORBIDDEN_FUNCTION.match(name or ""):
                raise QueryError(f"function {name} is not allowed (no file, network or system access)", query)
