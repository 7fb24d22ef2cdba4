"""Vectorized column helpers of the demo generator (JSON text, template filling, span blocks)."""

from __future__ import annotations

import re

import numpy as np
import orjson
import polars as pl
import pyarrow as pa


def _esc(text: str) -> str:
    """``text`` as the inside of a JSON string (canonical orjson escaping)."""
    return orjson.dumps(text).decode()[1:-1]


def _jstr(text: str) -> str:
    return orjson.dumps(text).decode()


def _fill(templates: list[str], choice: np.ndarray, values: list[pl.Series]) -> pl.Series:
    """Row i gets ``templates[choice[i]]`` with ``{k}`` replaced by ``values[k][i]`` (vectorized).

    Templates are literal text (already JSON where they must be) with numbered placeholders."""
    split = [re.split(r"\{(\d)\}", t) for t in templates]
    width = max(len(s) // 2 for s in split)
    lits = [[s[2 * j] if 2 * j < len(s) else "" for s in split] for j in range(width + 1)]
    slots = [[int(s[2 * j + 1]) if 2 * j + 1 < len(s) else -1 for s in split] for j in range(width)]
    frame = pl.DataFrame({f"v{k}": v for k, v in enumerate(values)})
    choice = np.asarray(choice, dtype=np.int64)
    parts: list[pl.Expr] = []
    for j in range(width + 1):
        parts.append(pl.lit(pl.Series(lits[j]).gather(choice)))
        if j == width:
            break
        slot = np.asarray(slots[j])[choice]
        used = sorted(set(slot.tolist()))
        if used == [-1]:
            continue
        if len(used) == 1:
            parts.append(pl.col(f"v{used[0]}"))
            continue
        slot_s = pl.lit(pl.Series(slot))
        expr: pl.Expr | None = None
        for k in used:
            if k < 0:
                continue
            expr = (pl.when(slot_s == k) if expr is None else expr.when(slot_s == k)).then(pl.col(f"v{k}"))
        assert expr is not None
        parts.append(expr.otherwise(pl.lit("")))
    return frame.select(pl.concat_str(parts).alias("s")).to_series()


def _strs(table: tuple[str, ...] | list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(list(table), dtype=pl.String).gather(np.asarray(index, dtype=np.int64))


def _nums(values: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: np.ndarray | float, n: int) -> np.ndarray:
    return np.asarray(median) * np.exp(rng.standard_normal(n) * np.asarray(sigma))


class _Spans:
    """Blocks of spans built level by level; each block is a contiguous range of global indices."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, np.ndarray]] = []
        self.count = 0

    def add(self, **cols: np.ndarray) -> np.ndarray:
        n = len(cols["trace"])
        idx = np.arange(self.count, self.count + n)
        cols["idx"] = idx
        self.blocks.append(cols)
        self.count += n
        return idx

    def column(self, name: str, default: float = -1, dtype: type = np.int64) -> np.ndarray:
        return np.concatenate(
            [
                np.asarray(b[name], dtype=dtype) if name in b else np.full(len(b["trace"]), default, dtype)
                for b in self.blocks
            ]
        )


def _where(mask: np.ndarray, values: pl.Series) -> pl.Series:
    """``values`` where mask, else null."""
    return pl.DataFrame({"v": values, "m": mask}).select(pl.when(pl.col("m")).then(pl.col("v"))).to_series()


def _choose(mask: np.ndarray, a: pl.Series, b: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"a": a, "b": b, "m": mask})
    return frame.select(pl.when(pl.col("m")).then(pl.col("a")).otherwise(pl.col("b"))).to_series()


def _uuids(rng: np.random.Generator, n: int, salt: int) -> pl.Series:
    """Version-4-shaped UUID strings, unique by construction (the last 32 bits hold a counter)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    counter = (np.arange(n, dtype=np.uint64) * 2 + salt).astype(">u4").view(np.uint8).reshape(n, 4)
    raw[:, 12:16] = counter
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    chars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    cols = [c for c in range(36) if c not in (8, 13, 18, 23)]
    out[:, cols] = chars
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    array = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))
    return pl.Series(pl.from_arrow(array))


def _ms_text(ms: pl.Expr) -> pl.Expr:
    """Unix milliseconds as the shortest decimal seconds (what orjson writes for ms / 1000)."""
    frac = (ms % 1000).cast(pl.String).str.zfill(3).str.strip_chars_end("0")
    return pl.concat_str(
        (ms // 1000).cast(pl.String), pl.lit("."), pl.when(frac == "").then(pl.lit("0")).otherwise(frac)
    )


def _micro_text(micro: pl.Expr) -> pl.Expr:
    frac = (micro % 1_000_000).cast(pl.String).str.zfill(6).str.strip_chars_end("0")
    return pl.concat_str(
        (micro // 1_000_000).cast(pl.String), pl.lit("."), pl.when(frac == "").then(pl.lit("0")).otherwise(frac)
    )
