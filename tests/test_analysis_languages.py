from __future__ import annotations

import polars as pl
import pytest

from loop_jupyter.analysis.languages import detect_language, detect_languages, non_english_traces
from loop_jupyter.artifacts import Code, SqlFilter, Table
from loop_jupyter.engine import engine_for

from ._analysis_logs import demo, frame, run_code, span  # noqa: F401

SAMPLES = {
    "en": "How do I reset my password for the admin account?",
    "zh": "我的订单什么时候到？请帮我查一下",
    "ja": "注文はいつ届きますか",
    "ko": "비밀번호를 어떻게 재설정하나요",
    "ru": "Как сбросить пароль?",
    "uk": "Як змінити пароль? Підкажіть, будь ласка, що робити",
    "ar": "كيف يمكنني إعادة تعيين كلمة المرور",
    "he": "איך אני מאפס את הסיסמה",
    "hi": "मैं अपना पासवर्ड कैसे बदलूं",
    "th": "ฉันจะเปลี่ยนรหัสผ่านได้อย่างไร",
    "el": "Πώς μπορώ να αλλάξω τον κωδικό μου;",
    "es": "¿Cómo puedo cambiar la contraseña de mi cuenta?",
    "fr": "Comment est-ce que je peux changer mon mot de passe?",
    "de": "Wie kann ich mein Passwort ändern, bitte?",
    "pt": "Como posso mudar a minha senha?",
    "it": "Come posso cambiare la mia password per il mio account?",
    "nl": "Hoe kan ik mijn wachtwoord wijzigen?",
}


@pytest.mark.parametrize(("lang", "text"), SAMPLES.items())
def test_detects_sample_sentences(lang: str, text: str) -> None:
    assert detect_language(text)[0] == lang


def test_edge_cases() -> None:
    assert detect_language("ok")[0] == "unknown"
    assert detect_language("")[0] == "unknown"
    assert detect_language("用 Python 写一个 quicksort 函数")[0] == "zh"  # CJK with English terms


@pytest.fixture(scope="module")
def logs() -> pl.DataFrame:
    inputs = [
        SAMPLES["en"],
        {"messages": [{"role": "user", "content": SAMPLES["zh"]}]},
        [{"role": "user", "content": SAMPLES["es"]}],
        {"question": SAMPLES["ru"]},
        SAMPLES["en"],
    ]
    return frame([span(f"r{i}", f"r{i}", input=x) for i, x in enumerate(inputs)])


def test_distribution_and_non_english(logs: pl.DataFrame) -> None:
    dist = detect_languages(logs).first(Table).frame
    assert dict(dist.select("language", "traces").iter_rows()) == {"en": 2, "zh": 1, "es": 1, "ru": 1}
    result = non_english_traces(logs)
    table = result.first(Table).frame
    assert sorted(table["root_span_id"]) == ["r1", "r2", "r3"]
    assert engine_for(logs).count(result.first(SqlFilter).sql, shape="traces") == 3
    assert run_code(result.first(Code).source, logs).equals(table)
    assert non_english_traces(logs, language="Mandarin").first(Table).frame["root_span_id"].to_list() == ["r1"]


def test_demo_mandarin_matches_cjk_count(demo: pl.DataFrame) -> None:  # noqa: F811
    roots = demo.filter(pl.col("is_root"))
    # Independent: root inputs whose last user message is mostly Han characters.
    cjk = roots.filter(pl.col("input").str.contains(r"[\x{4e00}-\x{9fff}]{4,}")).height
    dist = dict(detect_languages(demo).first(Table).frame.select("language", "traces").iter_rows())
    assert dist["zh"] == cjk > 0
    assert dist["en"] >= 0.9 * roots.height
