"""Failed questions: the traces with errors, named by the question that started them.

A trace is one question (or request) when its root span's input holds the person's text; this is
how Loop's own run log (``.loop/runs``) is shaped, and how most chat apps log a turn. "Failed":
the trace has an error in any span. ``outcome`` says whether the run itself ended in an error
(the root span has one: no answer) or errors happened inside an answered run (a tool or model
call failed and the run went on).
"""

from __future__ import annotations

import orjson
import polars as pl

from ..artifacts import SqlFilter, Table, ToolResult
from ..tools import ToolContext, tool
from ._across import clip, code, restrict, selected_roots, user_messages

TEXT_ROWS = 20


def _question(input_json: str | None) -> str:
    messages = user_messages(input_json)
    if messages:
        return messages[-1]
    return input_json or ""


def _error_text(error_json: str | None) -> str:
    """An error as text: a JSON string decoded, anything else (an object) as its JSON."""
    try:
        value = orjson.loads(error_json or "null")
    except orjson.JSONDecodeError:
        return error_json or ""
    return value if isinstance(value, str) else (error_json or "")


def failed_question_rows(logs: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """(one row per trace with an error, number of traces): created, question, outcome, errors,
    first error span and message. Failed runs first, then the newest."""
    roots = logs.filter(pl.col("is_root"))
    errors = logs.filter(pl.col("error").is_not_null())
    if errors.height == 0:
        return pl.DataFrame(), roots.height
    first = (
        errors.sort(pl.coalesce("start", "created"), "depth", "id", nulls_last=True)
        .group_by("root_span_id", maintain_order=True)
        .agg(
            errors=pl.len(),
            first_error_span=pl.col("name").first(),
            first_error=pl.col("error").first(),
        )
    )
    rows = (
        first.join(
            roots.select("root_span_id", "created", "input", root_error=pl.col("error")),
            on="root_span_id",
            how="left",
        )
        .with_columns(
            question=pl.col("input").map_elements(_question, return_dtype=pl.String, skip_nulls=False),
            outcome=pl.when(pl.col("root_error").is_not_null())
            .then(pl.lit("failed"))
            .otherwise(pl.lit("errors inside")),
        )
        .with_columns(
            first_error=pl.coalesce("root_error", "first_error").map_elements(_error_text, return_dtype=pl.String),
            first_error_span=pl.when(pl.col("root_error").is_not_null())
            .then(pl.lit("(the run)"))
            .otherwise(pl.col("first_error_span")),
        )
        .sort(
            [pl.col("outcome") == "failed", "created", "root_span_id"], descending=[True, True, False], nulls_last=True
        )
        .select("root_span_id", "created", "question", "outcome", "errors", "first_error_span", "first_error")
    )
    return rows, roots.height


@tool(
    phrases=(
        r"\b(which|what)\s+(of\s+)?(my\s+|the\s+|our\s+)?(questions|requests|asks|prompts|runs)\s+"
        r"(have\s+|had\s+|did\s+)?(fail|failed|errored|went wrong|broke|crashed)\b",
        r"\bfail(ed|ing)\s+(questions|requests|runs)\b",
        r"\b(questions|requests|runs)\s+(that\s+)?(failed|errored|went wrong)\b",
    )
)
def failed_questions(ctx: ToolContext, where: str | None = None) -> ToolResult:
    """Which questions (traces) failed, by the question text of their root span's input: when,
    outcome ('failed': the run ended in an error; 'errors inside': a tool or model call failed
    and the run went on), error count, the first error and the span it happened in.
    ``where`` is a WHERE condition on the traces view choosing the traces looked at.
    """
    logs = restrict(ctx.logs, selected_roots(ctx, where))
    rows, total = failed_question_rows(logs)
    call = code("failed_questions", "failed_questions", {"where": where} if where else {})
    if rows.height == 0:
        return ToolResult(f"None of the {total:,} questions (traces) had an error.", [call])
    failed = rows.filter(pl.col("outcome") == "failed").height
    lines = [
        f"{rows.height:,} of {total:,} questions (traces) had errors: {failed:,} failed (the run ended in an "
        f"error), {rows.height - failed:,} had errors inside (a tool or model call failed) and went on."
    ]
    for row in rows.head(TEXT_ROWS).iter_rows(named=True):
        when = f"{row['created']:%Y-%m-%d %H:%M}" if row["created"] is not None else "?"
        lines.append(
            f"- [{row['outcome']}] {when} {clip(row['question'], 100)!r}: {row['errors']} error(s), first in "
            f"{clip(str(row['first_error_span']), 40)}: {clip(str(row['first_error']), 160)}"
        )
    if rows.height > TEXT_ROWS:
        lines.append(f"(… {rows.height - TEXT_ROWS:,} more in the table)")
    table = Table(rows, title="Questions with errors (failed runs first)")
    sql = f"has_error AND ({where})" if where else "has_error"
    found = SqlFilter(sql, "traces", rows.height, title="Questions (traces) with errors")
    return ToolResult("\n".join(lines), [table, found, call])


__all__ = ["failed_question_rows", "failed_questions"]
