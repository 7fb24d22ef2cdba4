"""The offline planner: plain-language log questions → the tool calls a model would make.

Data-driven, in three steps:

1. **Slots.** Each entry of :data:`SLOTS` is a regular expression plus a builder that turns a match
   into a :class:`Condition` (SQL for the spans shape and for the traces shape) or a problem. The
   builders read the logs' own vocabulary (:class:`Facts`: score keys, users, models, tags), so
   "factuality" matches ``scores.Factuality`` and "sonnet" matches the sonnet models present.
2. **Intent.** Registered tools route by their ``phrases`` (analysis tools added by others need no
   change here; parameters are filled by name: ``where``, ``shape``, ``threshold_s``, ``limit``,
   ``root_span_id``, ...); superlatives and aggregates become ``run_sql``; anything else with
   conditions becomes ``generate_filter``.
3. **Honesty.** Words left over that are not vocabulary, or a score mentioned without a threshold,
   make the planner say what it did not understand instead of answering another question.

:class:`OfflineClient` wraps the planner in the chat-client interface, so the session runs the
same tool loop offline as with a model.

The package follows those steps, one module per job, each importing only from those above it:

- :mod:`.facts`: :class:`Facts` about the logs (score keys, users, models, tags, names, metadata).
- :mod:`.conditions`: :class:`Condition`, :class:`TraceRef`, :class:`Slots`; number, unit and
  comparison parsing.
- :mod:`.slot_builders`: the builders (a match → a condition or a problem) and their word tables.
- :mod:`.slot_table`: :data:`SLOTS`, the patterns in the order they are tried.
- :mod:`.vocabulary`: the words the planner may leave unexplained.
- :mod:`.aggregates`: aggregates and superlatives as one SQL query.
- :mod:`.extraction`: :class:`Plan` and :func:`extract` (slots, then known values named bare).
- :mod:`.routing`: routing to registered tools and filling their parameters.
- :mod:`.planning`: :func:`plan`, the planner itself.
- :mod:`.state`: the conversation's state (earlier questions, what answered them, their results),
  rebuilt from the session's messages.
- :mod:`.followups`: follow-ups read against it (narrowing, "by model instead", "as a chart",
  "why?", "those traces", "that user", "the second group").
- :mod:`.conclusions`: the sentence an answer opens with, figures from the tool's artifacts.
- :mod:`.summary`: :func:`summarize`, the offline answer text.
- :mod:`.client`: :class:`OfflineClient`.
"""

from __future__ import annotations

from .aggregates import AGGREGATES, GROUPS, METRICS, SUPERLATIVES
from .client import OfflineClient
from .conditions import Condition, Slots, TraceRef
from .extraction import Plan, extract
from .facts import USER_KEYS, Facts, facts_for
from .planning import CONNECT_HINT, plan
from .slot_table import SLOTS, Slot
from .summary import summarize
from .vocabulary import VOCABULARY

__all__ = [
    "AGGREGATES",
    "CONNECT_HINT",
    "GROUPS",
    "METRICS",
    "SLOTS",
    "SUPERLATIVES",
    "USER_KEYS",
    "VOCABULARY",
    "Condition",
    "Facts",
    "OfflineClient",
    "Plan",
    "Slot",
    "Slots",
    "TraceRef",
    "extract",
    "facts_for",
    "plan",
    "summarize",
]
