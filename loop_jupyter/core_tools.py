"""Moved to :mod:`loop_jupyter.tools.core` (kept: generated notebook code imported from here)."""

from __future__ import annotations

from .tools.core import describe_schema, generate_filter, grep_field, read_field, run_sql, schema_summary
from .tools.text import clip, frame_preview

__all__ = [
    "clip",
    "describe_schema",
    "frame_preview",
    "generate_filter",
    "grep_field",
    "read_field",
    "run_sql",
    "schema_summary",
]
