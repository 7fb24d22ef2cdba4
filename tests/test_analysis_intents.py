from __future__ import annotations

import math
from collections import Counter

import numpy as np
import polars as pl
import pytest

from loop_jupyter.analysis.intents import classify_intents, compare, kmeans, silhouette
from loop_jupyter.artifacts import Chart, Code, Table
from loop_jupyter.embeddings import normalize
from loop_jupyter.tools import ToolContext
from tests.analysis_logs import chat_trace, frame

TOPICS = {
    "billing": ["refund my last invoice", "why was my credit card charged twice", "cancel the invoice payment"],
    "travel": ["book a flight to paris", "find a cheap flight to rome", "change my flight booking to tokyo"],
    "weather": ["weather forecast for berlin tomorrow", "will it rain in london", "temperature forecast in oslo"],
}


def _logs() -> pl.DataFrame:
    traces = []
    for intent, questions in TOPICS.items():
        for j in range(4):
            q = questions[j % 3] + (" please" if j == 3 else "")
            traces.append(chat_trace(f"{intent}{j}", q, "ok", intent=intent, offset=len(traces)))
    return frame(*traces)


def test_kmeans_recovers_separated_groups():
    rng = np.random.default_rng(1)
    centers = normalize(rng.standard_normal((3, 16)))
    points = normalize(np.repeat(centers, 20, axis=0) + 0.05 * rng.standard_normal((60, 16)))
    labels, _, inertia = kmeans(points, 3)
    truth = np.repeat([0, 1, 2], 20)
    assert compare(labels.tolist(), [str(t) for t in truth])["purity"] == 1.0
    assert inertia >= 0


def test_compare_matches_hand_computation():
    clusters = [0, 0, 0, 1, 1, 1]
    intents = ["a", "a", "b", "b", "b", None]
    scores = compare(clusters, intents)
    # 5 rows with an intent: cluster 0 = {a:2, b:1}, cluster 1 = {b:2}
    assert scores["rows"] == 5 and scores["purity"] == pytest.approx(4 / 5)
    assert scores["inverse_purity"] == pytest.approx((2 + 2) / 5)  # a: max 2; b: max(1, 2)
    p = {(0, "a"): 2 / 5, (0, "b"): 1 / 5, (1, "b"): 2 / 5}
    pc, pi = {0: 3 / 5, 1: 2 / 5}, {"a": 2 / 5, "b": 3 / 5}
    mutual = sum(v * math.log(v / (pc[c] * pi[i])) for (c, i), v in p.items())
    h = -sum(v * math.log(v) for v in pc.values())
    h2 = -sum(v * math.log(v) for v in pi.values())
    assert scores["nmi"] == pytest.approx(mutual / math.sqrt(h * h2))


def test_intents_match_logged_intent():
    result = classify_intents(_logs(), n_clusters=3)
    groups = result.first(Table).frame
    per_trace = result.frames[-1]
    assert groups.get_column("traces").sum() == 12 and groups.height == 3
    # Independent purity from the per-trace table.
    counts = Counter(zip(per_trace["cluster"], per_trace["logged_intent"], strict=True))
    purity = sum(max(v for (c2, _), v in counts.items() if c2 == c) for c in set(per_trace["cluster"])) / 12
    agreement = next(a.frame for a in result.artifacts if a.title == "Agreement with metadata.intent")
    assert agreement["purity"][0] == pytest.approx(purity)
    assert purity >= 0.9  # three clearly different topics
    assert sorted(groups["logged_majority"].to_list()) == ["billing", "travel", "weather"]
    names = " ".join(groups["name"].to_list())
    assert "flight" in names and "forecast" in names
    shares = groups["share"].to_list()
    assert shares == [round(t / 12, 4) for t in groups["traces"].to_list()]
    assert result.first(Chart) is not None and result.first(Code) is not None


def test_model_names_clusters_and_k_is_chosen():
    prompts = []

    def model(prompt: str) -> str:
        prompts.append(prompt)
        return "1: Billing questions\n2: Booking travel\n3: Weather forecasts"

    result = classify_intents(ToolContext(logs=_logs(), llm=model))
    assert len(prompts) == 1 and "refund" in prompts[0]
    groups = result.first(Table).frame
    assert 2 <= groups.height <= 12
    assert set(groups["name"].to_list()) <= {"Billing questions", "Booking travel", "Weather forecasts"} | set(
        groups["terms"].str.replace_all(", ", " / ").to_list()
    )
    assert "(named by the model)" in result.text


def test_silhouette_matches_the_definition():
    rng = np.random.default_rng(3)
    vectors = normalize(rng.standard_normal((30, 8)))
    labels = np.array([i % 3 for i in range(30)])
    distance = 1.0 - vectors @ vectors.T
    expected = []
    for i in range(30):
        same = [j for j in range(30) if labels[j] == labels[i] and j != i]
        a = np.mean([distance[i, j] for j in same])
        b = min(np.mean([distance[i, j] for j in range(30) if labels[j] == c]) for c in {0, 1, 2} - {labels[i]})
        expected.append((b - a) / max(a, b))
    assert silhouette(vectors, labels) == pytest.approx(float(np.mean(expected)), abs=1e-5)


def test_intent_names_never_name_a_user(fixtures_dir):
    # tau-bench users introduce themselves by id ("my user id is aarav_garcia_1177"): those ids
    # and the names inside them must not become intent names.
    from loop_jupyter import load_logs

    logs = load_logs(fixtures_dir / "tau-bench" / "gpt-4o-airline.json")
    inputs = " ".join(v for v in logs.get_column("input").to_list() if v)
    assert "aarav_garcia_1177" in inputs  # the fixture does carry user ids
    names = classify_intents(logs).first(Table).frame.get_column("name").to_list()
    words = {w for name in names for w in name.split(" / ")}
    assert words and not {w for w in words if any(ch.isdigit() or ch == "_" for ch in w)}
    assert not words & {"aarav", "garcia", "anya", "sophia", "silva", "omar", "rossi", "amelia", "davis"}
