"""Input tokens of the first model request per question (system prompt + tool schemas + question),
before (every tool's schema sent) and after (the always-on tools and search_tools), at 1k, 100k
and 1M demo spans; and that the offline planner answers every question the same either way.

The request is what a real ``Loop`` run sends: a recording client stands in for the model, so the
system prompt (schema, facts about the logs, the catalogue line) and the tool list are the session's
own. Tokens are counted with the o200k_base tokenizer (OpenAI's GPT-4o/GPT-5 encoding) from the
``bpe-openai`` package, which ships the encoding's ranks in its wheel (no download); without that
package the figure is ``ceil(characters / 4)`` and the output says so. Claude's tokenizer is not
public: Anthropic's count for the same text is typically somewhat higher.

Usage: python bench/bench_tokens.py [--scale small|medium|full] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_context import QUESTIONS
from common import NOW, SCALES, demo_frame, save, scale_arg

from loop_jupyter.agent.model_turn import AssistantTurn
from loop_jupyter.agent.session import Loop


def tokenizer() -> tuple[str, Any]:
    """(name, count function): o200k_base when bpe-openai is installed, else characters / 4."""
    try:
        import bpe_openai

        encoding = bpe_openai.get_encoding("o200k_base")
        return f"o200k_base (bpe-openai {bpe_openai.__version__})", lambda text: len(encoding.encode(text))
    except Exception:  # not installed, or its data missing
        return "approximation: ceil(characters / 4)", lambda text: math.ceil(len(text) / 4)


class Recorder:
    """A chat client that records each request and answers at once, without calling tools."""

    name = "bench-recorder"

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def complete(self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], stream_callback=None):
        self.requests.append({"system": system, "messages": messages, "tools": tools})
        return AssistantTurn(text="ok", stop_reason="end_turn")


def first_request(frame: Any, question: str, *, search: bool, count: Any) -> dict[str, Any]:
    recorder = Recorder()
    with Loop(frame, client=recorder) as loop:
        loop.tool_search = search
        loop.ask(question)
    request = recorder.requests[0]
    parts = {
        "system": count(request["system"]),
        "tools": count(json.dumps(request["tools"], ensure_ascii=False)),
        "question": count(question),
    }
    return {**parts, "total": sum(parts.values()), "tool_count": len(request["tools"])}


def offline_answer(frame: Any, question: str, *, search: bool) -> dict[str, Any]:
    with Loop(frame, "offline") as loop:
        loop.tool_search = search
        answer = loop.ask(question)
    shown = {"text": answer.text, "tool_calls": answer.tool_calls, "artifacts": [a.kind for a in answer.artifacts]}
    # The session's ledger: every request of the run (the planner's two turns), ceil(chars / 4).
    return {"shown": shown, "tokens_sent": answer.tokens_sent}


def measure(spans: int, count: Any, *, check_offline: bool) -> dict[str, Any]:
    frame = demo_frame(spans, now=NOW)
    rows = []
    for question in QUESTIONS:
        before = first_request(frame, question, search=False, count=count)
        after = first_request(frame, question, search=True, count=count)
        row: dict[str, Any] = {"question": question, "before": before, "after": after}
        if check_offline:
            all_tools = offline_answer(frame, question, search=False)
            searched = offline_answer(frame, question, search=True)
            row["offline_same"] = all_tools["shown"] == searched["shown"]
            row["offline_tokens_sent"] = {"before": all_tools["tokens_sent"], "after": searched["tokens_sent"]}
        rows.append(row)
    return {"spans": frame.height, "questions": rows}


def markdown(out: dict[str, Any]) -> str:
    lines = [
        f"Tokenizer: {out['tokenizer']}. First request = system prompt + tool schemas (JSON) + question.",
        "",
        "| spans | question | before: tools / system / total | after: tools / system / total "
        "| offline answer same | offline run, all requests (ledger, chars/4): before → after |",
        "|---|---|---|---|---|---|",
    ]
    for size in out["sizes"]:
        for row in size["questions"]:
            b, a = row["before"], row["after"]
            same = {True: "yes", False: "**no**", None: "not checked"}[row.get("offline_same")]
            sent = row.get("offline_tokens_sent")
            whole = f"{sent['before']:,} → {sent['after']:,}" if sent else "—"
            lines.append(
                f"| {size['spans']:,} | {row['question']} | {b['tool_count']} tools {b['tools']:,} / {b['system']:,} / "
                f"**{b['total']:,}** | {a['tool_count']} tools {a['tools']:,} / {a['system']:,} / **{a['total']:,}** "
                f"| {same} | {whole} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    scale_arg(parser)
    parser.add_argument("--markdown", action="store_true", help="print the results as a Markdown table")
    parser.add_argument("--no-offline-check", action="store_true", help="skip comparing offline answers")
    args = parser.parse_args()
    name, count = tokenizer()
    top = SCALES[args.scale]["spans"]
    sizes = sorted({min(1_000, top), min(100_000, top), top})
    out = {"tokenizer": name, "sizes": [measure(n, count, check_offline=not args.no_offline_check) for n in sizes]}
    for size in out["sizes"]:
        for row in size["questions"]:
            print(
                f"{size['spans']:>9,} spans  {row['question'][:42]:42s} first request "
                f"before {row['before']['total']:>6,}  after {row['after']['total']:>6,}  "
                f"offline same: {row.get('offline_same')}"
            )
    print(f"tokenizer: {name}")
    if args.markdown:
        print(markdown(out))
    save("tokens", out)


if __name__ == "__main__":
    main()
