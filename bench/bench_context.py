"""Tokens sent to the model per tool result and per question at 1k, 100k and 1M spans (offline planner).

The offline planner stands in for a model: it picks tools from the question, so the same questions
run the same tools at every size, and the session's own ledger counts what would be sent.

Usage: python bench/bench_context.py [--scale small|medium|full]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import NOW, SCALES, demo_frame, save, scale_arg

from loop_jupyter.agent.budget import estimate_tokens
from loop_jupyter.agent.session import Loop

QUESTIONS = [
    "What are the most common errors?",
    "Show me LLM spans from user John Smith",
    "Which traces took longer than 60 seconds?",
    "How many tokens did each model use?",
]


def measure(spans: int) -> dict:
    frame = demo_frame(spans, now=NOW)
    loop = Loop(frame, model="offline")
    rows = []
    for question in QUESTIONS:
        answer = loop.ask(question)
        results = [
            estimate_tokens(m.data["model_text"])
            for m in loop.history
            if m.kind == "tool_result" and m.run_id == answer.run_id and "model_text" in m.data
        ]
        rows.append(
            {
                "question": question,
                "tokens_sent": answer.tokens_sent,
                "largest_request": answer.tokens.get("largest_request"),
                "tool_results": results,
                "max_tool_result": max(results, default=0),
            }
        )
    return {"spans": frame.height, "questions": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    args = parser.parse_args()
    top = SCALES[args.scale]["spans"]
    sizes = sorted({min(1_000, top), min(100_000, top), top})
    out = {"sizes": [measure(n) for n in sizes]}
    for size in out["sizes"]:
        for row in size["questions"]:
            print(f"{size['spans']:>9,} spans  {row['question'][:40]:40s} sent {row['tokens_sent']:>6,} tokens, "
                  f"largest tool result {row['max_tool_result']:>5,}")  # fmt: skip
    save("context", out)


if __name__ == "__main__":
    main()
