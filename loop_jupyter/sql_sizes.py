"""Sizes of the single values a query would build, estimated on its sqlglot parse tree.

DuckDB neither interrupts nor memory-limits the building of one value: it checks the time limit
between chunks of 2,048 rows, and the strings and lists inside a chunk are not held to the memory
limit. So a value of N characters built on every row costs about 2,048 x N before DuckDB can be
stopped. ``printf('%1500000000d', 1)`` ran 25 s and took 3 GB under a 2 s / 256 MB engine, and
``max(len(range(10000000))) FROM range(20)`` 72 s. The caps here keep one chunk's work to a few
hundred megabytes and well under a second: sizes given by constants are estimated (nesting and
padding multiply: ``repeat(repeat('x', 1e7), 1e3)``, ``array_to_string(range(1e7), sep)``) and
refused past the cap; sizes computed from the data are guarded at run time by ``sql_guard``.
"""

from __future__ import annotations

import re

from sqlglot import exp

#: Characters of one string value built by repeat/pad/printf/format/replace/concatenation.
MAX_STRING = 100_000
#: Elements of one list value built by range/generate_series/list_resize/repeat of a list.
MAX_LIST = 10_000

#: A printf conversion: flags, width, precision (``*`` takes them from the arguments).
_PRINTF = re.compile(r"%(?:%|[-+ #0']*(\*|\d+)?(?:\.(\*|\d*))?[a-zA-Z])")
#: A fmt replacement field ``{[arg][:spec]}``; ``{{``/``}}`` are literal braces.
_FMT_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)(\{)?")
_LIST_BUILDERS = {"LIST_RESIZE", "ARRAY_RESIZE"}


def number(node: exp.Expression | None) -> float | None:
    """The value of a constant numeric argument (``2000 * 1000000`` folds), else None."""
    if node is None or not isinstance(node, exp.Expression):
        return None
    if not (isinstance(node, exp.Literal) and node.is_number):
        from sqlglot.optimizer.simplify import simplify

        try:
            node = simplify(node.copy())
        except Exception:  # simplify is best-effort; an odd expression is simply not constant
            return None
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        value = number(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Literal) and node.is_number:
        try:
            return float(node.this)
        except ValueError:
            return None
    return None


def format_width(node: exp.Expression) -> tuple[float | None, str | None]:
    """For printf/format calls: (characters the format's widths and precisions add, None), or
    (None, reason) when the format cannot be bounded (not a literal, or a width taken from an
    argument). Other nodes: (0, None)."""
    name = node.name.upper() if isinstance(node, exp.Anonymous) else ""
    if isinstance(node, exp.Format) or name == "FORMAT":
        fmt, style = (node.this if isinstance(node, exp.Format) else (node.expressions or [None])[0]), "fmt"
    elif name in {"PRINTF", "SPRINTF"}:
        fmt, style = (node.expressions or [None])[0], "printf"
    else:
        return 0.0, None
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return None, f"{name.lower() or 'format'} needs a literal format string"
    text, total = fmt.this, float(len(fmt.this))
    if style == "printf":
        for match in _PRINTF.finditer(text):
            for part in match.groups():
                if part == "*":
                    return None, "printf widths must be written in the format (no '*')"
                total += float(part) if part else 0.0
    else:
        for match in _FMT_FIELD.finditer(text):
            if match.group(2):
                return None, "format widths must be written in the format (no nested '{}')"
            spec = (match.group(1) or "").partition(":")[2]
            total += sum(float(digits) for digits in re.findall(r"\d+", spec))
    return total, None


class Sizes:
    """Upper estimates of value sizes (characters, or elements for lists), None when unknown."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[float | None, bool]] = {}

    def of(self, node: exp.Expression | None) -> tuple[float | None, bool]:
        """(size, is_list) of the value ``node`` builds; size None when it depends on the data."""
        if node is None:
            return None, False
        key = id(node)
        if key not in self._memo:
            self._memo[key] = self._of(node)
        return self._memo[key]

    def _sum(self, nodes: list[exp.Expression]) -> tuple[float | None, bool]:
        sizes = [self.of(n) for n in nodes]
        if any(size is None for size, _ in sizes):
            return None, any(is_list for _, is_list in sizes)
        return sum(size or 0.0 for size, _ in sizes), any(is_list for _, is_list in sizes)

    def _of(self, node: exp.Expression) -> tuple[float | None, bool]:
        if isinstance(node, exp.Paren | exp.Cast | exp.TryCast):
            return self.of(node.this)
        if isinstance(node, exp.Literal):
            return float(len(str(node.this))), False
        if isinstance(node, exp.Array):
            return float(len(node.expressions)), True
        if isinstance(node, exp.GenerateSeries):
            start, end, step = (node.args.get(k) for k in ("start", "end", "step"))
            values = [number(v) for v in (start, end, step) if v is not None]
            if len(values) != len([v for v in (start, end, step) if v is not None]) or end is None:
                return None, True
            first, last = (number(start) or 0.0) if start is not None else 0.0, number(end) or 0.0
            return abs(last - first) / max(abs(number(step) or 1.0), 1e-9) + 1, True
        if isinstance(node, exp.Anonymous) and node.name.upper() in _LIST_BUILDERS and len(node.expressions) >= 2:
            width = number(node.expressions[1])
            return (None if width is None else abs(width)), True
        if isinstance(node, exp.Repeat):
            (size, is_list), times = self.of(node.this), number(node.args.get("times"))
            return (None if size is None or times is None else max(size, 1.0) * max(times, 0.0)), is_list
        if isinstance(node, exp.Pad):
            width = number(node.args.get("expression"))
            return (None if width is None else abs(width)), False
        if isinstance(node, exp.DPipe | exp.ArrayConcat | exp.Concat):
            parts = [node.this] if node.this is not None else []
            parts += [node.expression] if isinstance(node, exp.DPipe) else list(node.expressions)
            return self._sum([p for p in parts if isinstance(p, exp.Expression)])
        if isinstance(node, exp.Replace | exp.RegexpReplace):
            (size, _), (replacement, _) = self.of(node.this), self.of(node.args.get("replacement"))
            if size is None or replacement is None:
                return None, False
            return size * max(replacement, 1.0), False
        if isinstance(node, exp.ArrayToString):
            (elements, _), (separator, _) = self.of(node.this), self.of(node.args.get("expression"))
            if elements is None or separator is None:
                return None, False
            return elements * (separator + 1.0), False
        width, problem = format_width(node)
        if width and problem is None:
            args = node.expressions[1:] if isinstance(node, exp.Anonymous) else list(node.expressions)
            size, _ = self._sum(args)
            return (None if size is None else width + size), False
        return None, False


def oversized(node: exp.Expression, sizes: Sizes) -> str | None:
    """Why ``node`` would build a value past the caps (or has an unbounded format), else None."""
    width, problem = format_width(node)
    if problem:
        return problem
    if width and width > MAX_STRING:
        return f"the format pads to about {width:,.0f} characters (more than {MAX_STRING:,})"
    if isinstance(node.parent, exp.Table):  # range/generate_series in FROM stream rows
        return None
    size, is_list = sizes.of(node)
    cap = MAX_LIST if is_list else MAX_STRING
    if size is not None and size > cap and not isinstance(node, exp.Literal | exp.Array):
        what = "elements" if is_list else "characters"
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name() if isinstance(node, exp.Func) else "||"
        return f"{name.lower()} would build a single value of about {size:,.0f} {what} (more than {cap:,})"
    return None
