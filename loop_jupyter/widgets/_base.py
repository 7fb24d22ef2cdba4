"""What both widgets share: id-matched request/response over anywidget custom messages.

The browser sends ``{"id": n, "type": "rows", ...}``; Python answers ``{"id": n, "ok": true, ...}``
or ``{"id": n, "ok": false, "error": "..."}``. Every request is validated against its schema in
:mod:`.messages` before its ``_on_<type>`` handler sees it (as a typed request). Handlers build parameterised queries from structured
requests; SQL text from the browser only ever goes through ``LogEngine.where`` (the agent's sandbox).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import polars as pl

from ..engine import QueryError
from .messages import MessageError, PlotlyRequest, Request, parse_request

STATIC = Path(__file__).resolve().parent.parent / "static"

#: Longest string sent in a table cell; the full value stays in Python.
CELL_CHARS = 300


class RequestError(ValueError):
    """A request the widget refuses; the message is shown in the browser next to the control."""


def cell(value: Any, limit: int = CELL_CHARS) -> Any:
    """A JSON-safe, bounded table cell."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, list | tuple):
        text = json.dumps([cell(v, 80) for v in value[:20]], default=str, ensure_ascii=False)
    elif isinstance(value, dict):
        text = json.dumps(value, default=str, ensure_ascii=False)
    else:
        text = value.isoformat(sep=" ", timespec="milliseconds") if hasattr(value, "isoformat") else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def frame_rows(frame: pl.DataFrame, limit: int = CELL_CHARS) -> list[list[Any]]:
    return [[cell(v, limit) for v in row] for row in frame.iter_rows()]


def column_types(frame: pl.DataFrame) -> list[str]:
    """A coarse type per column so the browser can align numbers and format times."""
    kinds = []
    for dtype in frame.dtypes:
        if dtype.is_numeric():
            kinds.append("number")
        elif dtype.is_temporal():
            kinds.append("time")
        elif dtype == pl.Boolean:
            kinds.append("bool")
        else:
            kinds.append("text")
    return kinds


def well_formed(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (keys too) as U+FFFD. A model's JSON can
    hold ``"\\ud83d"`` (half an emoji, or written on a log's request) and Python keeps it as a
    lone surrogate; the kernel encodes messages as UTF-8, which refuses one, so the whole message
    was lost (an answer, a tool call) with an exception in the sending thread."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {well_formed(k): well_formed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [well_formed(v) for v in value]
    return value


class RequestWidget(anywidget.AnyWidget):
    """An AnyWidget whose custom messages are requests answered by id."""

    def _send(self, msg: Any, buffers: Any = None) -> None:
        """Every message to the browser (custom messages and state updates alike), its strings made
        valid UTF-8 first (:func:`well_formed`)."""
        super()._send(well_formed(msg), buffers=buffers)

    #: Run slow handlers (model calls) on a thread; tests set False to run them inline.
    threaded: bool = True
    #: Which request schemas apply (a key of :data:`.messages.REQUESTS`).
    widget_name: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._on_custom_msg)

    def _on_custom_msg(self, _widget: Any, content: Any, buffers: list[bytes] | None = None) -> None:
        if not isinstance(content, dict):
            return
        reply, out_buffers = self.handle(content)
        if reply is not None:
            self.send(reply, out_buffers or None)

    def handle(self, content: Any) -> tuple[dict[str, Any] | None, list[bytes]]:
        """Answer one request; returns the reply (None when it will be sent later) and buffers."""
        request_id = content.get("id") if isinstance(content, dict) else None
        if not isinstance(request_id, int | str):
            request_id = None
        try:
            request = parse_request(self.widget_name, content)
            handler: Callable[[Any], Any] = getattr(self, f"_on_{request.type}")
            result = handler(request)
        except (QueryError, RequestError, MessageError) as exc:
            reason = exc.reason if isinstance(exc, QueryError) else str(exc)
            return {"id": request_id, "ok": False, "error": reason}, []
        except Exception as exc:  # a bug must not kill the widget: report it where the user looks
            return {"id": request_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}, []
        if result is _LATER:
            return None, []
        buffers: list[bytes] = []
        if isinstance(result, tuple):
            result, buffers = result
        return self._reply(request, result or {}), buffers

    def _reply(self, request: Request, result: dict[str, Any]) -> dict[str, Any]:
        """The ok reply, held to the fields its schema promises (a missing one is a bug, said so)."""
        missing = [name for name in request.REPLY if name not in result]
        if missing:
            return {"id": request.id, "ok": False, "error": f"internal error: {request.type!r} reply lacks {missing}"}
        return {"id": request.id, "ok": True, **result}

    def reply_later(self, request: Request, work: Callable[[], dict[str, Any]]) -> object:
        """Run ``work`` (on a thread unless ``threaded`` is off) and send its result as the reply."""

        def run() -> None:
            try:
                result = self._reply(request, work())
            except (QueryError, RequestError) as exc:
                reason = exc.reason if isinstance(exc, QueryError) else str(exc)
                result = {"id": request.id, "ok": False, "error": reason}
            except Exception as exc:
                result = {"id": request.id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.send(result)

        if self.threaded:
            threading.Thread(target=run, daemon=True, name=f"{type(self).__name__}-request").start()
        else:
            run()
        return _LATER

    def _on_plotly(self, request: PlotlyRequest) -> tuple[dict[str, Any], list[bytes]]:
        """plotly.js for the browser, once per page (the JS caches it): the copy the installed plotly
        package ships (the one its own renderers use, so the versions never drift), offline, no CDN."""
        path = plotly_js_path()
        return {"bytes": path.stat().st_size, "version": plotly_js_version()}, [path.read_bytes()]


def plotly_js_path() -> Path:
    """plotly.min.js inside the installed plotly package (a UMD bundle; the widget JS wraps it as a module)."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def plotly_js_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


_LATER = object()
