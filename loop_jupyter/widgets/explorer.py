"""TraceExplorer: a paged, sortable traces table with a SQL filter, and a lazy span tree per trace.

Synced traits are small UI state (the filter, the sort, counts). Rows, tree nodes and span fields
travel on request as id-matched custom messages (see ``_base.py``), so opening a 100k-span trace
sends its top of tree and nothing else.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

import polars as pl
import traitlets

from ..engine import TRACE_COLUMNS, LogEngine, QueryError, engine_for
from ..sources import LogSource, MemorySource, connect
from ._base import STATIC, RequestError, RequestWidget, column_types, frame_rows
from .explorer_annotate import AnnotationHandlers
from .explorer_rows import LABELS, SORT_BY, TABLE_COLUMNS, page_frame, raw_fields
from .explorer_similar import RESULT_LABELS, SHARED_LABELS, find_similar, score_note, table_json
from .explorer_trace import _NODE_COLUMNS, _condition_of, _OpenTrace, _quote
from .messages import (
    ChildrenRequest,
    FieldRequest,
    FilterRequest,
    GenerateRequest,
    LoopRequest,
    OpenRequest,
    RawRequest,
    RowsRequest,
    SelectRequest,
    SimilarRequest,
    SpanRequest,
)
from .session import ChatSession

if TYPE_CHECKING:
    from .chat import ChatWidget

MAX_PAGE = 500
#: Children sent per tree request; a node with more shows "load more".
CHILD_PAGE = 200
#: Characters of a span field sent per piece.
PIECE_CHARS = 16_000
#: Fields shown in the span detail, in order.
DETAIL_FIELDS = ("input", "output", "expected", "error", "metadata", "scores", "metrics", "span_attributes")


def _ids_condition(ids: list[str]) -> str:
    return "root_span_id IN (" + ", ".join(_quote(i) for i in ids) + ")" if ids else "FALSE"


class TraceExplorer(AnnotationHandlers, RequestWidget):
    """Browse traces: filter with SQL (sandboxed), sort, page, select, open a lazy span tree, and
    label (and note) a span of it (saved as annotations: :mod:`.explorer_annotate`).

    ``explorer.selection`` is the selected traces as a Polars frame (rows of the traces view).
    Pass ``loop=`` (a ``Loop``) to generate filters from descriptions and summarize traces, and
    ``chat=`` (a ``ChatWidget``) to send "Summarize this trace" to that chat.
    """

    widget_name = "explorer"
    _esm = STATIC / "explorer.js"
    _css = STATIC / "explorer.css"

    where = traitlets.Unicode("").tag(sync=True)
    sort = traitlets.Unicode("created").tag(sync=True)
    descending = traitlets.Bool(True).tag(sync=True)
    page_size = traitlets.Int(25).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    total_traces = traitlets.Int(0).tag(sync=True)
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selection_count = traitlets.Int(0).tag(sync=True)
    open_trace = traitlets.Unicode("").tag(sync=True)
    has_loop = traitlets.Bool(False).tag(sync=True)
    #: Bumped when Python changes the rows (a new filter from the chat), so the browser refetches.
    revision = traitlets.Int(0).tag(sync=True)

    def __init__(
        self,
        logs: pl.DataFrame | LogSource | str,
        *,
        loop: ChatSession | None = None,
        chat: ChatWidget | None = None,
        where: str = "",
        page_size: int = 25,
    ) -> None:
        # A store (a LogSource, or "duckdb:///..."): pages, counts and filters run in its SQL and
        # opening a trace reads that trace only; a frame (or a MemorySource) works as before.
        if isinstance(logs, str):
            logs = connect(logs)
        if isinstance(logs, MemorySource):
            logs = logs.frame
        self.source: LogSource | None = None if isinstance(logs, pl.DataFrame) else logs
        self.logs = logs if isinstance(logs, pl.DataFrame) else None
        self.loop = loop if loop is not None else getattr(chat, "loop", None)
        self.chat = chat
        self.engine: LogEngine = engine_for(logs) if self.source is None else self.source.engine  # type: ignore[attr-defined]
        self._trace_logs: pl.DataFrame | None = None
        self._selected: list[str] = []
        self._trace: _OpenTrace | None = None
        self._narrow = False  # the open trace holds the tree's columns only (from a store)
        self._span_cache: tuple[str, pl.DataFrame] | None = None
        self._fields: dict[tuple[str, str], str] = {}
        self.last_similar: tuple[pl.DataFrame, pl.DataFrame] = (pl.DataFrame(), pl.DataFrame())
        super().__init__(
            columns=list(TABLE_COLUMNS),
            page_size=page_size,
            has_loop=self.loop is not None,
            total_traces=self._count(""),
        )
        self.set_filter(where)
        if chat is not None and getattr(chat, "explorer", None) is None:
            chat.explorer = self

    # -- Python API ---------------------------------------------------------------------------------
    @property
    def selection(self) -> pl.DataFrame:
        """The selected traces (rows of the traces view), in the order they were selected."""
        if self.source is not None:
            traces = self.source.filter(_ids_condition(self._selected), shape="traces")
        else:
            traces = self.engine.traces
        if not self._selected:
            return traces.clear()
        order = pl.DataFrame({"root_span_id": self._selected, "_order": range(len(self._selected))})
        return traces.join(order, on="root_span_id").sort("_order").drop("_order")

    @property
    def selected_ids(self) -> list[str]:
        return list(self._selected)

    def select(self, root_span_ids: list[str]) -> None:
        """Replace the selection (also what the chat's tools see as ``ctx.selection``)."""
        self._selected = list(dict.fromkeys(root_span_ids))
        self.selection_count = len(self._selected)
        if self.loop is not None and hasattr(self.loop, "selection"):
            with contextlib.suppress(AttributeError):
                self.loop.selection = list(self._selected)
        self.send({"type": "selection", "ids": self._selected})

    def set_filter(self, where: str) -> int:
        """Apply a WHERE condition over the traces view (validated by the sandbox); returns the count."""
        condition = _condition_of(where) if where.strip() else ""
        count = self._count(condition)
        self.where = condition
        self.total = count
        self.revision += 1
        return count

    @property
    def filtered(self) -> pl.DataFrame:
        """The traces matching the current filter, as Polars."""
        if self.source is not None:
            return self.source.filter(self.where or None, shape="traces")
        return self.engine.filter(self.where, shape="traces") if self.where else self.engine.traces

    # -- helpers -------------------------------------------------------------------------------------
    def _count(self, condition: str) -> int:
        if self.source is not None:  # counted in the store
            return self.source.count(condition or None, shape="traces")
        if not condition:
            return self.engine.traces.height
        self.engine.where(condition, shape="traces")  # refuses anything but one read-only condition
        frame = self.engine.sql(f"SELECT count(*) AS n FROM traces WHERE {condition}")
        return int(frame.item())

    def _known(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are traces of the logs."""
        if self.source is not None:
            found = self.source.sql(f"SELECT root_span_id FROM traces WHERE {_ids_condition(ids)}", limit=len(ids))
            return set(found.get_column("root_span_id").to_list())
        return set(self.engine.traces.get_column("root_span_id").to_list())

    # -- request handlers ----------------------------------------------------------------------------
    def _on_rows(self, request: RowsRequest) -> dict[str, Any]:
        offset = max(request.offset, 0)
        limit = min(max(request.limit if request.limit is not None else self.page_size, 1), MAX_PAGE)
        sort = request.sort or self.sort
        by = SORT_BY.get(sort, sort)
        if by not in TRACE_COLUMNS:
            raise RequestError(f"cannot sort by {sort!r}: not a column of the traces view")
        descending = request.descending if request.descending is not None else self.descending
        frame = page_frame(self.engine, self.where, by, descending, limit, offset)
        self.sort, self.descending = sort, descending
        return {
            "columns": frame.columns,
            "types": column_types(frame),
            "labels": LABELS,
            "rows": frame_rows(frame),
            "offset": offset,
            "total": self.total,
            "selected": [r for r in frame.get_column("root_span_id").to_list() if r in set(self._selected)],
        }

    def _on_raw(self, request: RawRequest) -> dict[str, Any]:
        """The raw JSON of a trace's root span (input, output, error, ...), for the row's "raw" view."""
        fields = raw_fields(self.engine, request.root_span_id)
        if not fields and request.root_span_id not in self._known([request.root_span_id]):
            raise RequestError(f"no trace with root_span_id {request.root_span_id!r}")
        return {"root_span_id": request.root_span_id, "fields": fields}

    def _on_filter(self, request: FilterRequest) -> dict[str, Any]:
        count = self.set_filter(request.where)
        return {"total": count, "where": self.where}

    def _on_generate(self, request: GenerateRequest) -> object:
        description = request.description.strip()
        if not description:
            raise RequestError("describe the traces you want, e.g. 'errors from the last day'")
        if self.loop is None:
            raise RequestError("no Loop attached: TraceExplorer(logs, loop=Loop(logs)) to generate filters")

        def work() -> dict[str, Any]:
            return {"where": self.generate_filter(description)}

        return self.reply_later(request, work)

    def generate_filter(self, description: str) -> str:
        """A traces filter for a description, as the user wrote it; returns the validated condition.

        The description goes to a side session (``loop.fork()``): the filter generator reads the
        user's words (the offline planner cannot read a prompt wrapped around them), and the chat's
        conversation does not get a question the user did not ask there."""
        from ..artifacts import SqlFilter

        fork = getattr(self.loop, "fork", None)
        session = fork() if callable(fork) else self.loop
        try:
            answer = session.ask(description)
        finally:
            if session is not self.loop:
                session.close()
        found = [a for a in getattr(answer, "artifacts", []) if isinstance(a, SqlFilter)]
        if not found:
            raise RequestError(f"Loop did not produce a filter: {str(getattr(answer, 'text', ''))[:300]}")
        condition = _condition_of(found[0].sql)
        if found[0].shape == "spans":
            # The explorer lists traces: keep the traces that have a matching span.
            condition = f"root_span_id IN (SELECT root_span_id FROM logs WHERE {condition})"
        self.engine.where(condition, shape="traces")
        return condition

    def _on_select(self, request: SelectRequest) -> dict[str, Any]:
        ids = list(request.ids)
        if request.mode == "replace":
            chosen = ids
        elif request.selected:
            chosen = self._selected + [i for i in ids if i not in set(self._selected)]
        else:
            drop = set(ids)
            chosen = [i for i in self._selected if i not in drop]
        known = self._known(ids) if ids else set()
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise RequestError(f"unknown trace ids: {unknown[:3]}")
        self._selected = list(dict.fromkeys(chosen))
        self.selection_count = len(self._selected)
        if self.loop is not None:
            with contextlib.suppress(AttributeError):
                self.loop.selection = list(self._selected)
        return {"count": self.selection_count}

    def _on_similar(self, request: SimilarRequest) -> object:
        if not self._selected:
            raise RequestError("select one or more traces first")
        ids = list(self._selected)

        def work() -> dict[str, Any]:
            found = self.similar(ids)
            results, shared = self.last_similar
            return {
                "where": self.where,
                "total": self.total,
                "found": len(found),
                "of": len(ids),
                "results": table_json(results, RESULT_LABELS),
                "shared": table_json(shared, SHARED_LABELS),
                "note": score_note(),
            }

        return self.reply_later(request, work)

    def similar(self, root_span_ids: list[str], limit: int = 10) -> list[str]:
        """Filter the table to the traces most similar to ``root_span_ids`` (the analysis tool);
        ``last_similar`` keeps its tables: scores and why per trace, and what they share."""
        results, shared = find_similar(self.source if self.source is not None else self.logs, root_span_ids, limit)
        self.last_similar = (results, shared)
        found = results.get_column("root_span_id").to_list()
        ids = list(dict.fromkeys([*root_span_ids, *found]))
        self.set_filter("root_span_id IN (" + ", ".join(_quote(i) for i in ids) + ")")
        return found

    def _on_open(self, request: OpenRequest) -> dict[str, Any]:
        root = request.root_span_id
        # From a store, that trace's spans alone (its rows index the trace, not the logs), and only
        # the tree's columns: a span's fields are read when it is opened (100k spans: the wide
        # columns were three quarters of the read).
        # ``select_trace`` reads by the trace's row ranges where the source keeps them (a store).
        columns = ("root_span_id", *_NODE_COLUMNS)
        by_trace = getattr(self.source, "select_trace", None)
        reader = getattr(self.source, "select_columns", None)
        if by_trace is not None:
            self._trace_logs = by_trace(root, columns)
        elif reader is not None:
            self._trace_logs = reader(columns, f"root_span_id = {_quote(root)}")
        else:
            self._trace_logs = self.source.trace(root) if self.source is not None else self.logs
        self._narrow = by_trace is not None or reader is not None
        self._span_cache = None
        self._trace = _OpenTrace(self._trace_logs, root)
        self._fields.clear()
        self.open_trace = root
        trace = self._trace
        top = trace.page("", 0, CHILD_PAGE)
        # Expand the first level below each top node so the tree opens with something to read.
        expanded = [trace.page(n["span_id"], 0, CHILD_PAGE) for n in top["nodes"][:5] if n["n_children"]]
        return {
            "root_span_id": root,
            "span_count": trace.spans.height,
            "total_ms": trace.total_ms,
            "top": top,
            "expanded": expanded,
        }

    def _require_trace(self) -> _OpenTrace:
        if self._trace is None:
            raise RequestError("open a trace first")
        return self._trace

    def _on_children(self, request: ChildrenRequest) -> dict[str, Any]:
        trace = self._require_trace()
        parent = request.span_id
        if parent and parent not in trace.position:
            raise RequestError(f"no span {parent!r} in this trace")
        offset = max(request.offset, 0)
        limit = min(max(request.limit if request.limit is not None else CHILD_PAGE, 1), 1000)
        return trace.page(parent, offset, limit)

    def _span_source(self, span_id: str) -> tuple[pl.DataFrame, int]:
        """A frame holding the span's whole row, and its row there: the open trace's frame, or from
        a store (which opened the tree's columns only) that span read alone (the last one read kept)."""
        trace = self._require_trace()
        if not getattr(self, "_narrow", False):
            return self._trace_logs, int(trace.spans.get_column("_row")[trace.position[span_id]])
        if self._span_cache is None or self._span_cache[0] != span_id:
            by_trace = getattr(self.source, "trace_span", None)
            if by_trace is not None:  # by the trace's row ranges where the source keeps them
                found = by_trace(trace.root_span_id, span_id)
            else:
                where = f"root_span_id = {_quote(trace.root_span_id)} AND span_id = {_quote(span_id)}"
                found = self.source.filter(where)  # type: ignore[union-attr]
            self._span_cache = (span_id, found)
        found = self._span_cache[1]
        return found, found.height - 1  # span ids repeated in one trace: the last, as the tree's

    def _field_text(self, span_id: str, name: str) -> str:
        key = (span_id, name)
        if key not in self._fields:
            trace = self._require_trace()
            if span_id not in trace.position:
                raise RequestError(f"no span {span_id!r} in this trace")
            logs, row = self._span_source(span_id)
            raw = logs.get_column(name)[row]
            text = "" if raw is None else str(raw)
            if 0 < len(text) <= 2_000_000:
                with contextlib.suppress(ValueError):
                    text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            if len(self._fields) > 64:
                self._fields.pop(next(iter(self._fields)))
            self._fields[key] = text
        return self._fields[key]

    def _on_span(self, request: SpanRequest) -> dict[str, Any]:
        trace = self._require_trace()
        span_id = request.span_id
        if span_id not in trace.position:
            raise RequestError(f"no span {span_id!r} in this trace")
        logs, row_index = self._span_source(span_id)
        row = logs.select(
            [
                "span_id",
                "name",
                "type",
                "model",
                "start",
                "end",
                "duration",
                "tokens",
                "prompt_tokens",
                "completion_tokens",
                "cost",
                "depth",
                "tags",
            ]
        ).row(row_index, named=True)
        summary = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        fields = {}
        for name in DETAIL_FIELDS:
            text = self._field_text(span_id, name)
            if text and text != "null":
                fields[name] = {"text": text[:PIECE_CHARS], "length": len(text)}
        return {"span": summary, "fields": fields}

    def _on_field(self, request: FieldRequest) -> dict[str, Any]:
        name = request.field
        if name not in DETAIL_FIELDS:
            raise RequestError(f"unknown field {name!r}")
        text = self._field_text(request.span_id, name)
        offset = max(request.offset, 0)
        length = min(max(request.length if request.length is not None else PIECE_CHARS, 1), 256_000)
        return {"field": name, "offset": offset, "text": text[offset : offset + length], "length": len(text)}

    def _on_loop(self, request: LoopRequest) -> object:
        """The Loop button: summarize the open trace in the linked chat, or here when there is none."""
        trace = self._require_trace()
        question = request.question or "Summarize this trace"
        if self.chat is not None:
            run_id = self.chat.ask_scoped(trace.root_span_id, question)
            return {"sent_to_chat": True, "run_id": run_id}
        if self.loop is None:
            raise RequestError("no Loop attached: TraceExplorer(logs, loop=Loop(logs))")

        def work() -> dict[str, Any]:
            self.loop.scope_trace(trace.root_span_id)
            answer = self.loop.ask(question)
            return {"sent_to_chat": False, "text": str(getattr(answer, "text", answer))}

        return self.reply_later(request, work)


__all__ = ["TABLE_COLUMNS", "QueryError", "TraceExplorer"]
