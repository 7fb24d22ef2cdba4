"""Offline text embeddings (wordllama) and a persistent index of trace embeddings.

wordllama ships its 256-dim weights in the wheel, so nothing is downloaded. Version 0.4.0.post1
looks for its tokenizer file in ``tokenizer/`` while the wheel ships it in ``tokenizers/``: we seed
``<cache>/tokenizers/`` with the shipped file and load with ``disable_download=True``.

The trace index (one normalised float32 vector per trace, plus the structure used to explain
similarity) is saved under the cache directory, keyed by a content hash of the frame, so a second
search over the same logs, even in a new kernel, does not embed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

# The text helpers moved to loop_jupyter.tools.text; json_text, user_text and error_kind stay
# importable from here (used by the index and by existing callers).
from .tools.text import MAX_TEXT_CHARS, error_kind, json_text, user_text

MODEL_NAME = "l2_supercat"
DIM = 256
#: Bump when the text or structure extracted for a trace changes, so old indexes are not reused.
INDEX_FORMAT = 1
_BATCH = 4096

_model: Any = None
_model_lock = threading.Lock()


def cache_dir() -> Path:
    """Where models' tokenizer files and indexes are cached (``LOOP_JUPYTER_CACHE`` overrides)."""
    from .paths import cache_dir as platform_cache_dir

    return platform_cache_dir()


def load_model() -> Any:
    """The wordllama model, loaded offline once per process."""
    global _model
    with _model_lock:
        if _model is None:
            import wordllama
            from wordllama import WordLlama

            base = cache_dir() / "wordllama"
            shipped = Path(wordllama.__file__).parent / "tokenizers"
            target = base / "tokenizers"
            for source in shipped.glob("*.json"):
                if not (target / source.name).exists():
                    target.mkdir(parents=True, exist_ok=True)
                    tmp = target / f".{source.name}.{os.getpid()}.tmp"
                    shutil.copyfile(source, tmp)
                    os.replace(tmp, target / source.name)
            _model = WordLlama.load(config=MODEL_NAME, cache_dir=base, disable_download=True)
        return _model


def embed(texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
    """Embed texts into L2-normalised float32 rows (``len(texts) x 256``); empty text gives zeros."""
    if len(texts) == 0:
        return np.zeros((0, DIM), dtype=np.float32)
    model = load_model()
    texts = [t if isinstance(t, str) else "" for t in texts]
    chunks = range(0, len(texts), _BATCH)
    if progress and len(texts) > _BATCH:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="Embedding traces", unit="batch")
    parts = [np.asarray(model.embed(texts[i : i + _BATCH]), dtype=np.float32) for i in chunks]
    matrix = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return normalize(matrix)


def normalize(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


# -- the trace index -------------------------------------------------------------------------------
@dataclass
class TraceIndex:
    """One row per trace: id, embedding and the structure used to explain similarity."""

    key: str
    root_span_ids: list[str]
    vectors: np.ndarray  # float32, rows L2-normalised
    texts: list[str]
    span_names: list[frozenset[str]]
    tools: list[frozenset[str]]
    errors: list[frozenset[str]]
    _position: dict[str, int] = field(default_factory=dict, repr=False)
    #: root_span_id, user and intent per trace when the index brings them (a store's persisted
    #: index: ``analysis.store_index``); None when they come from the traces view of the frame.
    attributes: pl.DataFrame | None = field(default=None, repr=False)

    def position(self, root_span_id: str) -> int | None:
        if not self._position:
            self._position = {rid: i for i, rid in enumerate(self.root_span_ids)}
        return self._position.get(root_span_id)

    def __len__(self) -> int:
        return len(self.root_span_ids)


def frame_key(frame: pl.DataFrame) -> str:
    """A content hash of the columns the index reads (stable within one polars version)."""
    cols = ["root_span_id", "span_id", "is_root", "input", "output", "error", "name", "type"]
    digest = hashlib.sha256(f"{INDEX_FORMAT}|{MODEL_NAME}|{pl.__version__}|{frame.height}".encode())
    if frame.height:
        hashes = frame.select(cols).hash_rows(seed=0)
        digest.update(hashes.to_numpy().tobytes())
    return digest.hexdigest()[:24]


def trace_documents(frame: pl.DataFrame) -> pl.DataFrame:
    """Per trace: root input/output, span names, tool names and error kinds (one row per trace)."""
    # Only the columns read are selected first: filtering the whole frame copied every column of
    # the root spans, and grouping it carried them too (+360 MB peak on 1M spans, +70 MB now).
    roots = (
        frame.select("root_span_id", "is_root", "input", "output")
        .filter(pl.col("is_root"))
        .unique("root_span_id", keep="first", maintain_order=True)
        .select("root_span_id", "input", "output")
    )
    structure = (
        frame.select("root_span_id", "name", "type", "error")
        .group_by("root_span_id", maintain_order=True)
        .agg(
            span_names=pl.col("name").drop_nulls().unique().sort(),
            tools=pl.col("name").filter(pl.col("type") == "tool").drop_nulls().unique().sort(),
            errors=pl.col("error").drop_nulls(),
        )
    )
    return structure.join(roots, on="root_span_id", how="left").sort("root_span_id")


def _document_text(input_json: str | None, output_json: str | None, names: list[str]) -> str:
    half = MAX_TEXT_CHARS // 2
    return " ".join(filter(None, (json_text(input_json, half), json_text(output_json, half), " ".join(names))))


def build_index(frame: pl.DataFrame, *, progress: bool = True) -> TraceIndex:
    """Embed every trace of ``frame`` (no cache)."""
    docs = trace_documents(frame)
    ids = docs.get_column("root_span_id").to_list()
    names = docs.get_column("span_names").to_list()
    texts = [
        _document_text(i, o, n)
        for i, o, n in zip(docs.get_column("input"), docs.get_column("output"), names, strict=True)
    ]
    errors = [frozenset(filter(None, (error_kind(e) for e in errs))) for errs in docs.get_column("errors").to_list()]
    return TraceIndex(
        key=frame_key(frame),
        root_span_ids=ids,
        vectors=embed(texts, progress=progress and len(texts) > _BATCH),
        texts=texts,
        span_names=[frozenset(n) for n in names],
        tools=[frozenset(t) for t in docs.get_column("tools").to_list()],
        errors=errors,
    )


def _index_paths(key: str) -> tuple[Path, Path]:
    base = cache_dir() / "indexes"
    return base / f"traces-{key}.npy", base / f"traces-{key}.parquet"


def save_index(index: TraceIndex) -> None:
    vec_path, meta_path = _index_paths(index.key)
    vec_path.parent.mkdir(parents=True, exist_ok=True)
    meta = pl.DataFrame(
        {
            "root_span_id": index.root_span_ids,
            "text": index.texts,
            "span_names": [sorted(s) for s in index.span_names],
            "tools": [sorted(s) for s in index.tools],
            "errors": [sorted(s) for s in index.errors],
        },
        schema={
            "root_span_id": pl.String,
            "text": pl.String,
            "span_names": pl.List(pl.String),
            "tools": pl.List(pl.String),
            "errors": pl.List(pl.String),
        },
    )
    # Temp file + rename: a reader never sees half an index.
    suffix = f".{os.getpid()}.{threading.get_ident()}.tmp"
    meta.write_parquet(str(meta_path) + suffix)
    with open(str(vec_path) + suffix, "wb") as handle:
        np.save(handle, index.vectors)
    os.replace(str(meta_path) + suffix, meta_path)
    os.replace(str(vec_path) + suffix, vec_path)


def load_index(key: str) -> TraceIndex | None:
    vec_path, meta_path = _index_paths(key)
    if not (vec_path.exists() and meta_path.exists()):
        return None
    try:
        vectors = np.load(vec_path)
        meta = pl.read_parquet(meta_path)
    except (OSError, ValueError):
        return None
    if vectors.shape != (meta.height, DIM):
        return None
    return TraceIndex(
        key=key,
        root_span_ids=meta.get_column("root_span_id").to_list(),
        vectors=vectors.astype(np.float32, copy=False),
        texts=meta.get_column("text").to_list(),
        span_names=[frozenset(s) for s in meta.get_column("span_names").to_list()],
        tools=[frozenset(s) for s in meta.get_column("tools").to_list()],
        errors=[frozenset(s) for s in meta.get_column("errors").to_list()],
    )


_MEMORY: dict[str, TraceIndex] = {}


def trace_index(frame: pl.DataFrame, *, progress: bool = True, persist: bool = True) -> TraceIndex:
    """The trace index of ``frame``: from memory, else from the cache directory, else built and saved."""
    key = frame_key(frame)
    index = _MEMORY.get(key)
    if index is None and persist:
        index = load_index(key)
    if index is None:
        index = build_index(frame, progress=progress)
        if persist:
            with contextlib.suppress(OSError):  # a read-only cache only costs speed
                save_index(index)
    if len(_MEMORY) >= 4:
        _MEMORY.pop(next(iter(_MEMORY)))
    _MEMORY[key] = index
    return index


__all__ = [
    "DIM",
    "TraceIndex",
    "build_index",
    "cache_dir",
    "embed",
    "error_kind",
    "frame_key",
    "json_text",
    "load_model",
    "normalize",
    "trace_documents",
    "trace_index",
    "user_text",
]
