"""How a code scorer's pattern is learned from errors, and how well it does on the logs it came from.

A pattern for "these errors" is built from whole error messages with what varies masked (urls,
model names, ids, hex, quoted names, numbers: the masks of the common-errors grouping), never cut
inside a mask. Groups are added, most frequent first, until they cover the errors. Before a scorer
is confirmed, :func:`measure_pattern` applies the pattern the way the generated scorer will (output
plus the trace's errors) and reports its recall on the error traces and its false-positive rate on
the others. Nothing here runs generated code: the pattern is compiled and searched, no more.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..frame import loads
from ..tools.text import ERROR_MESSAGE_MASKS as _MASKS

#: Each mask of :data:`loop_jupyter.tools.text.ERROR_MESSAGE_MASKS` (the common-errors grouping) back to a regular expression.
_PLACEHOLDER_REGEX = {
    "<url>": r"\S+",
    "<model>": r"[\w.:@-]+",
    "<id>": r"[\w-]+",
    "<hex>": r"(?:0x)?[0-9a-fA-F]+",
    "<str>": r"""(?:'[^']*'|\\?"[^"]*?\\?")""",
    "`<name>`": r"`[^`]*`",
    "<n>": r"\d+(?:\.\d+)?",
}
_PLACEHOLDER = re.compile("(" + "|".join(re.escape(p) for p in sorted(_PLACEHOLDER_REGEX, key=len, reverse=True)) + ")")
_COMPILED_MASKS = [(re.compile(p), r) for p, r in _MASKS]
#: Longest learned message (in normalised characters); a longer one is cut between masks, never inside.
MAX_CHARS = 160
#: Groups are added until they hold this share of the error spans (or MAX_GROUPS is reached).
COVERAGE = 0.98
MAX_GROUPS = 15


def _parse(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return loads(value)
    except ValueError:
        return value


def error_text(error: str | None) -> str:
    """The first line of an error as the scorer will see it (the message of an error object)."""
    parsed = _parse(error)
    if isinstance(parsed, dict):
        parsed = parsed.get("message") or parsed.get("type") or parsed.get("name") or parsed.get("error") or parsed
        if not isinstance(parsed, str):
            parsed = json.dumps(parsed, ensure_ascii=False)
    text = str(parsed if parsed is not None else "").strip()
    return text.splitlines()[0].strip() if text else ""


def mask(text: str) -> str:
    """``text`` with what varies between occurrences masked (the common-errors masks)."""
    for pattern, replacement in _COMPILED_MASKS:
        text = pattern.sub(replacement, text)
    return text.replace("'<name>'", "<str>").replace('"<name>"', "<str>").strip()


def _to_regex(masked: str, limit: int = MAX_CHARS) -> str:
    """A regex for a masked message; cut at ``limit`` characters between placeholders, never inside one."""
    out, used = [], 0
    for piece in _PLACEHOLDER.split(masked):
        if not piece:
            continue
        if piece in _PLACEHOLDER_REGEX:
            if used + len(piece) > limit:
                break
            out.append(_PLACEHOLDER_REGEX[piece])
        else:
            piece = piece[: max(0, limit - used)]
            out.append(re.escape(piece).replace("\\ ", " "))
        used += len(piece)
        if used >= limit:
            break
    return "".join(out).rstrip()


def errors_pattern(frame: pl.DataFrame, max_groups: int = MAX_GROUPS) -> tuple[str, list[tuple[str, int]]]:
    """A regex for the errors of ``frame`` and the masked messages it is made of with their counts
    (most frequent first, enough of them to cover :data:`COVERAGE` of the error spans)."""
    kinds = Counter(mask(t) for t in (error_text(e) for e in frame.get_column("error").drop_nulls().to_list()) if t)
    total = sum(kinds.values())
    chosen: list[tuple[str, int]] = []
    covered = 0
    for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
        if chosen and (covered >= COVERAGE * total or len(chosen) >= max_groups):
            break
        chosen.append((kind, n))
        covered += n
    parts = [p for p in (_to_regex(k) for k, _ in chosen) if p]
    return "|".join(f"(?:{p})" for p in parts), chosen


def _text(value: Any) -> str:
    # The generated scorer's own _text (CODE_TEMPLATE in scorers.py).
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@dataclass
class PatternCheck:
    """How a pattern does on the traces it was learned from, as the scorer will apply it."""

    positives: int  # traces holding one of the errors the pattern is for
    caught: int  # of those, flagged (score 0)
    negatives: int  # the other traces
    false_positives: int  # of those, flagged
    missed_examples: list[str]
    #: Why the pattern was not measured ('' when it was): see :func:`measure_pattern`.
    unmeasured: str = ""

    @property
    def recall(self) -> float | None:
        return self.caught / self.positives if self.positives else None

    @property
    def false_positive_rate(self) -> float | None:
        return self.false_positives / self.negatives if self.negatives else None

    def summary(self) -> str:
        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{100 * v:.1f}%"

        if self.unmeasured:
            return f"Not measured on these logs: {self.unmeasured}."
        text = (
            f"On the logs it comes from: flags {self.caught:,} of {self.positives:,} traces with these errors "
            f"(recall {pct(self.recall)}) and {self.false_positives:,} of {self.negatives:,} other traces "
            f"(false-positive rate {pct(self.false_positive_rate)})."
        )
        if self.missed_examples:
            text += " Missed, e.g.: " + " | ".join(e[:120] for e in self.missed_examples[:3])
        return text


def measure_pattern(traces: pl.DataFrame, logs: pl.DataFrame, pattern: str, positive_roots: set[str]) -> PatternCheck:
    """Apply ``pattern`` to each trace as the generated code scorer will (the root output, then the
    trace's span errors as ``metadata["error"]``) and count hits among ``positive_roots`` and the rest.

    Searched by Polars' Rust regex (linear time), not Python's backtracking ``re``: the pattern can
    come from a model (``create_scorer``), and ``(a+)+b`` over a crafted output held the kernel for
    hours. A pattern Rust cannot run (look-around, back-references) is not measured; the saved
    scorer runs it in its own time-limited process."""
    try:
        pl.Series([""], dtype=pl.String).str.contains("(?i)" + pattern)
    except pl.exceptions.PolarsError:
        reason = "the pattern uses look-around or back-references, which the measurement does not run"
        return PatternCheck(0, 0, 0, 0, [], unmeasured=reason)
    errors = logs.filter(pl.col("error").is_not_null()).group_by("root_span_id").agg(errors=pl.col("error"))
    rows = traces.select("root_span_id", "output", "metadata").join(
        errors, on="root_span_id", how="left", maintain_order="left"
    )
    caught = false_positives = positives = 0
    missed: list[str] = []
    texts = []
    for _root, output, metadata, errs in rows.iter_rows():
        meta = _parse(metadata)
        meta = dict(meta) if isinstance(meta, dict) else {"value": meta} if meta else {}
        if errs:
            parsed = [_parse(e) for e in errs]
            meta["error"] = parsed[0] if len(parsed) == 1 else parsed
        texts.append(_text(_parse(output)) + "\n" + _text(meta.get("error")))
    # Lone surrogates (an output's JSON can escape half an emoji) as U+FFFD: Polars holds UTF-8.
    utf8 = [re.sub("[\ud800-\udfff]", "\ufffd", text) for text in texts]
    found = pl.Series(utf8, dtype=pl.String).str.contains("(?i)" + pattern).to_list()
    for (root, _output, _metadata, errs), text, hit in zip(rows.iter_rows(), texts, found, strict=True):
        flagged = bool(text.strip()) and bool(hit)
        if root in positive_roots:
            positives += 1
            caught += flagged
            if not flagged and errs and len(missed) < 3:
                missed.append(error_text(errs[0]))
        else:
            false_positives += flagged
    return PatternCheck(positives, caught, rows.height - positives, false_positives, missed)
