"""Languages of user inputs, detected offline: the script first (CJK, Cyrillic, Arabic, ...), then
for Latin-script text a small stopword model. No download, no model file: fast and predictable,
good at telling languages apart on sentences, weak on one- or two-word inputs (reported "unknown").
"""

from __future__ import annotations

import re
from collections.abc import Callable

import plotly.express as px
import polars as pl

from ..artifacts import SqlFilter, Table, ToolResult
from ..tools import ToolContext, tool
from ..tools.working_reads import working_spans_of, working_traces
from ._across import COLORS, chart, clip, code, fmt_pct, ids_condition, user_text_column
from ._language_id import identify

NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "tr": "Turkish",
    "pl": "Polish",
    "id": "Indonesian",
    "vi": "Vietnamese",
    "sv": "Swedish",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "ru": "Russian",
    "uk": "Ukrainian",
    "ar": "Arabic",
    "fa": "Persian",
    "he": "Hebrew",
    "hi": "Hindi",
    "bn": "Bengali",
    "ta": "Tamil",
    "th": "Thai",
    "el": "Greek",
    "cs": "Czech",
    "da": "Danish",
    "fi": "Finnish",
    "hu": "Hungarian",
    "no": "Norwegian",
    "ro": "Romanian",
    "sk": "Slovak",
    "ca": "Catalan",
    "ms": "Malay",
    "tl": "Tagalog",
    "unknown": "Unknown",
}

#: Unicode ranges per script (first match wins for a character).
_SCRIPTS: list[tuple[str, list[tuple[int, int]]]] = [
    ("kana", [(0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)]),
    ("han", [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF)]),
    ("hangul", [(0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F)]),
    ("cyrillic", [(0x0400, 0x04FF)]),
    ("arabic", [(0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)]),
    ("hebrew", [(0x0590, 0x05FF)]),
    ("devanagari", [(0x0900, 0x097F)]),
    ("bengali", [(0x0980, 0x09FF)]),
    ("tamil", [(0x0B80, 0x0BFF)]),
    ("thai", [(0x0E00, 0x0E7F)]),
    ("greek", [(0x0370, 0x03FF)]),
]
_SCRIPT_LANGUAGE = {
    "hangul": "ko",
    "hebrew": "he",
    "devanagari": "hi",
    "bengali": "bn",
    "tamil": "ta",
    "thai": "th",
    "greek": "el",
}

#: The most frequent function words of each Latin-script language (distinctive ones kept).
STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the and is are was were to of in for on with that this it you i my me what how can do does "
        "not be have has will would should please from at by an or your we they there which why when "
        "a as so if up all just some any one more about into out over also only then than these those "
        "them their our us its been did done where who get set make need want add show after before",
        "es": "el la los las de del que y en un una es por para con no se su al lo como más pero sus le ya "
        "porque cuando muy sin sobre también me hay donde quien desde todo nos durante puedo cómo qué está",
        "fr": "le la les de des du et est en un une que qui dans pour pas sur au avec ce il elle ne se sont "
        "par plus je vous nous mais ou comme mon ma mes cette aux être avoir fait comment pourquoi",
        "de": "der die das und ist nicht ein eine zu den mit von dem sich des auf für im dass ich sie es wie "
        "auch an werden aus er hat wir bitte kann mein meine wie warum wird sind oder aber",
        "pt": "o a os as de do da dos das que e em um uma é para com não por se na no mais como mas foi ao "
        "ele ela seu sua ou quando muito já eu também só pelo pela até isso você meu minha está",
        "it": "il lo la i gli le di del della che e è un una per con non in si da sono come ma anche questo "
        "mi ci ho hai ha nel nella al alla perché cosa sei mio mia può essere più",
        "nl": "de het een en van is dat op te in niet zijn voor met die aan er maar om ook als dan bij nog "
        "wat hoe ik je mijn kan wordt heeft naar uit waarom",
        "tr": "ve bir bu da de için ile ne mi çok daha ama gibi olarak var ben sen o biz nasıl neden değil "
        "olan kadar sonra bana beni",
        "pl": "i w na nie się z do to że jest jak co po ale od za o jestem czy tak mi mnie jego jej być "
        "dla przez może proszę dlaczego",
        "id": "yang dan di ke dari ini itu untuk dengan tidak ada saya akan pada juga dalam bisa apa "
        "bagaimana kami kita mereka adalah",
        "vi": "và của là có không được cho một những trong với các người này đã tôi bạn như khi để làm sao thì",
        "sv": "och att det som en på är av för med till den har inte om ett jag men vi var så kan hur varför min mitt",
    }.items()
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
#: Fewer stopword hits than this in Latin text means we cannot tell ("unknown").
MIN_HITS = 2


def _script_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        code_point = ord(ch)
        if code_point < 0x0250:
            counts["latin"] = counts.get("latin", 0) + 1
            continue
        for script, ranges in _SCRIPTS:
            if any(lo <= code_point <= hi for lo, hi in ranges):
                counts[script] = counts.get(script, 0) + 1
                break
        else:
            key = "latin" if 0x1E00 <= code_point <= 0x1EFF else "other"
            counts[key] = counts.get(key, 0) + 1
    return counts


def detect_language(text: str | None) -> tuple[str, float]:
    """(ISO 639-1 code or "unknown", confidence in [0, 1]) for one text: py3langid's model on the
    prose of the text (code, paths and URLs removed), CJK by script (see :mod:`._language_id`)."""
    return identify(text)


def detect_language_by_stopwords(text: str | None) -> tuple[str, float]:
    """The former detector (script, then a stopword count): kept for comparison in the tests."""
    if not text or not text.strip():
        return "unknown", 0.0
    counts = _script_counts(text)
    # One CJK character carries about a word: weigh them so a CJK sentence with an English term
    # in it is still CJK.
    weighted = {s: n * (3 if s in ("han", "kana", "hangul") else 1) for s, n in counts.items()}
    total = sum(weighted.values())
    if total == 0:
        return "unknown", 0.0
    cjk = weighted.get("han", 0) + weighted.get("kana", 0)
    non_latin = {s: n for s, n in weighted.items() if s not in ("latin", "other")}
    if cjk and cjk >= max(non_latin.values()) and cjk / total >= 0.3:
        return ("ja" if counts.get("kana", 0) >= 2 else "zh"), round(cjk / total, 3)
    if non_latin:
        script, n = max(non_latin.items(), key=lambda item: item[1])
        if n / total >= 0.3:
            if script == "cyrillic":
                lang = "uk" if re.search(r"[іїєґІЇЄҐ]", text) else "ru"
            elif script == "arabic":
                lang = "fa" if re.search(r"[پچژگ]", text) else "ar"
            else:
                lang = _SCRIPT_LANGUAGE.get(script, "unknown")
            return lang, round(n / total, 3)
    words = [w.lower() for w in _WORD.findall(text)]
    hits = {lang: sum(w in stop for w in words) for lang, stop in STOPWORDS.items()}
    best = max(hits, key=lambda lang: (hits[lang], lang == "en"))
    if hits[best] < MIN_HITS:
        return "unknown", 0.0
    runner_up = max((h for lang, h in hits.items() if lang != best), default=0)
    return best, round((hits[best] - runner_up) / hits[best], 3) if hits[best] else 0.0


#: Span types whose input is a prompt a person or an orchestrator wrote (not tool arguments).
PROMPT_TYPES = ("task", "llm", "agent", "chain", "workflow")
#: How many prompts of a trace are read when its root holds no user message.
PROMPTS_PER_TRACE = 3


#: The span columns ``_prompt_texts`` reads.
_PROMPT_COLUMNS = ("root_span_id", "is_root", "type", "input", "start", "created", "depth")


def _working_languages(ctx: ToolContext) -> pl.DataFrame:
    """``trace_languages`` of the working traces, reading only the columns it uses (from a store:
    the sampled traces' rows, and the spans of the traces whose root holds no user message)."""
    traces = working_traces(ctx, ("root_span_id", "input", "created", "user"))
    return trace_languages(traces, lambda roots: working_spans_of(ctx, roots, _PROMPT_COLUMNS))


def _prompt_texts(logs: pl.DataFrame, roots: pl.Series) -> pl.DataFrame:
    """root_span_id, text: the first prompts inside each trace (task, LLM, agent spans), for traces
    whose root input holds no user message (a Claude Code session's root is the issue, its phases'
    prompts are the words written to the agent)."""
    spans = (
        logs.filter(
            pl.col("root_span_id").is_in(roots.implode())
            & ~pl.col("is_root")
            & pl.col("type").is_in(PROMPT_TYPES)
            & pl.col("input").is_not_null()
        )
        .sort("root_span_id", pl.coalesce("start", "created"), "depth", nulls_last=True)
        .select("root_span_id", "input")
    )
    if spans.height == 0:
        return pl.DataFrame(schema={"root_span_id": pl.String, "text": pl.String})
    messages = user_text_column(spans)
    return (
        spans.with_columns(text=messages.list.join("\n"))
        .filter(pl.col("text").str.strip_chars() != "")
        .group_by("root_span_id", maintain_order=True)
        .agg(pl.col("text").unique(maintain_order=True).head(PROMPTS_PER_TRACE).str.join("\n"))
    )


def trace_languages(
    traces: pl.DataFrame,
    logs: pl.DataFrame | Callable[[pl.Series], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """root_span_id, text (the user's messages joined), language, confidence, and ``source``:
    "root" (the root's user messages) or "prompts" (with ``logs`` given, a trace whose root holds
    no user message is read from the prompts inside it). ``logs`` may be a function giving the
    spans of some traces (``_PROMPT_COLUMNS`` of them at least): only those traces' are read."""
    texts = user_text_column(traces).list.join("\n")
    source = pl.Series("source", ["root"] * traces.height, dtype=pl.String)
    if logs is not None:
        empty = traces.get_column("root_span_id").filter(texts.fill_null("").str.strip_chars() == "")
        if empty.len():
            prompts = _prompt_texts(logs if isinstance(logs, pl.DataFrame) else logs(empty), empty)
            joined = traces.select("root_span_id").join(prompts, on="root_span_id", how="left", maintain_order="left")
            fallback = joined.get_column("text")
            use = (texts.fill_null("").str.strip_chars() == "") & fallback.is_not_null()
            texts = pl.select(pl.when(use).then(fallback).otherwise(texts)).to_series()
            source = pl.select(pl.when(use).then(pl.lit("prompts")).otherwise(source)).to_series()
    unique = texts.unique().drop_nulls()
    detected = [detect_language(t) for t in unique.to_list()]
    mapping = pl.DataFrame(
        {
            "text": unique,
            "language": [d[0] for d in detected],
            "confidence": [d[1] for d in detected],
        },
        schema={"text": pl.String, "language": pl.String, "confidence": pl.Float64},
    )
    return (
        traces.select("root_span_id", "created", "user")
        .with_columns(text=texts.alias("text"), source=source.alias("source"))
        .join(
            mapping, on="text", how="left", maintain_order="left"
        )  # the traces' order: each language's example is its first
        .with_columns(pl.col("language").fill_null("unknown"), pl.col("confidence").fill_null(0.0))
    )


def _distribution(langs: pl.DataFrame) -> pl.DataFrame:
    total = langs.height
    return (
        langs.group_by("language")
        .agg(traces=pl.len(), users=pl.col("user").drop_nulls().n_unique(), example=pl.col("text").first())
        .with_columns(
            name=pl.col("language").replace_strict(NAMES, default=pl.col("language")),
            share=pl.col("traces") / total,
            example=pl.col("example").str.slice(0, 120),
        )
        .sort(["traces", "language"], descending=[True, False])
        .select("language", "name", "traces", "share", "users", "example")
    )


@tool(
    phrases=(
        r"\b(what|which) languages?\b",
        r"\blanguages? (distribution|breakdown|mix|detection|of (the )?(users?|inputs?|questions?))\b",
        r"\bdetect (the )?languages?\b",
        r"\bby language\b",
        r"^\W*(user |input )?languages\W*$",
    )
)
def detect_languages(ctx: ToolContext) -> ToolResult:
    """The languages users write in (root inputs, detected offline by script and stopwords): how many
    traces and users per language, with an example each.
    """
    langs = _working_languages(ctx)
    dist = _distribution(langs)
    call = code("languages", "detect_languages", {})
    lines = [f"Languages of {langs.height:,} traces' user inputs:"]
    from_prompts = int((langs.get_column("source") == "prompts").sum())
    if from_prompts:
        lines[0] = (
            f"Languages of {langs.height:,} traces' user inputs ({from_prompts:,} whose root holds no user message "
            f"read from the first prompts inside them):"
        )
    for row in dist.head(12).iter_rows(named=True):
        lines.append(f"- {row['name']} ({row['language']}): {row['traces']:,} ({fmt_pct(row['share'])})")
    fig = px.bar(
        dist,
        x="name",
        y="traces",
        color_discrete_sequence=COLORS,
        labels={"name": "Language", "traces": "Traces"},
        hover_data=["share", "users"],
    )
    return ToolResult(
        "\n".join(lines),
        [Table(dist, title="Languages of user inputs"), chart(fig, "Traces by language of the user's input"), call],
    )


@tool(
    phrases=(
        r"\bnon[- ]?english\b",
        r"\bnot (in )?english\b",
        r"\b(foreign|other) languages?\b",
        r"\b(traces?|users?|questions?|inputs?|requests?|conversations?|messages?) in (chinese|mandarin|japanese|korean|spanish|french|german|russian|arabic|portuguese|italian|hindi)\b",
        r"\b(chinese|mandarin|japanese|korean|spanish|french|german|russian|arabic|portuguese|italian|hindi) (traces?|users?|questions?|inputs?|speakers?|requests?|conversations?|messages?)\b",
    )
)
def non_english_traces(ctx: ToolContext, language: str | None = None, limit: int = 100) -> ToolResult:
    """Traces whose user input is not in English (or is in one given language), with the language,
    confidence and the text.

    Args:
        language: an ISO 639-1 code ("zh", "es", ...) or an English name ("Mandarin", "Spanish") to
            keep only that language; by default every language other than English.
        limit: how many traces to list.
    """
    langs = _working_languages(ctx)
    wanted = _language_code(language) if language else None
    if wanted:
        chosen = langs.filter(pl.col("language") == wanted)
        label = NAMES.get(wanted, wanted)
    else:
        chosen = langs.filter(~pl.col("language").is_in(["en", "unknown"]))
        label = "non-English"
    call = code("languages", "non_english_traces", {"language": language, "limit": limit})
    if chosen.height == 0:  # an empty table still: the snippet (and a script) reads .first(Table)
        return ToolResult(f"No {label} traces among {langs.height:,}.", [Table(chosen, title=f"{label} traces"), call])
    chosen = chosen.sort(["created", "root_span_id"], descending=[True, False], nulls_last=True)
    dist = _distribution(chosen)
    lines = [
        f"{chosen.height:,} {label} traces of {langs.height:,} ({fmt_pct(chosen.height / langs.height)}): "
        + ", ".join(f"{r['name']} {r['traces']}" for r in dist.head(8).iter_rows(named=True))
        + ". Examples:"
    ]
    for row in chosen.head(5).iter_rows(named=True):
        lines.append(f'- {row["root_span_id"]} [{row["language"]}]: "{clip(row["text"], 70)}"')
    ids = chosen.get_column("root_span_id").to_list()
    return ToolResult(
        "\n".join(lines),
        [
            Table(chosen.head(limit).with_columns(pl.col("text").str.slice(0, 500)), title=f"{label} traces"),
            Table(dist, title=f"{label} traces by language"),
            SqlFilter(ids_condition(ids), "traces", len(ids), ids, title=f"{label} traces"),
            call,
        ],
    )


def _language_code(language: str) -> str:
    text = language.strip().lower()
    if text in NAMES:
        return text
    aliases = {"mandarin": "zh", "cantonese": "zh", "farsi": "fa", "chinese": "zh"}
    if text in aliases:
        return aliases[text]
    for code_, name in NAMES.items():
        if name.lower() == text:
            return code_
    return text
