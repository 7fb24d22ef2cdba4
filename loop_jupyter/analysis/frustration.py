"""Frustrated users: traces where the user's own words (and feedback) show frustration, scored.

A trace is scored from several signals, each with a weight, so one stray word does not flag it:
repeated asks, "this is wrong", "you said it was done", "still not working", giving up, profanity,
ALL CAPS, many exclamation marks, and negative feedback scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl

from ..artifacts import SqlFilter, Table, ToolResult
from ..tools import ToolContext, tool
from ..tools.working_reads import working_traces
from ._across import capped_title, clip, code, ids_condition, user_messages

#: (signal, weight, pattern) tested on each user message (case-insensitive).
PHRASE_SIGNALS: list[tuple[str, float, re.Pattern[str]]] = [
    (
        "says it is wrong",
        2.0,
        re.compile(
            r"\b(this|that|it|you|your answer|the answer)('?s| is| are|'re| was)? (still )?(wrong|incorrect|not right)\b|"
            r"\bnot what i (asked|wanted|meant)\b|\bthat'?s not (it|right|correct)\b|\bwrong again\b",
            re.I,
        ),
    ),
    (
        "you said it was done",
        3.0,
        re.compile(
            r"\byou (said|told me|claimed|promised)\b|\b(you|it) (said|says) (it|that)('?s| was| is) (done|fixed|complete|working)\b|"
            r"\bbut (it'?s|it is) not (done|fixed|there|working)\b|\bdidn'?t (actually )?(do|happen|work|get done)\b",
            re.I,
        ),
    ),
    (
        "still not working",
        2.0,
        re.compile(
            r"\bstill (not|doesn'?t|does not|isn'?t|broken|failing|wrong|the same|no)\b|\b(doesn'?t|does not|not) work(ing)?\b|"
            r"\b(again|once more)[.!?]*$|\bsame (error|problem|issue)\b",
            re.I,
        ),
    ),
    (
        "giving up",
        2.0,
        re.compile(
            r"\b(forget it|never ?mind|useless|waste of (my )?time|give up|giving up|pointless|ridiculous|"
            r"(talk|speak) to a (human|person|real person)|are you (even )?listening|how many times)\b",
            re.I,
        ),
    ),
    (
        "profanity",
        2.0,
        re.compile(
            r"\b(f+u+c+k\w*|shit\w*|damn\w*|crap\w*|wtf|ffs|bullshit|goddamn\w*|hell no|stupid|idiot\w*|dumb|sucks?)\b",
            re.I,
        ),
    ),
]
W_REPEAT = 2.0
W_CAPS = 1.5
W_EXCLAIM = 1.0
W_FEEDBACK = 3.0
#: Score keys that carry user feedback (not automated evals).
FEEDBACK_KEY = re.compile(r"feedback|thumb|user|rating|satisf|csat|like|helpful", re.I)
#: A feedback score at or below this counts as negative (scores run 0..1).
NEGATIVE_FEEDBACK = 0.25

_ANY_PHRASE = re.compile("|".join(f"(?:{pattern.pattern})" for _name, _weight, pattern in PHRASE_SIGNALS), re.I)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_LETTER_WORD = re.compile(r"[A-Za-z]{3,}")
# Three all-caps words are needed to shout; most messages fail this before any per-letter count.
_THREE_CAPS_WORDS = re.compile(
    r"(?<![A-Za-z])[A-Z]{3,}(?![A-Za-z]).*?(?<![A-Za-z])[A-Z]{3,}(?![A-Za-z]).*?(?<![A-Za-z])[A-Z]{3,}(?![A-Za-z])",
    re.S,
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


@dataclass(frozen=True)
class _Message:
    """What the signals need from one user message, worked out once per distinct text."""

    phrases: frozenset[str]
    shouting: bool
    exclaiming: bool
    norm: str
    words: frozenset[str]


def _message(text: str) -> _Message:
    # One scan with every phrase pattern at once; the patterns one by one only on a hit.
    hit = _ANY_PHRASE.search(text) is not None
    return _Message(
        phrases=frozenset(name for name, _weight, pattern in PHRASE_SIGNALS if hit and pattern.search(text)),
        shouting=_is_shouting(text),
        exclaiming=text.count("!") >= 3 or "!!" in text,
        norm=" ".join(text.lower().split()),
        words=frozenset(_words(text)),
    )


def _repeats(messages: list[_Message], threshold: float) -> int:
    seen: list[frozenset[str]] = []
    seen_text: set[str] = set()
    repeats = 0
    for message in messages:
        words = message.words
        if message.norm in seen_text or (
            len(words) >= 3 and any(len(words & s) / len(words | s) >= threshold for s in seen if s)
        ):
            repeats += 1
        seen.append(words)
        seen_text.add(message.norm)
    return repeats


def repeated_asks(messages: list[str], threshold: float = 0.6) -> int:
    """How many user messages repeat an earlier one (word-set Jaccard ≥ threshold, or identical)."""
    return _repeats([_message(m) for m in messages], threshold)


def _is_shouting(message: str) -> bool:
    if not _THREE_CAPS_WORDS.search(message):
        return False
    letters = [c for c in message if c.isalpha() and c.isascii()]
    upper = [w for w in _LETTER_WORD.findall(message) if w.isupper()]
    return len(upper) >= 3 and len(letters) >= 10 and sum(c.isupper() for c in letters) / len(letters) >= 0.6


def message_signals(messages: list[str], cache: dict[str, _Message] | None = None) -> dict[str, float]:
    """Signals that fired for one conversation's user messages, with their weights.

    ``cache`` keeps each distinct message's features across conversations: a session's later
    traces repeat its earlier messages, so most texts are seen many times.
    """
    cache = {} if cache is None else cache
    parsed = []
    for text in messages:
        found = cache.get(text)
        if found is None:
            found = cache[text] = _message(text)
        parsed.append(found)
    fired: dict[str, float] = {}
    for name, weight, _pattern in PHRASE_SIGNALS:
        if any(name in m.phrases for m in parsed):
            fired[name] = weight
    repeats = _repeats(parsed, 0.6)
    if repeats:
        fired["repeated ask" + (f" ×{repeats}" if repeats > 1 else "")] = W_REPEAT * min(repeats, 2)
    if any(m.shouting for m in parsed):
        fired["ALL CAPS"] = W_CAPS
    if any(m.exclaiming for m in parsed):
        fired["many exclamation marks"] = W_EXCLAIM
    return fired


def negative_feedback(scores_json: str | None) -> list[str]:
    """Names of feedback scores at or below the negative threshold."""
    if not scores_json:
        return []
    try:
        scores: Any = orjson.loads(scores_json)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(scores, dict):
        return []
    return [
        key
        for key, value in scores.items()
        if FEEDBACK_KEY.search(key) and isinstance(value, int | float) and value <= NEGATIVE_FEEDBACK
    ]


def frustration_scores(traces: pl.DataFrame) -> pl.DataFrame:
    """Every trace with ``score`` (sum of weights) and ``signals`` (what fired), unsorted."""
    # Signals depend only on (input, scores): work them out once per distinct pair, then join back
    # (1M demo spans: 53,763 traces, 10 s of per-trace Python before).
    pairs = traces.select("input", "scores").unique(maintain_order=True)
    cache: dict[str, _Message] = {}
    rows = []
    inputs = pairs.get_column("input").to_list()
    for user_msgs, scores_json in zip(map(user_messages, inputs), pairs.get_column("scores").to_list(), strict=True):
        fired = message_signals(user_msgs or [], cache)
        for key in negative_feedback(scores_json):
            fired[f"negative feedback ({key})"] = W_FEEDBACK
        rows.append(
            {
                "score": float(sum(fired.values())),
                "signals": list(fired),
                "user_messages": len(user_msgs or []),
                "last_user_message": (user_msgs or [""])[-1],
            }
        )
    schema = {
        "score": pl.Float64,
        "signals": pl.List(pl.String),
        "user_messages": pl.Int64,
        "last_user_message": pl.String,
    }
    scored = pl.concat([pairs, pl.DataFrame(rows, schema=schema)], how="horizontal")
    return (
        traces.select("root_span_id", "input", "scores")
        .join(scored, on=["input", "scores"], how="left", nulls_equal=True, maintain_order="left")
        .select("root_span_id", *schema)
    )


@tool(
    phrases=(
        r"\bfrustrat",
        r"\b(angry|annoyed|upset|unhappy|irritated|dissatisfied) (users?|customers?)\b",
        r"\busers? (who are |that are |being )?(angry|annoyed|upset|unhappy|complaining)\b",
        r"\bwhere (do|did) users (get|give) up\b",
        r"\bnegative (user )?(feedback|sentiment)\b",
    )
)
def frustrated_users(ctx: ToolContext, limit: int = 20, min_score: float = 2.0) -> ToolResult:
    """Traces where users show frustration, scored and ranked: repeated asks, "this is wrong", "you
    said it was done", "still not working", giving up, profanity, ALL CAPS, many exclamation marks
    and negative feedback scores each add a weight; the signals that fired are listed per trace.

    Args:
        limit: how many traces to list, highest score first.
        min_score: the score from which a trace counts as frustrated (one strong signal, e.g. "you
            said it was done" or negative feedback, or two weaker ones).
    """
    # Only the columns read below (from a store: the sampled traces' rows, not their spans whole).
    traces = working_traces(ctx, ("root_span_id", "input", "scores", "created", "user", "has_error"))
    call = code("frustration", "frustrated_users", {"limit": limit, "min_score": min_score})
    scored = frustration_scores(traces.select("root_span_id", "input", "scores"))
    flagged = (
        scored.filter(pl.col("score") >= min_score)
        .join(traces.select("root_span_id", "created", "user", "has_error"), on="root_span_id", how="left")
        .sort(["score", "created", "root_span_id"], descending=[True, True, False], nulls_last=True)
        .select(
            "root_span_id", "score", "signals", "user", "created", "has_error", "user_messages", "last_user_message"
        )
    )
    if flagged.height == 0:
        return ToolResult(f"No trace scores {min_score:g} or more for frustration (of {traces.height:,}).", [call])
    signal_counts = (
        flagged.select(pl.col("signals").explode().str.replace(r" ×\d+$", ""))
        .group_by("signals")
        .len()
        .sort(["len", "signals"], descending=[True, False])
        .rename({"signals": "signal", "len": "traces"})
    )
    users = (
        flagged.filter(pl.col("user").is_not_null())
        .group_by("user")
        .agg(frustrated_traces=pl.len(), max_score=pl.col("score").max(), last_seen=pl.col("created").max())
        .sort(["frustrated_traces", "max_score", "user"], descending=[True, True, False])
    )
    lines = [
        f"{flagged.height:,} of {traces.height:,} traces score ≥ {min_score:g} for frustration"
        + (f", from {users.height:,} users" if users.height else "")
        + ". Signals: "
        + ", ".join(f"{s} {n}" for s, n in signal_counts.head(8).iter_rows())
        + ".",
        "Top traces:",
    ]
    for row in flagged.head(min(limit, 8)).iter_rows(named=True):
        lines.append(
            f"- {row['root_span_id']} (score {row['score']:g}; {', '.join(row['signals'])}): "
            f'"{clip(row["last_user_message"], 70)}"'
        )
    top = flagged.head(limit)
    ids = top.get_column("root_span_id").to_list()
    return ToolResult(
        "\n".join(lines),
        [
            Table(top, title=capped_title("Frustrated traces", top.height, flagged.height, f"limit={flagged.height}")),
            Table(users, title="Frustrated users"),
            Table(signal_counts, title="Frustration signals"),
            SqlFilter(ids_condition(ids), "traces", len(ids), ids, title="Frustrated traces"),
            call,
        ],
    )
