"""Language identification of one text, offline: py3langid (langid.py's naive Bayes model over byte
n-grams, 97 languages, the model ships inside the package) on the prose of the text.

What real logs need on top of the model:

- **Code and prose mixed.** Fenced and inline code, URLs, file paths, ids and markdown markup are
  removed first; an English identifier inside a Japanese sentence must not make it English.
- **CJK.** Kana means Japanese, Hangul Korean; Han alone is left to the model (Chinese or
  Japanese). A CJK character carries about a word, so a CJK sentence with English terms stays CJK.
- **Short messages.** Under :data:`MIN_LETTERS` letters of prose, or below :data:`MIN_CONFIDENCE`,
  the answer is "unknown" rather than a guess ("ok", "yes", "hi").
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: Languages the model may answer (restricting it keeps short texts from landing on rare languages).
LANGUAGES = (
    *("en", "es", "fr", "de", "pt", "it", "nl", "tr", "pl", "id", "vi", "sv", "zh", "ja", "ko", "ru", "uk", "ar"),
    *("fa", "he", "hi", "bn", "ta", "th", "el", "cs", "da", "fi", "hu", "no", "ro", "sk", "ca", "ms", "tl"),
)
#: Below this probability (normalised over :data:`LANGUAGES`) the text is "unknown".
MIN_CONFIDENCE = 0.5
#: Fewer letters of prose than this is too short to tell (CJK characters count three each).
MIN_LETTERS = 8

_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# ASCII only: a URL, path or identifier ends where Japanese or Chinese text (written without
# spaces) begins.
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[!-~]+", re.I | re.A)
_PATH = re.compile(
    r"(?:[\w.@~-]*/[\w.@~/-]+|\b[\w-]+\.(?:py|js|ts|tsx|md|json|ya?ml|toml|sh|go|rs|java|txt|csv)\b)", re.A
)
_IDENT = re.compile(r"\b\w*[_\d]\w*\b", re.A)  # snake_case, ids, numbers
_MARKUP = re.compile(r"[#*>|_=\[\]{}()<>~^\\]+")

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(LANGUAGES)
    return identifier


def prose(text: str) -> str:
    """``text`` without code, URLs, paths, identifiers and markdown markup."""
    for pattern in (_CODE_FENCE, _INLINE_CODE, _URL, _PATH, _IDENT, _MARKUP):
        text = pattern.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def _letters(text: str) -> int:
    cjk = len(_HAN.findall(text)) + len(_KANA.findall(text)) + len(_HANGUL.findall(text))
    return sum(ch.isalpha() for ch in text) + 2 * cjk


def identify(text: str | None) -> tuple[str, float]:
    """(ISO 639-1 code or "unknown", confidence in [0, 1]) for one text."""
    if not text or not text.strip():
        return "unknown", 0.0
    clean = prose(text[:20_000])
    if _letters(clean) < MIN_LETTERS:
        clean = re.sub(r"\s+", " ", text[:20_000]).strip()  # all code or very short: read it all
        if _letters(clean) < MIN_LETTERS:
            return "unknown", 0.0
    kana, hangul, han = len(_KANA.findall(clean)), len(_HANGUL.findall(clean)), len(_HAN.findall(clean))
    cjk_weight = 3 * (kana + hangul + han)
    latin_letters = sum(ch.isascii() and ch.isalpha() for ch in clean)
    if cjk_weight and cjk_weight >= 0.3 * (cjk_weight + latin_letters):
        share = round(cjk_weight / (cjk_weight + latin_letters), 3)
        if kana >= 2 and kana + han >= hangul:
            return "ja", share
        if hangul > kana + han:
            return "ko", share
        # Han only: Chinese, unless the model reads Japanese kanji.
        language, _ = _identifier().classify(clean)
        return ("ja" if language == "ja" else "zh"), share
    language, probability = _identifier().classify(clean)
    if probability < MIN_CONFIDENCE:
        return "unknown", round(float(probability), 3)
    return str(language), round(float(probability), 3)
