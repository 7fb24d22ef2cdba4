"""Run a scorer's code in a child process, never in the kernel's.

One child per run (``python -I _scorer_child.py``; a new one only after a row times out or the
process dies), fed the rows in chunks over a pipe, answering one JSON line per row. The child:

- gets the scorer's bytes from the parent (the ones whose SHA-256 was checked), not the file;
- sees an environment stripped of secrets (:func:`child_env`): only the names in
  :data:`SAFE_NAMES` (PATH, HOME, locale, temp folders, thread counts), and never a name holding
  KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL, ... or starting with AWS_, ANTHROPIC_, OPENAI_, ...;
- has a memory limit (RLIMIT_AS, set in the child on Linux; none on Windows) and a wall-time limit
  per row (the parent kills the process group when a row takes longer; time the parent spends
  asking the model for an LLM-as-judge row does not count);
- reaches the session's model only through the parent (``llm(prompt, choices=...)``).

A process of the same user is not a security boundary: on Linux it could still read the kernel's
``/proc/<pid>/environ``. The confirmation in ``run_scorer`` is what keeps an unreviewed file from
running; the child keeps a confirmed scorer's bugs (a loop, a memory blow-up, a crash, a stray
``print``) and its imports out of the kernel, and keeps API keys out of its reach by accident.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

CHILD = Path(__file__).with_name("_scorer_child.py")


@dataclass
class Limits:
    #: Wall time one row may take in the child (LLM calls made through the parent excluded).
    row_timeout_s: float = 10.0
    #: Wall time to start the child and import the scorer file.
    load_timeout_s: float = 30.0
    #: Address-space limit of the child (RLIMIT_AS); None for none.
    memory_mb: int | None = 2048
    #: After a time-out or a crash a fresh child takes the next rows, at most this many times.
    max_restarts: int = 2


#: The limits every run uses (tests and notebooks may change them).
LIMITS = Limits()

#: Environment variables a scorer's process keeps (plus any LC_*): nothing else is inherited.
SAFE_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "USERNAME", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
        "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "NUMBER_OF_PROCESSORS",
        "PROCESSOR_ARCHITECTURE", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
        "POLARS_MAX_THREADS", "RAYON_NUM_THREADS", "NUMEXPR_MAX_THREADS", "VIRTUAL_ENV", "CONDA_PREFIX",
    }
)  # fmt: skip
#: Names never passed on, even when listed above.
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "COOKIE", "SESSION")
SECRET_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "GCP_", "ANTHROPIC_", "OPENAI_", "LOOP_JUPYTER_", "HF_", "GITHUB_")

#: Rows per message to the child, and bytes of row text per message.
CHUNK_ROWS = 256
CHUNK_BYTES = 1 << 20


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS) or upper.startswith(SECRET_PREFIXES)


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The scorer process's environment: the safe names of ``environ`` (default ``os.environ``)."""
    environ = dict(os.environ if environ is None else environ)
    return {
        name: value
        for name, value in environ.items()
        if (name.upper() in SAFE_NAMES or name.upper().startswith("LC_")) and not is_secret_name(name)
    }


class ScorerLoadError(Exception):
    """The scorer file could not be started (syntax error, no ``score``, import failure, limits)."""


class NeedsModel(Exception):
    """An LLM-as-judge scorer with no model configured."""


@dataclass
class ScorerRun:
    kind: str
    name: str | None
    values: list[float | None]
    failures: list[str] = field(default_factory=list)
    #: Why rows were left unscored (too many time-outs or crashes), else None.
    stopped: str | None = None


def letter_from_text(reply: str, choices: list[str]) -> str:
    """For a plain ``llm(prompt) -> text`` callable (no structured output): the reply must be the
    choice itself (``C``, ``C.``, ``**C**``, ``{"choice": "C"}``). Prose is no choice: a letter is
    never guessed out of a sentence."""
    text = (reply or "").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "choice" in parsed:
        text = str(parsed["choice"])
    text = text.strip().strip("*`'\".()[] ").strip()
    for choice in choices:
        if text.upper() == choice.upper():
            return choice
    raise ValueError(f"the judge's reply is not one of {', '.join(choices)}: {reply[:80]!r}")


def choose(llm: Callable[..., Any], prompt: str, choices: list[str]) -> str:
    """The judge's letter: structured (``llm.choose``, a forced tool call) when the model offers it."""
    pick = getattr(llm, "choose", None)
    if callable(pick):
        return pick(prompt, list(choices))
    return letter_from_text(llm(prompt) or "", list(choices))


class _TimedOut(Exception):
    pass


class _Died(Exception):
    pass


class _Child:
    """One scorer process, its reader thread (stdout lines), writer thread and stderr drain."""

    def __init__(self, workspace: Path) -> None:
        extra: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {}
        # The row being scored, written by the child into this 8-byte file (mapped in memory).
        handle, name = tempfile.mkstemp(prefix="progress-", dir=workspace)
        os.write(handle, (-1).to_bytes(8, "little", signed=True))
        os.close(handle)
        self.progress = Path(name)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(CHILD)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=child_env(),
                **extra,
            )
        except OSError as exc:
            raise ScorerLoadError(f"cannot start the scorer's process: {exc}") from exc
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.outbox: queue.Queue[bytes | None] = queue.Queue()
        self.written = threading.Event()
        self.write_error: BaseException | None = None
        self.stderr = bytearray()
        for target in (self._read, self._write, self._drain):
            threading.Thread(target=target, daemon=True, name=f"scorer{target.__name__}").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put(line)
        self.lines.put(None)

    def _write(self) -> None:
        assert self.proc.stdin is not None
        while (data := self.outbox.get()) is not None:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (OSError, ValueError) as exc:
                self.write_error = exc
            self.written.set()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        while chunk := self.proc.stderr.read(4096):
            self.stderr += chunk
            del self.stderr[:-4000]

    def send(self, message: dict[str, Any], timeout: float) -> None:
        """Write one message; a child that stops reading for ``timeout`` s is killed (_Died)."""
        self.written.clear()
        self.outbox.put(json.dumps(message).encode("ascii") + b"\n")
        if not self.written.wait(timeout):
            self.kill()
            raise _Died
        if self.write_error is not None:
            raise _Died from self.write_error

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise _TimedOut from None
        if line is None:
            raise _Died
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.kill()
            raise _Died
        return message

    def current_row(self) -> int:
        """The row the child started last (-1 before any)."""
        try:
            return int.from_bytes(self.progress.read_bytes()[:8], "little", signed=True)
        except OSError:
            return -1

    def kill(self) -> None:
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError, PermissionError):  # the group: what the scorer started too
                os.killpg(self.proc.pid, signal.SIGKILL)
        elif self.proc.poll() is None:
            self.proc.kill()

    def close(self) -> None:
        self.outbox.put(None)  # the writer closes stdin: the child's loop ends
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
        self.kill()  # anything the scorer left running in its process group

    def why_dead(self) -> str:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        tail = bytes(self.stderr).decode("utf-8", "replace").strip().splitlines()[-3:]
        return how + (f"; stderr: {' | '.join(tail)[-300:]}" if tail else "")

    # -- the protocol ---------------------------------------------------------------------------
    def start(self, source: bytes, path: Path, limits: Limits) -> tuple[str, str | None]:
        setup = {
            "op": "load",
            "path": str(path),
            "source_b64": base64.b64encode(source).decode("ascii"),
            "sys_path": [p for p in sys.path if isinstance(p, str)],
            "memory_mb": limits.memory_mb,
            "progress": str(self.progress),
        }
        try:
            self.send(setup, limits.load_timeout_s)
            message = self.receive(limits.load_timeout_s)
        except _TimedOut:
            self.kill()
            raise ScorerLoadError(f"loading {path.name} took over {limits.load_timeout_s:g} s; stopped") from None
        except _Died:
            raise ScorerLoadError(f"the scorer's process ended while loading {path.name} ({self.why_dead()})") from None
        if message.get("op") == "fatal":
            raise ScorerLoadError(str(message.get("error")))
        return str(message.get("kind") or "code"), message.get("name")

    def score(
        self, rows: pl.DataFrame, sizes: list[int], start: int, skip: set[int], run: ScorerRun, llm: Any, limits: Limits
    ) -> int:
        """Score rows from ``start`` (but not those in ``skip``). Returns ``rows.height`` when done;
        else the first row without a result after this process was stopped (the row that hung or
        crashed it is added to ``skip``, with its failure)."""
        n = rows.height
        i = start
        # The child sends results every FLUSH_S at most: a row gets the time limit plus that.
        wait = limits.row_timeout_s + 0.25
        while i < n:
            while i in skip:
                i += 1
            if i >= n:
                break
            end, total = i, 0
            while (
                end < n and end not in skip and end - i < CHUNK_ROWS and (end == i or total + sizes[end] <= CHUNK_BYTES)
            ):
                total += sizes[end]
                end += 1
            try:
                self.send({"op": "rows", "start": i, "rows": rows.slice(i, end - i).rows()}, limits.row_timeout_s)
                while i < end:
                    message = self.receive(wait)
                    if message.get("op") == "llm":
                        self.send(self._ask(message, llm), limits.row_timeout_s)
                        continue  # the row's clock starts again once the model has answered
                    for index, value, error in message.get("r") or []:
                        if index != i:
                            self.kill()
                            raise _Died
                        self._record(run, i, value, error)
                        i += 1
            except _TimedOut:
                hung = max(self.current_row(), i)
                self.kill()
                skip.add(hung)
                run.failures.append(
                    f"TimeoutError: row {hung + 1} took over {limits.row_timeout_s:g} s (the scorer's time limit "
                    "per row); its process was stopped"
                )
                return i
            except _Died:
                broken = max(self.current_row(), i)
                skip.add(broken)
                run.failures.append(f"row {broken + 1}: the scorer's process died ({self.why_dead()})")
                return i
        return n

    @staticmethod
    def _record(run: ScorerRun, i: int, value: Any, error: Any) -> None:
        if error is not None:
            run.failures.append(str(error))
            value = None
        elif value is not None:
            value = float(value)
            if not 0.0 <= value <= 1.0:
                run.failures.append(f"score {value} outside [0, 1]")
                value = None
        run.values[i] = value

    @staticmethod
    def _ask(message: dict[str, Any], llm: Any) -> dict[str, Any]:
        try:
            if llm is None:
                raise RuntimeError("no model is configured")
            prompt = str(message.get("prompt", ""))
            choices = message.get("choices")
            reply = choose(llm, prompt, [str(c) for c in choices]) if choices else llm(prompt)
            return {"reply": "" if reply is None else str(reply)}
        except Exception as exc:  # the row fails, not the run
            return {"error": f"{type(exc).__name__}: {exc}"}


def score_in_child(
    source: bytes,
    path: Path,
    rows: pl.DataFrame,
    llm: Callable[..., Any] | None = None,
    limits: Limits | None = None,
) -> ScorerRun:
    """Score ``rows`` (columns input, output, expected, metadata as JSON text, errors as a list)
    with the scorer whose code is ``source`` (its file is ``path``), in a child process.

    Raises :class:`ScorerLoadError` when the file cannot be loaded, :class:`NeedsModel` for an
    LLM-as-judge scorer without ``llm``. Row errors and time-outs are per row in ``failures``.
    """
    limits = limits or LIMITS
    columns = rows.select("input", "output", "expected", "metadata", "errors")
    sizes = (
        columns.select(
            pl.sum_horizontal(
                pl.col(c).str.len_bytes().fill_null(0) for c in ("input", "output", "expected", "metadata")
            )
        )
        .to_series()
        .to_list()
    )
    run: ScorerRun | None = None
    start = restarts = 0
    skip: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="loop-scorer-") as workspace:
        while True:
            child = _Child(Path(workspace))
            try:
                try:
                    kind, name = child.start(source, path, limits)
                except ScorerLoadError as exc:
                    if run is None:
                        raise
                    run.stopped = f"a new scorer process could not start: {exc}"
                    break
                if run is None:
                    if kind == "llm_judge" and llm is None:
                        raise NeedsModel(name or path.parent.name)
                    run = ScorerRun(kind, name, [None] * columns.height)
                start = child.score(columns, sizes, start, skip, run, llm, limits)
            finally:
                child.close()
            if start >= columns.height:
                break
            restarts += 1
            if restarts > limits.max_restarts:
                left = sum(1 for k in range(start, columns.height) if k not in skip)
                run.stopped = f"stopped after {restarts} time-outs or crashes; {left:,} rows not scored"
                break
    assert run is not None
    if run.stopped:
        run.failures.extend(
            f"row {k + 1}: not scored ({run.stopped})" for k in range(start, columns.height) if k not in skip
        )
    return run


__all__ = ["LIMITS", "Limits", "NeedsModel", "ScorerLoadError", "ScorerRun", "child_env", "score_in_child"]
