"""The public generator functions and the per-trace facts (when, who, what, which patterns)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from .assemble import _assemble
from .settings import (
    AGENT_MODEL_WEIGHTS,
    BAD_APP_VERSION,
    BETA_RATE,
    CLASSIFIER_MODELS,
    DAYS,
    DEPLOY_REQUEST_RATE,
    DEPLOYABLE_INTENTS,
    FALSE_DEPLOY_CLAIM_RATE,
    FRUSTRATED_RATE,
    INTENT_WEIGHTS,
    INTENTS,
    JOHN_SMITH_RATE,
    MANDARIN_RATE,
    MISSING_DEPLOY_TOOL_RATE_BAD,
    MISSING_DEPLOY_TOOL_RATE_OTHER,
    MODEL_NAMES,
    MULTI_TURN_RATE,
    N_USERS,
    REVIEWER_RATE,
    SLOW_TRACE_RATE,
    STAGING_RATE,
    TOOL_ERROR_RATES,
)
from .structure import _structure, _timing
from .texts import _texts


def demo_logs(
    n_traces: int = 2000, seed: int = 0, *, now: datetime | None = None, progress: bool = False
) -> pl.DataFrame:
    """Realistic logs of a multi-agent app-building assistant as a canonical span frame.

    ``n_traces`` conversation turns spread over the :data:`DAYS` days before ``now`` (default: the
    current time, UTC); about :data:`AVG_SPANS_PER_TRACE` spans per trace. The same ``seed`` and
    ``now`` give an identical frame. ``progress`` shows a tqdm bar over the generation phases.
    """
    return _generate(n_traces, seed, now, progress)[0]


def write_demo_jsonl(
    path: str | Path, n_traces: int = 2000, seed: int = 0, *, now: datetime | None = None
) -> pl.DataFrame:
    """Write the demo logs as Braintrust JSONL log events (one per line) and return the frame.

    Loading the file with ``frame_from_events(iter_json_lines(...))`` gives the same frame."""
    frame = demo_logs(n_traces, seed, now=now)
    # One string column written without quoting is exactly the JSONL (the JSON has no raw newlines).
    frame.select(_jsonl_line().alias("line")).write_csv(path, include_header=False, quote_style="never")
    return frame


def jsonl_text(frame: pl.DataFrame) -> str:
    """Braintrust JSONL log events (one per line) for the base columns of a canonical frame."""
    lines = frame.select(_jsonl_line().alias("line")).to_series()
    return "\n".join(lines.to_list()) + "\n" if len(lines) else ""


def _jsonl_line() -> pl.Expr:
    """One Braintrust log event as JSON text, built from the canonical columns (vectorized)."""

    def js(col: str) -> pl.Expr:
        return pl.col(col).fill_null("null")

    def str_list(col: str) -> pl.Expr:
        inner = pl.col(col).list.eval(pl.concat_str(pl.lit('"'), pl.element(), pl.lit('"'))).list.join(",")
        return pl.concat_str(pl.lit("["), inner, pl.lit("]"))

    def quoted(expr: pl.Expr) -> pl.Expr:
        return pl.concat_str(pl.lit('"'), expr, pl.lit('"'))

    line = pl.concat_str(
        pl.lit('{"id":'),
        quoted(pl.col("id")),
        pl.lit(',"span_id":'),
        quoted(pl.col("span_id")),
        pl.lit(',"root_span_id":'),
        quoted(pl.col("root_span_id")),
        pl.lit(',"span_parents":'),
        str_list("span_parents"),
        pl.lit(',"is_root":'),
        pl.when(pl.col("is_root")).then(pl.lit("true")).otherwise(pl.lit("false")),
        pl.lit(',"created":'),
        quoted(pl.col("created").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")),
        *[e for f in ("input", "output", "expected", "error") for e in (pl.lit(f',"{f}":'), js(f))],
        pl.lit(',"tags":'),
        str_list("tags"),
        *[
            e
            for f in ("scores", "metadata", "metrics", "span_attributes", "context")
            for e in (pl.lit(f',"{f}":'), js(f))
        ],
        pl.lit("}"),
    )
    return line


# ---------------------------------------------------------------- generation


def _generate(n_traces: int, seed: int, now: datetime | None, progress: bool) -> tuple[pl.DataFrame, dict]:
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=7, desc="demo logs", unit="step")

    def tick(what: str) -> None:
        if bar is not None:
            bar.set_postfix_str(what)
            bar.update(1)

    rng = np.random.default_rng(seed)
    T = int(n_traces)
    now_ms = int(now.timestamp() * 1000)
    tr = _traces(rng, T, now_ms)
    tick("traces")
    spans, ex = _structure(rng, tr)
    tick("structure")
    timing = _timing(rng, tr, spans)
    tick("timing")
    texts = _texts(rng, tr, spans, ex)
    tick("text")
    frame = _assemble(rng, tr, spans, timing, texts)
    tick("frame")
    if bar is not None:
        bar.update(bar.total - bar.n)
        bar.close()
    return frame, tr


def _traces(rng: np.random.Generator, T: int, now_ms: int) -> dict:
    """Per-trace facts: when, who, what, and which patterns apply."""
    day_ms = 86_400_000
    # Start times: uniform over the window, thinned by a weekday/working-hours profile.
    lo, hi = 10 * 60_000, DAYS * day_ms - 60_000
    starts = np.empty(0, dtype=np.int64)
    while len(starts) < T:
        cand = now_ms - rng.integers(lo, hi, size=max(2 * (T - len(starts)), 16))
        hour = (cand // 3_600_000) % 24
        weekday = (cand // day_ms + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
        weight = np.where((hour >= 13) & (hour <= 22), 1.0, 0.25) * np.where(weekday >= 5, 0.4, 1.0)
        starts = np.concatenate([starts, cand[rng.random(len(cand)) < weight]])
    starts = np.sort(starts[:T])
    age_days = (now_ms - starts) / day_ms

    intent = rng.choice(len(INTENTS), size=T, p=[INTENT_WEIGHTS[i] for i in INTENTS])
    zipf = 1.0 / np.arange(1, N_USERS) ** 0.9
    user_p = np.concatenate([[JOHN_SMITH_RATE], (1 - JOHN_SMITH_RATE) * zipf / zipf.sum()])
    user = rng.choice(N_USERS, size=T, p=user_p)
    staging = rng.random(T) < STAGING_RATE
    beta = rng.random(T) < BETA_RATE
    canary = rng.random(T) < 0.85
    version = np.where(
        beta,
        "2.9.0b1",
        np.where(age_days > 20, "2.7.3", np.where(age_days > 8, np.where(canary, BAD_APP_VERSION, "2.7.3"), "2.8.1")),
    )
    zh = rng.random(T) < MANDARIN_RATE
    frustrated = rng.random(T) < FRUSTRATED_RATE
    multi = frustrated | (rng.random(T) < MULTI_TURN_RATE)
    deployable = np.isin(intent, [INTENTS.index(i) for i in DEPLOYABLE_INTENTS])
    wants_deploy = deployable & (rng.random(T) < DEPLOY_REQUEST_RATE)
    missing = rng.random(T) < np.where(
        version == BAD_APP_VERSION, MISSING_DEPLOY_TOOL_RATE_BAD, MISSING_DEPLOY_TOOL_RATE_OTHER
    )
    deploy_call = wants_deploy & ~missing
    deploy_err = deploy_call & (rng.random(T) < TOOL_ERROR_RATES["deploy_app"])
    false_claim = wants_deploy & missing & (rng.random(T) < FALSE_DEPLOY_CLAIM_RATE)
    slow = rng.random(T) < SLOW_TRACE_RATE
    model = rng.choice(len(MODEL_NAMES), size=T, p=[AGENT_MODEL_WEIGHTS[m] for m in MODEL_NAMES])
    cls_model = np.where(
        rng.random(T) < 0.7, MODEL_NAMES.index(CLASSIFIER_MODELS[0]), MODEL_NAMES.index(CLASSIFIER_MODELS[1])
    )
    reviewer = rng.random(T) < REVIEWER_RATE
    return {
        "T": T,
        "now_ms": now_ms,
        "start_ms": starts,
        "intent": intent,
        "user": user,
        "staging": staging,
        "beta": beta,
        "version": version,
        "zh": zh,
        "frustrated": frustrated,
        "multi": multi,
        "wants_deploy": wants_deploy,
        "missing": missing,
        "deploy_call": deploy_call,
        "deploy_err": deploy_err,
        "false_claim": false_claim,
        "slow": slow,
        "model": model,
        "cls_model": cls_model,
        "reviewer": reviewer,
    }
