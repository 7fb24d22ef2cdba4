"""Issue 14 item 18: languages on real data. The Claude Code fixtures (tielec-ai-workflow) were
"Unknown 100%" although their prompts are Japanese. Detection (py3langid, the model shipped in the
package) is measured here on the fixtures against labels that do not come from the detector: the
script of the text (kana = Japanese; plain ASCII prose = English) and the fixture's documented
language (tau-bench users write English)."""

from __future__ import annotations

import re
from collections import Counter

import orjson
import polars as pl
import pytest

from loop_jupyter.analysis._across import user_messages
from loop_jupyter.analysis.languages import detect_language, detect_languages, non_english_traces
from loop_jupyter.artifacts import Table
from loop_jupyter.loaders import load_logs

KANA = re.compile(r"[\u3040-\u30ff]")


@pytest.fixture(scope="module")
def tielec(fixtures_dir) -> pl.DataFrame:
    return load_logs(fixtures_dir / "tielec-ai-workflow")


def _output_texts(logs: pl.DataFrame) -> list[str]:
    texts = []
    for value in logs.filter(pl.col("type") == "llm")["output"].drop_nulls().unique().to_list():
        parsed = orjson.loads(value)
        if isinstance(parsed, dict):
            parsed = parsed.get("content")
        if isinstance(parsed, list):
            parsed = "\n".join(p.get("text", "") for p in parsed if isinstance(p, dict))
        if isinstance(parsed, str) and parsed.strip():
            texts.append(parsed)
    return texts


def test_claude_code_traces_are_japanese(tielec: pl.DataFrame) -> None:
    # Every trace has Japanese prompts inside it (task spans), though its root holds only the issue.
    prompts = tielec.filter((pl.col("type") == "task") & pl.col("input").str.contains(KANA.pattern))
    traces = tielec["root_span_id"].n_unique()
    assert prompts["root_span_id"].n_unique() == traces
    result = detect_languages(tielec)
    dist = result.first(Table).frame
    assert dict(dist.select("language", "traces").iter_rows()) == {"ja": traces}
    assert "read from the first prompts" in result.text
    listed = non_english_traces(tielec, language="Japanese").first(Table).frame
    assert listed.height == traces


def test_accuracy_on_the_fixtures(tielec: pl.DataFrame, fixtures_dir) -> None:
    outputs = _output_texts(tielec)
    # Japanese: mostly Japanese text (kana), often with code, paths and English terms mixed in.
    japanese = [t for t in outputs if len(KANA.findall(t)) >= 0.1 * len(t)]
    english = [t for t in outputs if t.isascii() and len(re.findall(r"[A-Za-z]{2,}", t)) >= 4]
    assert len(japanese) > 200 and len(english) > 50
    ja = Counter(detect_language(t)[0] for t in japanese)
    en = Counter(detect_language(t)[0] for t in english)
    assert ja["ja"] / len(japanese) >= 0.99, ja
    assert en["en"] / len(english) >= 0.98, en
    # tau-bench: real users' messages, many short ("yes", "ok"): wrong answers are rare, short ones
    # may be "unknown".
    tau = load_logs(fixtures_dir / "tau-bench")
    messages = list(dict.fromkeys(m for v in tau["input"].drop_nulls().unique().to_list() for m in user_messages(v)))
    assert len(messages) > 1000
    found = Counter(detect_language(m)[0] for m in messages)
    assert found["en"] / len(messages) >= 0.98, found.most_common(5)
    assert sum(n for lang, n in found.items() if lang not in ("en", "unknown")) / len(messages) <= 0.005


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        # Mixed code and prose: the prose decides.
        (
            "このテストが失敗します。\n```python\ndef test_add():\n    assert add(1, 2) == 3\n```\n原因を教えてください",
            "ja",
        ),
        ("Please fix `load_config()` in src/app/config.py, it raises KeyError on startup", "en"),
        ("Warum schlägt `npm run build` mit TS2345 fehl? Die Datei src/index.ts ist unverändert.", "de"),
        ("GitHubのIssue #369 を src/main.py に実装してください", "ja"),
        ("请把 config.yaml 里的 timeout 改成 30 秒", "zh"),
        ("배포가 실패했어요 kubectl logs 결과를 봐주세요", "ko"),
        # Latin-script languages beyond a stopword list (the former detector said unknown or Dutch).
        ("Dobrý den, potřebuji pomoc s objednávkou, nepřišla mi", "cs"),
        ("Hei, tilaukseni ei ole vielä saapunut, voitteko auttaa", "fi"),
        ("Hej, min ordre er ikke kommet endnu, kan I hjælpe", "da"),
        # Short messages: no guess.
        ("ok", "unknown"),
        ("yes", "unknown"),
        ("hi", "unknown"),
    ],
)
def test_mixed_and_short_texts(text: str, lang: str) -> None:
    assert detect_language(text)[0] == lang
