"""The ``%loop`` / ``%%loop`` magics.

    %load_ext loop_jupyter
    %loop                                   # the chat widget for the current logs
    %loop which tools fail most?            # answer inline: text, tables, charts, SQL, code
    %loop --logs prod --model claude-4.5-sonnet errors for {user} this week
    %%loop --yes
    build a dataset of the slow traces
    and save it

``{var}`` is filled from the user namespace once (``{{`` is a literal brace); a question may end in
``?`` (the line reaches the magic as typed, not as IPython's help). The last answer is ``_loop`` in the namespace and
``loop_jupyter.magic.last_answer()``, with ``.frames``, ``.figures``, ``.sql`` and ``.code``.
Settings are traitlets: ``%config LoopMagics.model = "..."``, ``%config LoopMagics.auto_accept = True``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import re
import shlex
import string
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.display import display
from traitlets import Bool, Unicode

from .artifacts import Artifact, Chart, Code, Pending, SqlFilter, Table, TraceView
from .render import answer_bundle, artifact_bundle, message_bundle, safe_figure, text_bundle
from .schema import is_canonical

_LAST: AnswerView | None = None


@dataclass
class AnswerView:
    """The last ``%loop`` answer with its frames, figures, SQL and code at hand."""

    question: str
    answer: Any
    artifacts: list[Artifact] = field(default_factory=list)

    @property
    def text(self) -> str:
        return str(getattr(self.answer, "text", ""))

    @property
    def frames(self) -> list[pl.DataFrame]:
        return [a.frame for a in self.artifacts if isinstance(a, Table)]

    @property
    def frame(self) -> pl.DataFrame | None:
        return self.frames[0] if self.frames else None

    @property
    def figures(self) -> list[Any]:
        return [a.figure for a in self.artifacts if isinstance(a, Chart | TraceView) and a.figure is not None]

    @property
    def sql(self) -> list[str]:
        return [a.sql for a in self.artifacts if isinstance(a, SqlFilter)]

    @property
    def code(self) -> str:
        return "\n\n".join(a.source for a in self.artifacts if isinstance(a, Code))

    @property
    def pending(self) -> list[Pending]:
        return [a for a in self.artifacts if isinstance(a, Pending) and a.status == "pending"]

    def to_json(self) -> dict[str, Any]:
        if hasattr(self.answer, "to_json"):
            return self.answer.to_json()
        return {"text": self.text, "artifacts": [a.to_json() for a in self.artifacts]}

    def __repr__(self) -> str:
        kinds = ", ".join(a.kind for a in self.artifacts) or "no artifacts"
        return f"<loop answer to {self.question[:60]!r}: {kinds}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return answer_bundle(self.text, self.artifacts, self.question)


def last_answer() -> AnswerView | None:
    """The last answer given by ``%loop`` in this process (None before the first)."""
    return _LAST


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="%loop", add_help=False, exit_on_error=False)
    parser.add_argument("--logs", help="name of the logs frame (or LogSource) in the namespace, or duckdb:///path")
    parser.add_argument("--model", help="model to use")
    parser.add_argument("--yes", "-y", action="store_true", help="auto-accept actions (save without asking)")
    parser.add_argument("--confirm", metavar="ACTION_ID", help="confirm a pending action")
    parser.add_argument("--cancel", metavar="ACTION_ID", help="cancel a pending action")
    parser.add_argument("--insert", action="store_true", help="put the answer's code in the next cell")
    parser.add_argument("--explorer", action="store_true", help="show the trace explorer with the chat")
    parser.add_argument("--help", "-h", action="store_true")
    return parser


_VALUE_OPTIONS = {"--logs", "--model", "--confirm", "--cancel"}
_TOKEN = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")


def split_options(line: str) -> tuple[list[str], str]:
    """Leading ``--options`` (shlex-unquoted) and the question: the rest of the line, verbatim.

    Options come first (``%loop --model m why do tools fail?``) so a question may hold any text.
    """
    words: list[str] = []
    rest = line
    expect_value = False
    while True:
        match = _TOKEN.match(rest)
        if not match:
            break
        token = match.group(1)
        if not expect_value and not (token.startswith("-") and len(token) > 1):
            break
        try:
            unquoted = shlex.split(token)
        except ValueError as exc:
            raise UsageError(f"%loop: {exc} in {token!r}") from None
        words.extend(unquoted or [""])
        name = token.split("=", 1)[0]
        expect_value = not expect_value and name in _VALUE_OPTIONS and "=" not in token
        rest = rest[match.end() :]
    if expect_value:
        raise UsageError(f"%loop: {words[-1]} needs a value")
    return words, rest.strip()


class _Formatter(string.Formatter):
    """``{var}`` from the namespace; ``{{`` stays a brace; unknown names are a UsageError."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if isinstance(key, int):
            raise UsageError("use {name} with a variable name, not {} or {0}")
        if key not in self.namespace:
            raise UsageError(f"{{{key}}} is not defined in the notebook")
        return self.namespace[key]


def interpolate(text: str, namespace: dict[str, Any]) -> str:
    try:
        return _Formatter(namespace).vformat(text, (), {})
    except (ValueError, IndexError, KeyError, AttributeError) as exc:
        raise UsageError(f"could not fill {{...}} in the question: {exc}") from None


@magics_class
class LoopMagics(Magics):
    """``%loop`` and ``%%loop``: ask Loop about the logs from a notebook."""

    model = Unicode("", help="Model for new questions (empty: the Loop's default).").tag(config=True)
    auto_accept = Bool(False, help="Run side effects (datasets, scorers) without asking.").tag(config=True)
    logs = Unicode("", help="Name of the logs frame in the namespace (empty: find it).").tag(config=True)
    workdir = Unicode("", help="Where datasets and scorers are written (empty: the current folder).").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._loops: dict[int, tuple[pl.DataFrame, Any]] = {}
        self._logs_name = ""
        self._stores: dict[str, Any] = {}

    # -- finding the logs and the Loop ----------------------------------------------------------------
    def _find_logs(self, name: str | None) -> tuple[str, Any]:
        """The logs a question is about: a frame, or a store (a LogSource variable, or ``--logs duckdb:///...``,
        ``chdb:///...``, ``clickhouse://...``)."""
        from .sources import LogSource, connect, is_source_url

        ns = self.shell.user_ns
        wanted = name or self.logs or self._logs_name
        if wanted and is_source_url(wanted):  # opened once (read-only), kept for the session
            if wanted not in self._stores:
                try:
                    self._stores[wanted] = connect(wanted)
                except Exception as exc:  # a missing or locked store: say why, no traceback
                    raise UsageError(f"--logs {wanted}: {exc}") from None
            return wanted, self._stores[wanted]
        if wanted:
            if wanted not in ns:
                raise UsageError(f"--logs {wanted}: no variable {wanted!r} in the notebook")
            frame = ns[wanted]
            if not isinstance(frame, pl.DataFrame | LogSource):
                raise UsageError(
                    f"--logs {wanted}: {wanted!r} is a {type(frame).__name__}, not a Polars DataFrame or a LogSource"
                )
            return wanted, frame
        if isinstance(ns.get("logs"), pl.DataFrame | LogSource):
            return "logs", ns["logs"]
        found = [
            (k, v) for k, v in ns.items() if not k.startswith("_") and isinstance(v, pl.DataFrame) and is_canonical(v)
        ]
        if len(found) == 1:
            return found[0]
        if not found:
            raise UsageError(
                "no logs found: load them first (logs = load_logs('spans.jsonl') or demo_logs()), "
                "or name them with --logs VAR"
            )
        names = ", ".join(k for k, _ in found)
        raise UsageError(f"several log frames ({names}): choose one with --logs VAR")

    def loop_for(self, frame: pl.DataFrame) -> Any:
        """One Loop per logs frame, kept so the conversation continues across cells."""
        entry = self._loops.get(id(frame))
        if entry is not None and entry[0] is frame:
            return entry[1]
        from .agent.session import Loop

        kwargs: dict[str, Any] = {"auto_accept": self.auto_accept}
        if self.workdir:
            kwargs["workdir"] = self.workdir
        loop = Loop(frame, self.model or None, **kwargs)
        self._loops[id(frame)] = (frame, loop)
        return loop

    # -- the magic ---------------------------------------------------------------------------------------
    @no_var_expand  # {var} is filled once, by interpolate(), so braces in values and {{ survive
    @line_cell_magic
    def loop(self, line: str = "", cell: str | None = None) -> Any:
        """Ask Loop about the logs; ``%loop --help`` for options."""
        option_words, rest = split_options(line)
        # IPython no longer expands the line (@no_var_expand): {var} in option values is filled here, once.
        option_words = [interpolate(w, self.shell.user_ns) if "{" in w else w for w in option_words]
        parser = _parser()
        try:
            args = parser.parse_args(option_words)
        except (argparse.ArgumentError, SystemExit) as exc:
            raise UsageError(
                f"%loop: {exc} (options: --logs VAR, --model NAME, --yes, --confirm ID, --cancel ID)"
            ) from None
        if args.help:
            print(__doc__)
            return None
        name, frame = self._find_logs(args.logs)
        self._logs_name = name
        loop = self.loop_for(frame)
        if args.model:
            models = list(loop.models())
            if models and args.model not in models:
                raise UsageError(f"--model {args.model}: not one of {', '.join(models)}")
            loop.model = args.model
        elif self.model and loop.model != self.model:
            loop.model = self.model
        loop.auto_accept = bool(args.yes or self.auto_accept)

        if args.confirm:
            return self._act(loop, args.confirm, confirm=True)
        if args.cancel:
            return self._act(loop, args.cancel, confirm=False)

        # The question is the rest of the line as typed (apostrophes and all), then the cell body.
        question = rest if cell is None else "\n".join(p for p in (rest, cell) if p.strip())
        question = interpolate(question.strip(), self.shell.user_ns)
        if not question:
            return self._show_chat(loop, frame, args.explorer)
        return self._answer(loop, question, insert=args.insert)

    def _show_chat(self, loop: Any, frame: pl.DataFrame, with_explorer: bool) -> Any:
        from .widgets.chat import ChatWidget

        chat = ChatWidget(loop)
        if with_explorer:
            from .widgets.explorer import TraceExplorer

            display(TraceExplorer(frame, chat=chat))
        return chat

    def _answer(self, loop: Any, question: str, *, insert: bool) -> None:
        global _LAST
        try:
            answer = loop.ask(question)
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(f"%loop: {type(exc).__name__}: {exc}") from exc
        view = AnswerView(question, answer, list(getattr(answer, "artifacts", []) or []))
        _LAST = view
        self.shell.user_ns["_loop"] = view
        if view.text:
            display(text_bundle(view.text), raw=True)
        for artifact in view.artifacts:
            display_artifact(artifact)
        if insert and view.code:
            self.shell.set_next_input(view.code, replace=False)
        return None

    def _act(self, loop: Any, action_id: str, *, confirm: bool) -> None:
        try:
            if confirm:
                produced = loop.confirm(action_id)
            else:
                loop.cancel(action_id)
                produced = []
        except Exception as exc:
            raise UsageError(f"%loop: cannot {'confirm' if confirm else 'cancel'} {action_id}: {exc}") from exc
        if not confirm:
            display(message_bundle(f"Cancelled {action_id}."), raw=True)
        for artifact in produced or []:
            display_artifact(artifact)
        return None


def display_artifact(artifact: Artifact) -> None:
    """Show one artifact: frames with Polars' own (escaping) HTML, figures with Plotly, everything
    else through :mod:`loop_jupyter.render` (log text escaped, never raw Markdown/HTML)."""
    if isinstance(artifact, Table):
        if artifact.title:
            display(message_bundle(artifact.title), raw=True)
        display(artifact.frame)
    elif isinstance(artifact, Chart):
        display(safe_figure(artifact.figure))
    elif isinstance(artifact, TraceView):
        if artifact.html or artifact.title:
            display(artifact_bundle(artifact), raw=True)
        if artifact.figure is not None:
            display(safe_figure(artifact.figure))
    else:
        display(artifact_bundle(artifact), raw=True)


_MAGIC_LINE = re.compile(r"^(?P<indent>[ \t]*)%loop(?P<rest>[ \t].*?)?(?P<end>\r?\n)?$", re.S)


def keep_question_marks(lines: list[str]) -> list[str]:
    """Input transformer: a ``%loop`` line ending in ``?`` reaches the magic as typed.

    IPython reads a trailing ``?`` as its help syntax (``%loop why do tools fail?`` became
    ``pinfo fail``). This runs before IPython's own transforms and turns such a line into the call
    IPython would have made, ``get_ipython().run_line_magic('loop', <the rest of the line>)``.
    ``%loop?`` (help on the magic itself) and ``%%loop`` cells are left alone.
    """
    if not lines or lines[0].lstrip().startswith("%%"):
        return lines
    out = []
    for line in lines:
        match = _MAGIC_LINE.match(line)
        rest = (match.group("rest") or "") if match else ""
        if match and rest.rstrip().endswith("?") and rest.strip() not in ("?", "??"):
            call = f"get_ipython().run_line_magic('loop', {rest.strip()!r})"
            line = f"{match.group('indent')}{call}{match.group('end') or ''}"
        out.append(line)
    return out


#: What the first Plotly figure shown in a kernel imports and that takes seconds: Plotly's renderers
#: import nbformat, which imports jsonschema, whose format checks import rfc3987_syntax, which builds
#: about 40 lark grammars at import (2-3 s on 2 cores, 9 s on a loaded machine; upstream:
#: python-jsonschema/jsonschema#1428). The first ``%loop`` answer with a chart paid it.
WARM_MODULES = ("nbformat",)


def _import_quietly(name: str) -> None:
    # A failing import fails again where it is needed, and is reported there.
    with contextlib.suppress(Exception):
        importlib.import_module(name)


def warm_up() -> threading.Thread | None:
    """Import :data:`WARM_MODULES` on a background thread (once): started when the extension loads,
    it runs while the person types the first question, and the answer's chart shows without the wait.
    Only modules that import none of ours or Plotly's, so the thread never waits on a module the
    notebook's thread is importing. None when there is nothing to import."""
    names = [n for n in WARM_MODULES if n not in sys.modules and importlib.util.find_spec(n) is not None]
    if not names:
        return None
    thread = threading.Thread(
        target=lambda: [_import_quietly(n) for n in names], name="loop-jupyter-warm-up", daemon=True
    )
    thread.start()
    return thread


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext loop_jupyter`` (re-exported lazily from the package)."""
    warm_up()
    ipython.register_magics(LoopMagics)
    cleanup = getattr(ipython, "input_transformers_cleanup", None)
    if cleanup is not None and keep_question_marks not in cleanup:
        cleanup.append(keep_question_marks)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext loop_jupyter``: the magics and the input transformer go away."""
    cleanup = getattr(ipython, "input_transformers_cleanup", None)
    while cleanup is not None and keep_question_marks in cleanup:
        cleanup.remove(keep_question_marks)
    manager = ipython.magics_manager
    instance = manager.registry.pop("LoopMagics", None)
    for kind in ("line", "cell"):
        table = manager.magics.get(kind, {})
        bound = table.get("loop")
        if bound is not None and (instance is None or getattr(bound, "__self__", None) is instance):
            del table["loop"]


__all__ = [
    "AnswerView",
    "LoopMagics",
    "display_artifact",
    "interpolate",
    "keep_question_marks",
    "last_answer",
    "load_ipython_extension",
    "unload_ipython_extension",
]
