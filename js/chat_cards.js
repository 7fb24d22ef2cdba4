// Artifact cards in the chat: one renderer per card kind (the kinds of messages.json), each given
// the card JSON Python sent (loop_jupyter/widgets/cards.py) and returning the card's children.
import { copyText, h } from "./dom.js";
import { renderFigure } from "./plotly.js";
import { htmlFragment } from "./safe_html.js";
import { pagedTable } from "./table.js";

/**
 * @typedef {{model: any, rpc: {request: Function}}} CardContext
 * @typedef {(a: any, ctx: CardContext, card: HTMLElement) => any[]} CardRenderer
 */

/** @param {any} a @param {string} fallback */
function titleOf(a, fallback) {
  return h("div", { class: "lj-card-title" }, a.title || fallback);
}

/** "Insert as cell": the loop-jupyter lab extension (shipped in the wheel; JupyterLab 4 and Notebook 7)
 * inserts the code as a new cell below this widget's cell when it sees this event. Without it (another
 * front end, or the extension disabled) the code goes to the clipboard, and the note says so.
 * @param {string} source @param {HTMLElement} note @param {CardContext} ctx */
async function insertCell(source, note, { rpc }) {
  const detail = { source, handled: false, index: -1 };
  note.dispatchEvent(new CustomEvent("loop-jupyter:insert-cell", { detail, bubbles: true, composed: true }));
  if (detail.handled) {
    note.textContent = "Inserted as a new cell below this output (not run).";
    return;
  }
  const ok = await copyText(source);
  await rpc.request("insert_code", { source }).catch(() => null);
  note.textContent = ok
    ? "Copied to the clipboard instead: this page has no loop-jupyter extension to insert cells (JupyterLab 4 and Notebook 7 get it with the loop_jupyter package). Paste into a new cell: Esc B, then Ctrl+V."
    : "Could not insert or copy here: select the code above and copy it.";
}

/** @param {string} source @param {CardContext} ctx */
function codeActions(source, ctx) {
  const note = h("span", { class: "lj-muted lj-small lj-note" });
  return h("div", { class: "lj-actions" },
    h("button", { class: "lj-btn lj-btn-small lj-insert", onclick: () => insertCell(source, note, ctx) }, "Insert as cell"),
    h("button", { class: "lj-btn lj-btn-small", onclick: async () => { note.textContent = (await copyText(source)) ? "Copied." : "Copy failed."; } }, "Copy"),
    note);
}

/** @type {CardRenderer} */
function tableCard(a, { rpc }) {
  const t = pagedTable({
    columns: a.columns, types: a.types, rows: a.rows, total: a.total_rows, pageSize: 10,
    fetchPage: async (offset, limit, sort, descending) => {
      const r = await rpc.request("page", { artifact_id: a.artifact_id, offset, limit, sort, descending });
      return { rows: r.rows, total: r.total_rows };
    },
  });
  return [titleOf(a, "Table"), t.el];
}

/** @type {CardRenderer} */
function sqlCard(a, { model, rpc }) {
  const note = h("span", { class: "lj-muted lj-small lj-note" });
  const apply = async () => {
    try { const r = await rpc.request("apply_filter", { artifact_id: a.artifact_id }); note.textContent = `Explorer shows ${r.total.toLocaleString()} traces.`; }
    catch (err) { note.textContent = /** @type {Error} */ (err).message; }
  };
  return [
    h("div", { class: "lj-card-title" }, a.title || "SQL filter", h("span", { class: "lj-muted lj-small" }, ` ${a.shape} · ${Number(a.count).toLocaleString()} match`)),
    h("pre", { class: "lj-pre lj-sql" }, a.sql),
    h("div", { class: "lj-actions" },
      h("button", { class: "lj-btn lj-btn-small", onclick: async () => { note.textContent = (await copyText(a.sql)) ? "Copied." : "Copy failed."; } }, "Copy"),
      model.get("has_explorer") ? h("button", { class: "lj-btn lj-btn-small lj-apply", onclick: apply }, "Apply to explorer") : null,
      note),
  ];
}

/** @param {HTMLElement} plot @param {any} figure @param {CardContext} ctx */
function drawChart(plot, figure, { rpc }) {
  renderFigure(rpc, plot, figure)
    .then(() => plot.querySelector(".lj-muted")?.remove())
    .catch((err) => { plot.textContent = `Chart failed: ${err.message}`; });
}

/** @type {CardRenderer} */
function chartCard(a, ctx) {
  const plot = h("div", { class: "lj-plot" }, h("span", { class: "lj-muted" }, "Loading chart…"));
  drawChart(plot, a.figure, ctx);
  return [a.title ? titleOf(a, "") : null, plot];
}

/** @type {CardRenderer} */
function traceCard(a, ctx) {
  const out = [titleOf(a, `Trace ${a.root_span_id}`)];
  if (a.html) out.push(h("div", { class: "lj-trace-html" }, htmlFragment(a.html)));
  if (a.figure) { const plot = h("div", { class: "lj-plot" }); out.push(plot); drawChart(plot, a.figure, ctx); }
  out.push(h("div", { class: "lj-actions" }, h("button", { class: "lj-btn lj-btn-small", onclick: () => ctx.rpc.request("scope", { root_span_id: a.root_span_id }) }, "Scope chat to this trace")));
  return out;
}

/** @type {CardRenderer} */
function datasetCard(a) {
  return [
    h("div", { class: "lj-card-title" }, "▤ Dataset ", h("strong", null, a.name), h("span", { class: "lj-muted lj-small" }, ` v${a.version} · ${Number(a.rows).toLocaleString()} rows`)),
    h("div", { class: "lj-path", title: a.path }, a.path),
  ];
}

/** @type {CardRenderer} */
function scorerCard(a, ctx) {
  return [
    h("div", { class: "lj-card-title" }, "◎ Scorer ", h("strong", null, a.name), h("span", { class: "lj-muted lj-small" }, ` ${a.scorer_kind === "llm_judge" ? "LLM judge" : "code"}`)),
    h("pre", { class: "lj-pre" }, a.source),
    a.path ? h("div", { class: "lj-path" }, a.path) : null,
    codeActions(a.source, ctx),
  ];
}

/** @type {CardRenderer} */
function codeCard(a, ctx) {
  return [titleOf(a, "Reproduce in a cell"), h("pre", { class: "lj-pre lj-code" }, a.source), codeActions(a.source, ctx)];
}

/** What an action card says in each state (its only word on the state: the answer text's notes
 * about it are removed, see contract.js displayText). */
const ACTION_NOTES = {
  pending: (/** @type {any} */ a) => `Nothing has been written yet: ${a.description || "this action"} runs when you confirm.`,
  confirmed: (/** @type {any} */ a) => `Done: ${a.description || "the action ran"}. What it made is shown below.`,
  cancelled: () => "Cancelled: nothing was written.",
  // A proposal read back from a saved session: its action did not survive the restart.
  expired: () => "Expired: proposed before this session was reopened, so it can no longer run; nothing was written. Ask again to propose it anew.",
};

/** @type {CardRenderer} */
function confirmationCard(a, { rpc }, card) {
  const status = h("span", { class: "lj-pending-status" });
  const note = h("div", { class: "lj-action-note lj-small" });
  const confirm = /** @type {HTMLButtonElement} */ (h("button", { class: "lj-btn lj-btn-primary lj-confirm" }, "Confirm"));
  const cancel = /** @type {HTMLButtonElement} */ (h("button", { class: "lj-btn lj-cancel" }, "Cancel"));
  /** @param {"pending" | "confirmed" | "cancelled" | "expired"} state */
  const show = (state) => {
    confirm.disabled = cancel.disabled = state !== "pending";
    confirm.hidden = cancel.hidden = state !== "pending";
    status.textContent = state === "pending" ? "Waiting for your confirmation" : state;
    note.textContent = (ACTION_NOTES[state] || ACTION_NOTES.pending)(a);
    card.setAttribute("data-state", state);
    for (const s of Object.keys(ACTION_NOTES)) card.classList.toggle(`lj-${s}`, s === state);
  };
  confirm.addEventListener("click", async () => {
    confirm.disabled = cancel.disabled = true;
    try {
      // What the action produced (the dataset card) arrives as an artifact event of this run.
      await rpc.request("confirm", { action_id: a.action_id });
      show("confirmed");
    } catch (err) { status.textContent = /** @type {Error} */ (err).message; confirm.disabled = cancel.disabled = false; }
  });
  cancel.addEventListener("click", async () => {
    try { await rpc.request("cancel", { action_id: a.action_id }); show("cancelled"); }
    catch (err) { status.textContent = /** @type {Error} */ (err).message; }
  });
  show(a.status in ACTION_NOTES ? a.status : "pending");
  return [
    h("div", { class: "lj-card-title" }, "⚑ ", a.description || a.title || "Confirm this action"),
    h("pre", { class: "lj-pre lj-preview" }, a.preview),
    note,
    h("div", { class: "lj-actions" }, confirm, cancel, status),
  ];
}

/** One renderer per card kind; the keys are the card kinds of messages.json (checked by a test). */
export const CARD_RENDERERS = {
  table: tableCard,
  sql: sqlCard,
  chart: chartCard,
  trace: traceCard,
  dataset: datasetCard,
  scorer: scorerCard,
  code: codeCard,
  confirmation: confirmationCard,
};

/** @param {any} a @param {CardContext} ctx @returns {HTMLElement} */
export function artifactCard(a, ctx) {
  const card = h("div", { class: `lj-card lj-card-${a.kind}`, "data-kind": a.kind, "data-artifact": a.artifact_id });
  const renderer = /** @type {CardRenderer | undefined} */ (/** @type {any} */ (CARD_RENDERERS)[a.kind]);
  card.append(...(renderer
    ? renderer(a, ctx, card)
    : [titleOf(a, a.kind), h("pre", { class: "lj-pre" }, JSON.stringify(a, null, 2).slice(0, 4000))]).filter(Boolean));
  return card;
}
