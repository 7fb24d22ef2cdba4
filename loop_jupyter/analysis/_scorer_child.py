"""The scorer's own process: run as ``python -I _scorer_child.py`` by :mod:`._sandbox`.

Standard library only (it runs without loop_jupyter on its path). Protocol: one JSON object per
line, both ways, on a private copy of stdin/stdout (the scorer's ``print`` goes to stderr and its
stdin is empty).

    parent -> {"op": "load", "path", "source_b64", "sys_path", "memory_mb", "progress"}
    child  -> {"op": "ready", "kind", "name"} | {"op": "fatal", "error"}
    parent -> {"op": "rows", "start": i, "rows": [[input, output, expected, metadata, errors], ...]}
    child  -> {"r": [[i, score | null, error | null], ...]}   results, batched (see FLUSH_S)
              {"op": "llm", "prompt", "choices"}  -> parent {"reply": text} | {"error": message}

Results are sent at the end of each chunk, before a model call, and when FLUSH_S passed since the
last send; the index of the row being scored is kept in the 8-byte ``progress`` file (mapped in
memory), so the parent knows which row hung when it has to stop this process. Row fields are
the frame's JSON text, parsed here as ``run_scorer`` always did; the memory limit (RLIMIT_AS, hard
and soft) is set before the scorer's code is compiled.
"""

import base64
import contextlib
import json
import mmap
import os
import re
import sys
import time
import types

FLUSH_S = 0.05
_LONG_DIGITS = re.compile(r"\d{19}")


def _limit_memory(memory_mb):
    if not memory_mb:
        return
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the parent's time limit still holds
        return
    size = int(memory_mb) * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):  # platforms that refuse RLIMIT_AS (macOS)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))


def _loader():
    """Parse JSON exactly as loop_jupyter.frame.loads: orjson when it can, the stdlib for integers
    beyond 64 bits (and when orjson is not installed)."""
    try:
        import orjson
    except ImportError:
        return json.loads

    def loads(text):
        if _LONG_DIGITS.search(text):
            return json.loads(text)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return json.loads(text)

    return loads


def _parser(loads):
    def parse(value):
        if value is None:
            return None
        try:
            return loads(value)
        except ValueError:
            return value

    return parse


def main():
    # The protocol gets private descriptors; fd 0 becomes empty and fd 1 the scorer's stderr.
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull)  # noqa: SIM115
    sys.stdout = sys.stderr

    def send(message):
        proto_out.write(json.dumps(message).encode("ascii") + b"\n")
        proto_out.flush()

    def receive():
        line = proto_in.readline()
        if not line:
            raise SystemExit(0)
        return json.loads(line)

    setup = receive()
    memory_mb = setup.get("memory_mb")
    _limit_memory(memory_mb)
    sys.path[:] = [p for p in setup.get("sys_path", []) if isinstance(p, str)]
    path = setup["path"]
    try:
        code = compile(base64.b64decode(setup["source_b64"]), path, "exec")
        module = types.ModuleType("loop_scorer")
        module.__file__ = path
        sys.modules["loop_scorer"] = module
        exec(code, module.__dict__)
        score = getattr(module, "score", None)
        if not callable(score):
            raise ImportError(f"{path} defines no score(input, output, expected, metadata) function")
    except BaseException as exc:  # reported to the parent, never a traceback
        send({"op": "fatal", "error": f"{type(exc).__name__}: {exc}"})
        return
    kind = getattr(module, "KIND", "code")
    name = getattr(module, "NAME", None)
    kind = kind if isinstance(kind, str) else "code"
    parse = _parser(_loader())
    with open(setup["progress"], "r+b") as handle:
        progress = mmap.mmap(handle.fileno(), 8)
    send({"op": "ready", "kind": kind, "name": name if isinstance(name, str) else None})

    done = []
    last = [time.monotonic()]

    def flush():
        if done:
            send({"r": done})
            done.clear()
        last[0] = time.monotonic()

    def llm(prompt, choices=None):
        """The session's model, through the parent (this process holds no API key)."""
        flush()
        send({"op": "llm", "prompt": str(prompt), "choices": [str(c) for c in choices] if choices else None})
        answer = receive()
        last[0] = time.monotonic()
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["reply"]

    memory_note = f" (over the scorer's memory limit of {memory_mb} MB)" if memory_mb else ""
    while True:
        message = receive()
        if message.get("op") != "rows":
            continue
        for offset, (input_, output, expected, metadata, errors) in enumerate(message["rows"]):
            index = message["start"] + offset
            progress[0:8] = index.to_bytes(8, "little")
            error = None
            try:
                meta = parse(metadata)
                meta = dict(meta) if isinstance(meta, dict) else {"value": meta} if meta else {}
                if errors:
                    parsed = [parse(e) for e in errors]
                    meta["error"] = parsed[0] if len(parsed) == 1 else parsed
                args = (parse(input_), parse(output), parse(expected), meta)
                value = score(*args, llm=llm) if kind == "llm_judge" else score(*args)
                if value is not None:
                    try:
                        value = float(value)
                    except (TypeError, ValueError):
                        shown = f"{type(value).__name__} {str(value)[:80]!r}"
                        raise TypeError(f"score returned {shown}, not a number") from None
            except MemoryError as exc:
                value, error = None, f"MemoryError{': ' + str(exc) if str(exc) else ''}{memory_note}"
            except BaseException as exc:  # one bad row must not stop the run
                value, error = None, f"{type(exc).__name__}: {exc}"
            done.append([index, value, error if error is None or len(error) <= 1000 else error[:1000] + "..."])
            if time.monotonic() - last[0] >= FLUSH_S:
                flush()
        flush()


if __name__ == "__main__":
    main()
