"""A scripted fake LLM server on 127.0.0.1 speaking the Anthropic Messages API and OpenAI chat
completions, streaming or not, for tests through the real ``anthropic`` and ``openai`` clients.

    with FakeLLM() as fake:
        fake.script(reply(tool("run_sql", query="SELECT 1")), reply("The answer is 1."))
        client = AnthropicClient("claude-x", api_key="test", base_url=fake.url, max_retries=0)

A reply is a dict: ``{"text", "tool_calls": [{"name", "input"} | {"name", "raw": "<json text>"}]}``;
faults: ``{"status": 429, "retry_after_ms": 10}``, ``{"status": 529}``, ``{"status": 500}``,
``{"hang": seconds}``, ``{"delay": seconds, ...reply}`` (answer late), ``{"reset_after": n}`` (close the socket after n stream events).
Reported usage per reply: ``input_tokens`` (default 100), ``output_tokens`` (20), ``cache_read``
(0; OpenAI's ``prompt_tokens_details.cached_tokens``) and ``cache_creation`` (0, Anthropic only).
Every request body is recorded in ``fake.requests``. When the script runs out the server answers
500 with "script exhausted", so a test never silently passes on an unexpected call.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def reply(text: str = "", *calls: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"text": text, "tool_calls": list(calls), **extra}


def tool(name: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "input": arguments}


def raw_tool(name: str, raw: str) -> dict[str, Any]:
    return {"name": name, "raw": raw}


class FakeLLM:
    def __init__(self) -> None:
        self.replies: deque[dict[str, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self._counter = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # -- API ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL for the anthropic client."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: dict[str, Any]) -> None:
        self.replies.extend(replies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeLLM:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests]

    # -- serving -----------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length", 0))
        raw = h.rfile.read(length) if length else b"{}"
        body = json.loads(raw or b"{}")
        self.requests.append({"path": h.path, "headers": dict(h.headers), "body": body, "bytes": len(raw)})
        openai_api = h.path.startswith("/v1/chat/completions")
        if not (openai_api or h.path.startswith("/v1/messages")):
            return self._json(h, 404, {"error": {"message": h.path}})
        if not self.replies:
            return self._error(h, 500, "script exhausted", openai_api)
        step = self.replies.popleft()
        if "delay" in step:
            time.sleep(step["delay"])
        if "hang" in step:
            time.sleep(step["hang"])
            return self._error(h, 500, "hung", openai_api)
        if "status" in step:
            headers = {}
            if "retry_after_ms" in step:
                headers["retry-after-ms"] = str(step["retry_after_ms"])
                headers["retry-after"] = "0"
            return self._error(h, step["status"], step.get("message", f"fake {step['status']}"), openai_api, headers)
        self._counter += 1
        model = body.get("model", "fake")
        if openai_api:
            if body.get("stream"):
                return self._sse(h, self._openai_chunks(step, model), step.get("reset_after"), openai_api=True)
            return self._json(h, 200, self._openai_message(step, model))
        if body.get("stream"):
            return self._sse(h, self._anthropic_events(step, model), step.get("reset_after"), openai_api=False)
        return self._json(h, 200, self._anthropic_message(step, model))

    def _json(self, h: BaseHTTPRequestHandler, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        h.send_response(code)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)

    def _error(
        self,
        h: BaseHTTPRequestHandler,
        code: int,
        message: str,
        openai_api: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        kinds = {
            429: "rate_limit_error",
            529: "overloaded_error",
            500: "api_error",
            401: "authentication_error",
            404: "not_found_error",
        }
        if openai_api:
            body: dict[str, Any] = {"error": {"message": message, "type": kinds.get(code, "api_error"), "code": None}}
        else:
            body = {"type": "error", "error": {"type": kinds.get(code, "api_error"), "message": message}}
        self._json(h, code, body, headers)

    def _sse(self, h: BaseHTTPRequestHandler, events: list[str], reset_after: int | None, *, openai_api: bool) -> None:
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("cache-control", "no-cache")
        h.send_header("connection", "close")
        h.end_headers()
        for index, chunk in enumerate(events):
            if reset_after is not None and index >= reset_after:
                h.wfile.flush()
                # An abrupt reset (RST), as a dropped connection looks to the client.
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                h.connection.close()
                h.close_connection = True
                return
            h.wfile.write(chunk.encode())
            h.wfile.flush()
        h.close_connection = True

    # -- Anthropic shapes ---------------------------------------------------------------------------
    def _blocks(self, step: dict[str, Any]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if step.get("text"):
            blocks.append({"type": "text", "text": step["text"]})
        for index, call in enumerate(step.get("tool_calls", [])):
            block = {"type": "tool_use", "id": f"toolu_{self._counter}_{index}", "name": call["name"]}
            block["input"] = call.get("input", {})
            block["raw"] = call.get("raw")
            blocks.append(block)
        return blocks

    def _anthropic_message(self, step: dict[str, Any], model: str) -> dict[str, Any]:
        blocks = [{k: v for k, v in b.items() if k != "raw"} for b in self._blocks(step)]
        return {
            "id": f"msg_{self._counter}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": "tool_use" if step.get("tool_calls") else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": step.get("input_tokens", 100),
                "output_tokens": step.get("output_tokens", 20),
                "cache_read_input_tokens": step.get("cache_read", 0),
                "cache_creation_input_tokens": step.get("cache_creation", 0),
            },
        }

    def _anthropic_events(self, step: dict[str, Any], model: str) -> list[str]:
        def ev(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        message = self._anthropic_message(step, model)
        start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
        out = [ev("message_start", {"type": "message_start", "message": start})]
        for index, block in enumerate(self._blocks(step)):
            if block["type"] == "text":
                out.append(
                    ev(
                        "content_block_start",
                        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                    )
                )
                text = block["text"]
                for piece in [text[i : i + 7] for i in range(0, len(text), 7)]:
                    out.append(
                        ev(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "text_delta", "text": piece},
                            },
                        )
                    )
            else:
                head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                out.append(
                    ev("content_block_start", {"type": "content_block_start", "index": index, "content_block": head})
                )
                raw = block["raw"] if block["raw"] is not None else json.dumps(block["input"])
                for piece in [raw[i : i + 5] for i in range(0, len(raw), 5)]:
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    out.append(
                        ev("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                    )
            out.append(ev("content_block_stop", {"type": "content_block_stop", "index": index}))
        out.append(
            ev(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                    "usage": {"output_tokens": step.get("output_tokens", 20)},
                },
            )
        )
        out.append(ev("message_stop", {"type": "message_stop"}))
        return out

    # -- OpenAI shapes ------------------------------------------------------------------------------
    def _openai_calls(self, step: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "id": f"call_{self._counter}_{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": c.get("raw") or json.dumps(c.get("input", {}))},
            }
            for i, c in enumerate(step.get("tool_calls", []))
        ]

    @staticmethod
    def _openai_usage(step: dict[str, Any]) -> dict[str, Any]:
        prompt, completion = step.get("input_tokens", 100), step.get("output_tokens", 20)
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion}
        usage["total_tokens"] = prompt + completion
        if step.get("cache_read"):
            usage["prompt_tokens_details"] = {"cached_tokens": step["cache_read"]}
        return usage

    def _openai_message(self, step: dict[str, Any], model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": step.get("text") or None}
        if step.get("tool_calls"):
            message["tool_calls"] = self._openai_calls(step)
        return {
            "id": f"chatcmpl-{self._counter}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if step.get("tool_calls") else "stop"}
            ],
            "usage": self._openai_usage(step),
        }

    def _openai_chunks(self, step: dict[str, Any], model: str) -> list[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> str:
            obj: dict[str, Any] = {
                "id": f"chatcmpl-{self._counter}",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage:
                obj["usage"] = usage
            return f"data: {json.dumps(obj)}\n\n"

        out = [chunk({"role": "assistant", "content": ""})]
        text = step.get("text") or ""
        for piece in [text[i : i + 7] for i in range(0, len(text), 7)]:
            out.append(chunk({"content": piece}))
        for index, call in enumerate(self._openai_calls(step)):
            args = call["function"]["arguments"]
            first = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            out.append(chunk({"tool_calls": [first]}))
            for piece in [args[i : i + 5] for i in range(0, len(args), 5)]:
                out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        out.append(chunk({}, "tool_calls" if step.get("tool_calls") else "stop"))
        out.append(chunk({}, usage=self._openai_usage(step)))
        out.append("data: [DONE]\n\n")
        return out
