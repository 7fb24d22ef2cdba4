"""The canonical span frame from the generated structure, timing and text."""

from __future__ import annotations

import numpy as np
import polars as pl

from ..schema import SCHEMA
from ._columns import _micro_text, _ms_text, _Spans, _strs, _uuids
from .settings import MODEL_NAMES


def _assemble(rng: np.random.Generator, tr: dict, sp: _Spans, tm: dict, tx_: dict[str, pl.Series]) -> pl.DataFrame:
    """Order rows (trace, start, depth), give ids, and build every canonical column."""
    N = sp.count
    trace, depth, parent = tm["trace"], tm["depth"], tm["parent"]
    order = np.lexsort((np.arange(N), depth, tm["start_ms"], trace))
    pos = np.empty(N, dtype=np.int64)
    pos[order] = np.arange(N)
    span_ids = _uuids(rng, N, 0)  # by final row
    row_ids = _uuids(rng, N, 1)
    root_row = pos[np.arange(tr["T"])]  # roots are spans 0..T-1
    base = pl.DataFrame(
        {
            "trace": trace,
            "depth": depth.astype(np.int32),
            "parent_row": np.where(parent >= 0, pos[np.maximum(parent, 0)], -1),
            "start_ms": tm["start_ms"],
            "end_ms": tm["end_ms"],
            "prompt": tm["prompt"],
            "completion": tm["completion"],
            "cost_micro": tm["cost_micro"],
            "model": _strs([*MODEL_NAMES, None], np.where(tm["model"] >= 0, tm["model"], len(MODEL_NAMES))),
            # numpy divides exactly (Polars may multiply by the reciprocal), matching a JSON reload
            "duration": (tm["end_ms"] - tm["start_ms"]) / 1000.0,
            "cost": np.where(tm["cost_micro"] >= 0, tm["cost_micro"], 0) / 1_000_000,
            **{k: v for k, v in tx_.items() if k != "tags_root"},
        }
    )[order]
    sid = span_ids.alias("span_id")
    base = base.with_columns(
        id=row_ids,
        span_id=sid,
        root_span_id=sid.gather(root_row[base["trace"].to_numpy()]),
        parent_id=pl.when(pl.col("parent_row") >= 0).then(sid.gather(np.maximum(base["parent_row"].to_numpy(), 0))),
    )
    tags_by_trace = tx_["tags_root"]
    is_root = pl.col("depth") == 0
    start_text = _ms_text(pl.col("start_ms"))
    end_text = _ms_text(pl.col("end_ms"))
    has_usage = pl.col("prompt") >= 0
    metrics = pl.concat_str(
        pl.lit('{"start":'),
        start_text,
        pl.lit(',"end":'),
        end_text,
        pl.when(has_usage)
        .then(
            pl.concat_str(
                pl.lit(',"prompt_tokens":'),
                pl.col("prompt").cast(pl.String),
                pl.lit(',"completion_tokens":'),
                pl.col("completion").cast(pl.String),
                pl.lit(',"tokens":'),
                (pl.col("prompt") + pl.col("completion")).cast(pl.String),
                pl.lit(',"estimated_cost":'),
                _micro_text(pl.col("cost_micro")),
            )
        )
        .otherwise(pl.lit("")),
        pl.lit("}"),
    )
    start = pl.from_epoch(pl.col("start_ms") * 1000, time_unit="us").dt.replace_time_zone("UTC")
    end = pl.from_epoch(pl.col("end_ms") * 1000, time_unit="us").dt.replace_time_zone("UTC")
    frame = base.with_columns(
        span_parents=pl.concat_list(pl.col("parent_id")).list.drop_nulls(),
        is_root=is_root,
        created=start,
        expected=pl.lit(None, dtype=pl.String),
        tags=pl.when(is_root)
        .then(tags_by_trace.gather(base["trace"].to_numpy()))
        .otherwise(pl.lit([], dtype=pl.List(pl.String))),
        metrics=metrics,
        span_attributes=pl.concat_str(
            pl.lit('{"name":"'), pl.col("name"), pl.lit('","type":"'), pl.col("type"), pl.lit('"}')
        ),
        context=pl.lit(None, dtype=pl.String),
        start=start,
        end=end,
        prompt_tokens=pl.when(has_usage).then(pl.col("prompt")),
        completion_tokens=pl.when(has_usage).then(pl.col("completion")),
        tokens=pl.when(has_usage).then(pl.col("prompt") + pl.col("completion")),
        cost=pl.when(has_usage).then(pl.col("cost")),
    )
    return frame.select([pl.col(name).cast(dtype) for name, dtype in SCHEMA.items()])
