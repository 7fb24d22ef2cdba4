// TraceExplorer front end: traces table (pages from Python), SQL filter / Generate, selection,
// and an open trace: lazy span tree with waterfall bars, span detail with fields loaded in pieces.
import { formatMs, h, suppressShortcuts } from "./dom.js";
import { annotationBlock } from "./explorer_annotate.js";
import { makeRpc } from "./rpc.js";
import { pagedTable } from "./table.js";

const WIDE = ["trace", "output", "error", "text", "why"];
const KEY = "root_span_id";

/** @param {{model: any, el: HTMLElement}} ctx */
function render({ model, el }) {
  const rpc = makeRpc(model, "explorer");
  const root = h("div", { class: "lj-root lj-explorer" });
  suppressShortcuts(root);
  el.append(root);

  // ---- filter bar ----
  const whereInput = /** @type {HTMLInputElement} */ (
    h("input", { class: "lj-input lj-where", placeholder: "SQL WHERE over traces, e.g. has_error AND duration > 5", value: model.get("where") })
  );
  const describe = /** @type {HTMLInputElement} */ (h("input", { class: "lj-input lj-describe", placeholder: "…or describe it: slow traces with tool errors" }));
  const filterError = h("div", { class: "lj-error", hidden: true });
  const count = h("span", { class: "lj-count lj-traces-count" });
  const similarBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "lj-btn", onclick: findSimilar, title: "Find traces similar to the selected ones" }, "Find similar traces"));
  const generateBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "lj-btn", onclick: generate, title: "Loop writes the SQL" }, "Generate"));
  const applyBtn = h("button", { class: "lj-btn lj-btn-primary", onclick: () => applyFilter(whereInput.value) }, "Filter");
  const clearBtn = h("button", { class: "lj-btn", onclick: () => { whereInput.value = ""; applyFilter(""); } }, "Clear");
  whereInput.addEventListener("keydown", (e) => { if (e.key === "Enter") applyFilter(whereInput.value); });
  describe.addEventListener("keydown", (e) => { if (e.key === "Enter") generate(); });

  const header = h(
    "div",
    { class: "lj-toolbar" },
    h("span", { class: "lj-title" }, "Traces"),
    count,
    h("span", { class: "lj-spacer" }),
    similarBtn,
  );
  const filterBar = h("div", { class: "lj-filterbar" }, whereInput, applyBtn, clearBtn);
  const describeBar = h("div", { class: "lj-filterbar" }, describe, generateBtn);
  const tableHolder = h("div", { class: "lj-table-holder" });
  const similarPanel = h("div", { class: "lj-similar-panel", hidden: true });
  const tracePanel = h("div", { class: "lj-trace-panel", hidden: true });
  root.append(header, filterBar, describeBar, filterError, tableHolder, similarPanel, tracePanel);

  function updateCount() {
    const total = model.get("total");
    const all = model.get("total_traces");
    const sel = model.get("selection_count");
    count.textContent = `${total.toLocaleString()}${total !== all ? ` of ${all.toLocaleString()}` : ""} traces` + (sel ? ` · ${sel} selected` : "");
    similarBtn.disabled = !sel;
    generateBtn.disabled = !model.get("has_loop");
    describeBar.hidden = !model.get("has_loop");
  }

  /** @param {string} message */
  function showError(message) {
    filterError.textContent = message;
    filterError.hidden = !message;
  }

  // ---- traces table ----
  const selected = new Set();
  /** @type {ReturnType<typeof pagedTable> | null} */
  let table = null;
  async function loadTable() {
    const first = await rpc.request("rows", { offset: 0, limit: model.get("page_size"), sort: model.get("sort"), descending: model.get("descending") });
    first.selected.forEach((/** @type {string} */ id) => selected.add(id));
    table = pagedTable({
      columns: first.columns,
      types: first.types,
      rows: first.rows,
      total: first.total,
      pageSize: model.get("page_size"),
      sort: model.get("sort"),
      descending: model.get("descending"),
      keyColumn: KEY,
      hidden: [KEY],
      labels: first.labels,
      selectable: true,
      selected,
      wide: WIDE,
      rowAction: { label: "{ }", title: "Show the raw JSON of this trace (input, output, error, metadata)", onClick: toggleRaw },
      fetchPage: async (offset, limit, sort, descending) => {
        const page = await rpc.request("rows", { offset, limit, sort, descending });
        return { rows: page.rows, total: page.total };
      },
      onSelect: (ids, on) => { rpc.request("select", { ids, selected: on }).catch((e) => showError(e.message)); },
      onOpen: (key) => openTrace(key),
    });
    tableHolder.replaceChildren(table.el);
  }

  /** @param {string} where */
  async function applyFilter(where) {
    showError("");
    try {
      await rpc.request("filter", { where });
    } catch (err) {
      showError(/** @type {Error} */ (err).message);
    }
  }

  async function generate() {
    showError("");
    generateBtn.disabled = true;
    generateBtn.textContent = "Generating…";
    try {
      const reply = await rpc.request("generate", { description: describe.value });
      whereInput.value = reply.where;
      await applyFilter(reply.where);
    } catch (err) {
      showError(/** @type {Error} */ (err).message);
    } finally {
      generateBtn.textContent = "Generate";
      updateCount();
    }
  }

  /** The raw JSON of a trace's root span, in a row under its own (text only, never HTML).
   * @param {string} key @param {HTMLElement} tr @param {number} span */
  async function toggleRaw(key, tr, span) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("lj-raw-row")) { next.remove(); tr.classList.remove("lj-raw-open"); return; }
    const cell = h("td", { colspan: String(span) }, h("span", { class: "lj-muted" }, "Loading…"));
    tr.after(h("tr", { class: "lj-raw-row", "data-key": key }, cell));
    tr.classList.add("lj-raw-open");
    try {
      const reply = await rpc.request("raw", { root_span_id: key });
      const fields = Object.entries(reply.fields);
      cell.replaceChildren(...(fields.length ? fields.map(([name, f]) => {
        const field = /** @type {{text: string, length: number}} */ (f);
        const cut = field.length > field.text.length ? ` (first ${field.text.length.toLocaleString()} of ${field.length.toLocaleString()} chars: open the trace for all)` : "";
        return h("details", { class: "lj-field lj-raw-field", "data-field": name, open: name === "input" || name === "output" || name === "error" },
          h("summary", null, name, h("span", { class: "lj-muted lj-small" }, ` raw JSON${cut}`)), h("pre", { class: "lj-pre" }, field.text));
      }) : [h("span", { class: "lj-muted" }, "This trace's root span has no input, output or error.")]));
    } catch (err) {
      cell.replaceChildren(h("span", { class: "lj-error-inline" }, /** @type {Error} */ (err).message));
    }
  }

  /** A small table whose rows are all here (sorted and paged in the browser).
   * @param {{columns: string[], types: string[], rows: any[][], labels?: Record<string, string>}} t @param {Partial<import("./table.js").TableOptions>} more */
  function localTable(t, more) {
    return pagedTable({
      columns: t.columns, types: t.types, rows: t.rows.slice(0, 10), total: t.rows.length, pageSize: 10, labels: t.labels, wide: WIDE,
      fetchPage: async (offset, limit, sort, descending) => {
        const i = sort ? t.columns.indexOf(sort) : -1;
        const rows = i < 0 ? t.rows : [...t.rows].sort((a, b) => (a[i] === b[i] ? 0 : (a[i] == null ? 1 : b[i] == null ? -1 : a[i] < b[i] ? -1 : 1)) * (descending ? -1 : 1));
        return { rows: rows.slice(offset, offset + limit), total: t.rows.length };
      },
      ...more,
    });
  }

  async function findSimilar() {
    showError("");
    similarBtn.disabled = true;
    similarBtn.textContent = "Searching…";
    try {
      const r = await rpc.request("similar");
      const results = localTable(r.results, { keyColumn: KEY, hidden: [KEY], onOpen: (/** @type {string} */ key) => openTrace(key) });
      const shared = r.shared.rows.length
        ? localTable(r.shared, {}).el
        : h("div", { class: "lj-muted lj-small" }, "Nothing beyond the text: no tool, error kind, intent or user is shared by most of them.");
      similarPanel.hidden = false;
      similarPanel.replaceChildren(
        h("div", { class: "lj-toolbar" },
          h("span", { class: "lj-title" }, `${r.found} traces similar to the ${r.of === 1 ? "selected trace" : `${r.of} selected traces`}`),
          h("span", { class: "lj-muted lj-small" }, `${r.note || ""} · the table above is filtered to them`),
          h("span", { class: "lj-spacer" }),
          h("button", { class: "lj-btn", title: "Close", onclick: () => { similarPanel.hidden = true; } }, "✕")),
        h("div", { class: "lj-similar-body" },
          h("div", { class: "lj-subtitle" }, "What they share"), h("div", { class: "lj-similar-shared" }, shared),
          h("div", { class: "lj-subtitle" }, "Similar traces, most similar first (click one to open it)"), h("div", { class: "lj-similar-results" }, results.el)),
      );
    } catch (err) {
      showError(/** @type {Error} */ (err).message);
    } finally {
      similarBtn.textContent = "Find similar traces";
      updateCount();
    }
  }

  // ---- open trace: tree + waterfall + detail ----
  let totalMs = 1;
  /** @param {string} rootId */
  async function openTrace(rootId) {
    tracePanel.hidden = false;
    tracePanel.replaceChildren(h("div", { class: "lj-muted" }, "Opening trace…"));
    for (const tr of tableHolder.querySelectorAll("tr.lj-open")) tr.classList.remove("lj-open");
    const row = tableHolder.querySelector(`tr[data-key="${CSS.escape(rootId)}"]`);
    if (row) row.classList.add("lj-open");
    let reply;
    try {
      reply = await rpc.request("open", { root_span_id: rootId });
    } catch (err) {
      tracePanel.replaceChildren(h("div", { class: "lj-error" }, /** @type {Error} */ (err).message));
      return;
    }
    totalMs = Math.max(reply.total_ms || 0, 1e-6);
    const tree = h("div", { class: "lj-tree", role: "tree" });
    const detail = h("div", { class: "lj-detail" }, h("div", { class: "lj-muted" }, "Select a span to see its input, output and metadata."));
    const loopAnswer = h("div", { class: "lj-loop-answer", hidden: true });
    const loopBtn = /** @type {HTMLButtonElement} */ (
      h("button", { class: "lj-btn lj-btn-primary lj-loop-btn", disabled: !model.get("has_loop"), title: "Ask Loop about this trace", onclick: askLoop }, "✦ Summarize this trace")
    );
    async function askLoop() {
      loopBtn.disabled = true;
      loopAnswer.hidden = false;
      loopAnswer.textContent = "Asking Loop…";
      try {
        const r = await rpc.request("loop", { question: "Summarize this trace" });
        loopAnswer.textContent = r.sent_to_chat ? "Sent to the chat: “Summarize this trace”." : r.text;
      } catch (err) {
        loopAnswer.textContent = /** @type {Error} */ (err).message;
      } finally {
        loopBtn.disabled = false;
      }
    }
    const axis = h("div", { class: "lj-axis" }, h("span", null, "0"), h("span", null, formatMs(totalMs / 2)), h("span", null, formatMs(totalMs)));
    tracePanel.replaceChildren(
      h(
        "div",
        { class: "lj-toolbar" },
        h("span", { class: "lj-title" }, "Trace "),
        h("code", { class: "lj-trace-id" }, rootId),
        h("span", { class: "lj-count" }, `${reply.span_count.toLocaleString()} spans · ${formatMs(reply.total_ms)}`),
        h("span", { class: "lj-spacer" }),
        loopBtn,
        h("button", { class: "lj-btn", title: "Close the trace", onclick: () => { tracePanel.hidden = true; } }, "✕"),
      ),
      loopAnswer,
      h(
        "div",
        { class: "lj-trace-body" },
        h("div", { class: "lj-tree-pane" }, h("div", { class: "lj-tree-head" }, h("span", null, "Span"), axis), tree),
        detail,
      ),
    );
    const expanded = new Map(reply.expanded.map((/** @type {any} */ p) => [p.parent, p]));
    appendNodes(tree, reply.top, 0, expanded, detail);
  }

  /**
   * @param {HTMLElement} container @param {any} page @param {number} depth
   * @param {Map<string, any>} preloaded @param {HTMLElement} detail
   */
  function appendNodes(container, page, depth, preloaded, detail) {
    for (const node of page.nodes) container.append(treeNode(node, depth, preloaded, detail));
    const shown = page.offset + page.nodes.length;
    if (shown < page.total) {
      const more = h(
        "div",
        { class: "lj-more", style: { paddingLeft: `${depth * 16 + 22}px` } },
        h("button", {
          class: "lj-btn lj-btn-small",
          onclick: async () => {
            const next = await rpc.request("children", { span_id: page.parent, offset: shown, limit: 200 });
            more.remove();
            appendNodes(container, next, depth, preloaded, detail);
          },
        }, `Load more (${(page.total - shown).toLocaleString()} left)`),
      );
      container.append(more);
    }
  }

  /** @param {any} node @param {number} depth @param {Map<string, any>} preloaded @param {HTMLElement} detail */
  function treeNode(node, depth, preloaded, detail) {
    const children = h("div", { class: "lj-children", role: "group", hidden: true });
    let loaded = false;
    const toggle = h("span", { class: "lj-toggle" + (node.n_children ? "" : " lj-leaf") }, node.n_children ? "▸" : "");
    const left = Math.max(0, (node.offset_ms || 0) / totalMs) * 100;
    const width = Math.max(0.3, ((node.duration_ms || 0) / totalMs) * 100);
    const bar = h(
      "div",
      { class: "lj-wf" },
      h("div", { class: `lj-wf-bar lj-type-${node.type || "other"}` + (node.error ? " lj-wf-error" : ""), style: { left: `${left}%`, width: `${Math.min(width, 100 - left)}%` } }),
      h("span", { class: "lj-wf-label", style: { left: `${Math.min(left + width, 85)}%` } }, formatMs(node.duration_ms)),
    );
    const line = h(
      "div",
      { class: "lj-node" + (node.error ? " lj-node-error" : ""), role: "treeitem", "data-span": node.span_id, "data-depth": String(depth), tabindex: "0" },
      h(
        "div",
        { class: "lj-node-label", style: { paddingLeft: `${depth * 16}px` } },
        toggle,
        h("span", { class: `lj-badge lj-type-${node.type || "other"}` }, node.type || "span"),
        h("span", { class: "lj-node-name" }, node.name),
        node.n_children ? h("span", { class: "lj-muted lj-small" }, ` ${node.n_children.toLocaleString()}`) : null,
        node.error ? h("span", { class: "lj-err-dot", title: "error" }, "●") : null,
      ),
      bar,
    );
    const wrap = h("div", { class: "lj-tree-item" }, line, children);
    async function expand() {
      if (!node.n_children) return;
      const open = children.hidden;
      children.hidden = !open;
      toggle.textContent = open ? "▾" : "▸";
      line.setAttribute("aria-expanded", String(open));
      if (open && !loaded) {
        loaded = true;
        const page = preloaded.get(node.span_id) || (await rpc.request("children", { span_id: node.span_id, offset: 0, limit: 200 }));
        appendNodes(children, page, depth + 1, preloaded, detail);
      }
    }
    toggle.addEventListener("click", (e) => { e.stopPropagation(); expand(); });
    line.addEventListener("click", () => {
      for (const n of tracePanel.querySelectorAll(".lj-node.lj-active")) n.classList.remove("lj-active");
      line.classList.add("lj-active");
      showSpan(node.span_id, detail);
    });
    line.addEventListener("dblclick", expand);
    line.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" && children.hidden) expand();
      if (e.key === "ArrowLeft" && !children.hidden) expand();
      if (e.key === "Enter") showSpan(node.span_id, detail);
    });
    if (preloaded.has(node.span_id)) expand();
    return wrap;
  }

  /** @param {string} spanId @param {HTMLElement} detail */
  async function showSpan(spanId, detail) {
    detail.replaceChildren(h("div", { class: "lj-muted" }, "Loading span…"));
    let reply;
    try {
      reply = await rpc.request("span", { span_id: spanId });
    } catch (err) {
      detail.replaceChildren(h("div", { class: "lj-error" }, /** @type {Error} */ (err).message));
      return;
    }
    const s = reply.span;
    const facts = [
      ["type", s.type], ["model", s.model], ["duration", s.duration != null ? formatMs(s.duration * 1000) : null],
      ["tokens", s.tokens != null ? `${s.tokens} (${s.prompt_tokens ?? "?"} in, ${s.completion_tokens ?? "?"} out)` : null],
      ["cost", s.cost != null ? `$${Number(s.cost).toFixed(5)}` : null], ["depth", s.depth], ["start", s.start],
    ].filter(([, v]) => v != null && v !== "");
    detail.replaceChildren(
      h("div", { class: "lj-detail-title" }, h("span", { class: `lj-badge lj-type-${s.type || "other"}` }, s.type || "span"), " ", s.name || s.span_id),
      h("dl", { class: "lj-facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, String(v))])),
      annotationBlock(rpc, spanId),
      ...Object.entries(reply.fields).map(([name, f]) => fieldBlock(spanId, name, /** @type {any} */ (f))),
    );
  }

  /** @param {string} spanId @param {string} name @param {{text: string, length: number}} f */
  function fieldBlock(spanId, name, f) {
    const pre = h("pre", { class: "lj-pre" }, f.text);
    let have = f.text.length;
    const more = h("button", { class: "lj-btn lj-btn-small lj-more-field" });
    function label() {
      more.textContent = `Load more (${(f.length - have).toLocaleString()} characters left)`;
      more.hidden = have >= f.length;
    }
    more.addEventListener("click", async () => {
      const piece = await rpc.request("field", { span_id: spanId, field: name, offset: have });
      pre.append(piece.text);
      have += piece.text.length;
      label();
    });
    label();
    return h("details", { class: "lj-field", open: ["input", "output", "error"].includes(name) }, h("summary", null, name, h("span", { class: "lj-muted lj-small" }, ` ${f.length.toLocaleString()} chars`)), pre, more);
  }

  const onChange = () => updateCount();
  const onRevision = () => { whereInput.value = model.get("where"); table ? table.reload() : loadTable(); };
  model.on("change:total", onChange);
  model.on("change:selection_count", onChange);
  model.on("change:revision", onRevision);
  const offSelection = rpc.on("selection", (/** @type {any} */ msg) => {
    selected.clear();
    msg.ids.forEach((/** @type {string} */ id) => selected.add(id));
    table && table.refresh();
  });
  updateCount();
  loadTable().catch((err) => showError(err.message));

  return () => {
    model.off("change:total", onChange);
    model.off("change:selection_count", onChange);
    model.off("change:revision", onRevision);
    offSelection();
    rpc.dispose();
  };
}

export default { render };
