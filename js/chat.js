// ChatWidget front end: the transcript is built from streamed events (never a synced trait),
// artifacts render inline as cards; settings are the few synced traits.
// Log text is hostile: every string from Python is set as text (dom.js `h`), and the only HTML
// (the answer's Markdown, a trace view) goes through safe_html.js (marked + DOMPurify). No innerHTML.
import { copyText, h, suppressShortcuts } from "./dom.js";
import { renderFigure } from "./plotly.js";
import { makeRpc } from "./rpc.js";
import { htmlFragment, markdownFragment } from "./safe_html.js";
import { pagedTable } from "./table.js";

/** @param {{model: any, el: HTMLElement}} ctx */
function render({ model, el }) {
  const rpc = makeRpc(model);
  const root = h("div", { class: "lj-root lj-chat" });
  suppressShortcuts(root);
  el.append(root);

  // ---- header: model, context, settings ----
  const modelSelect = /** @type {HTMLSelectElement} */ (h("select", { class: "lj-select", title: "Model", "aria-label": "Model" }));
  modelSelect.addEventListener("change", () => { model.set("model", modelSelect.value); model.save_changes(); });
  const contextBtn = h("button", { class: "lj-btn", title: "Choose the data sources Loop may use" }, "+ Context");
  const settingsBtn = h("button", { class: "lj-btn lj-icon-btn", title: "Settings", "aria-label": "Settings" }, "⚙");
  const contextPop = h("div", { class: "lj-popover lj-context-pop", hidden: true });
  const settingsPop = h("div", { class: "lj-popover lj-settings-pop", hidden: true });
  contextBtn.addEventListener("click", () => { contextPop.hidden = !contextPop.hidden; settingsPop.hidden = true; });
  settingsBtn.addEventListener("click", () => { settingsPop.hidden = !settingsPop.hidden; contextPop.hidden = true; });
  const scopeChip = h("span", { class: "lj-chip", hidden: true });
  const header = h(
    "div",
    { class: "lj-toolbar lj-chat-header" },
    h("span", { class: "lj-logo" }, "✦"),
    h("span", { class: "lj-title" }, model.get("title")),
    scopeChip,
    h("span", { class: "lj-spacer" }),
    contextBtn,
    modelSelect,
    settingsBtn,
  );

  const transcript = h("div", { class: "lj-transcript", "aria-live": "polite" });
  const empty = h("div", { class: "lj-empty" }, "Ask about your logs: “What are the most common errors?”, “Plot latency by day”, “Which tools fail most?”");
  transcript.append(empty);
  const queueBox = h("div", { class: "lj-queue", hidden: true });
  const input = /** @type {HTMLTextAreaElement} */ (h("textarea", { class: "lj-input lj-ask", rows: 2, placeholder: "Ask Loop about these logs…  (Enter to send, Shift+Enter for a new line)" }));
  const sendBtn = h("button", { class: "lj-btn lj-btn-primary lj-send", onclick: () => send(false) }, "Send");
  const stopBtn = h("button", { class: "lj-btn lj-stop", title: "Stop the running question", onclick: () => rpc.request("interrupt") }, "■ Stop");
  const inputError = h("div", { class: "lj-error", hidden: true });
  const composer = h("div", { class: "lj-composer" }, input, h("div", { class: "lj-composer-buttons" }, stopBtn, sendBtn));
  root.append(header, contextPop, settingsPop, transcript, queueBox, inputError, composer);

  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      // While a run is going, Enter queues this question and interrupts the running one.
      send(!!model.get("busy"));
    }
  });

  /** @param {boolean} interrupt */
  async function send(interrupt) {
    const text = input.value.trim();
    if (!text) return;
    inputError.hidden = true;
    input.value = "";
    try {
      await rpc.request("ask", { text, interrupt });
    } catch (err) {
      input.value = text;
      inputError.textContent = /** @type {Error} */ (err).message;
      inputError.hidden = false;
    }
  }

  // ---- synced settings ----
  function syncHeader() {
    const models = model.get("models");
    const current = model.get("model");
    modelSelect.replaceChildren(...models.map((/** @type {string} */ m) => h("option", { value: m, selected: m === current }, m)));
    if (!models.includes(current) && current) modelSelect.append(h("option", { value: current, selected: true }, current));
    const sources = model.get("sources");
    const enabled = new Set(model.get("enabled_sources"));
    contextBtn.textContent = `+ Context${enabled.size ? ` (${enabled.size})` : ""}`;
    contextPop.replaceChildren(
      h("div", { class: "lj-pop-title" }, "Data sources Loop may read"),
      ...(sources.length
        ? sources.map((/** @type {string} */ name) =>
            h("label", { class: "lj-check-line" },
              h("input", {
                type: "checkbox", checked: enabled.has(name), "data-source": name,
                onchange: (/** @type {Event} */ e) => {
                  const on = /** @type {HTMLInputElement} */ (e.target).checked;
                  const next = new Set(model.get("enabled_sources"));
                  if (on) next.add(name); else next.delete(name);
                  model.set("enabled_sources", [...next].sort());
                  model.save_changes();
                },
              }),
              " ", name))
        : [h("div", { class: "lj-muted" }, "Only the logs. Pass sources={name: frame} to Loop to add more.")]),
    );
    settingsPop.replaceChildren(
      h("div", { class: "lj-pop-title" }, "Settings"),
      h("label", { class: "lj-check-line" },
        h("input", {
          type: "checkbox", class: "lj-auto-accept", checked: model.get("auto_accept"),
          onchange: (/** @type {Event} */ e) => { model.set("auto_accept", /** @type {HTMLInputElement} */ (e.target).checked); model.save_changes(); },
        }),
        " Auto-accept actions (save datasets and scorers without asking)"),
    );
    const scope = model.get("scope");
    scopeChip.hidden = !scope;
    scopeChip.replaceChildren(
      `trace ${String(scope).slice(0, 12)}`,
      h("button", { class: "lj-chip-x", title: "Stop scoping to this trace", onclick: () => rpc.request("scope", { root_span_id: null }) }, "✕"),
    );
    const busy = !!model.get("busy");
    root.classList.toggle("lj-busy", busy);
    stopBtn.hidden = !busy;
    sendBtn.textContent = busy ? "Queue" : "Send";
    const queue = model.get("queue");
    queueBox.hidden = !queue.length;
    queueBox.replaceChildren(
      h("div", { class: "lj-queue-title" }, `Queued (${queue.length})`),
      ...queue.map((/** @type {any} */ q, /** @type {number} */ i) => h("div", { class: "lj-queue-item" }, h("span", { class: "lj-muted" }, `${i + 1}.`), " ", q.question)),
    );
  }
  const traits = ["models", "model", "sources", "enabled_sources", "auto_accept", "scope", "busy", "queue"];
  for (const t of traits) model.on(`change:${t}`, syncHeader);
  syncHeader();

  // ---- transcript from events ----
  /** @type {Map<string, {el: HTMLElement, text: HTMLElement, raw: string, steps: HTMLElement, artifacts: HTMLElement, user?: HTMLElement, status: HTMLElement, afterTool: boolean}>} */
  const runs = new Map();

  /** @param {string} runId @param {string} question */
  function userMessage(runId, question) {
    const textEl = h("div", { class: "lj-user-text" }, question);
    const editBtn = h("button", { class: "lj-btn lj-btn-small lj-edit", title: "Edit and re-run" }, "Edit");
    const msg = h("div", { class: "lj-msg lj-user", "data-run": runId }, textEl, editBtn);
    editBtn.addEventListener("click", () => {
      const area = /** @type {HTMLTextAreaElement} */ (h("textarea", { class: "lj-input lj-edit-area", rows: 2 }));
      area.value = textEl.textContent || "";
      const save = h("button", { class: "lj-btn lj-btn-primary lj-btn-small", onclick: async () => {
        try {
          await rpc.request("edit", { run_id: runId, text: area.value });
          textEl.textContent = area.value;
          form.replaceWith(textEl);
          editBtn.hidden = false;
        } catch (err) { errorLine.textContent = /** @type {Error} */ (err).message; }
      } }, "Save & re-run");
      const errorLine = h("span", { class: "lj-error-inline" });
      const form = h("div", { class: "lj-edit-form" }, area, h("div", null, save, h("button", { class: "lj-btn lj-btn-small", onclick: () => { form.replaceWith(textEl); editBtn.hidden = false; } }, "Cancel"), errorLine));
      area.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); save.click(); } });
      textEl.replaceWith(form);
      editBtn.hidden = true;
      area.focus();
    });
    return msg;
  }

  /** @param {string} runId @param {string} [question] */
  function ensureRun(runId, question) {
    let run = runs.get(runId);
    if (run) return run;
    empty.remove();
    const text = h("div", { class: "lj-answer-text" });
    const steps = h("div", { class: "lj-steps" });
    const artifacts = h("div", { class: "lj-artifacts" });
    const status = h("div", { class: "lj-status" });
    const el = h("div", { class: "lj-msg lj-assistant", "data-run": runId }, steps, text, artifacts, status);
    const user = userMessage(runId, question || "");
    transcript.append(user, el);
    run = { el, text, raw: "", steps, artifacts, user, status, afterTool: false };
    runs.set(runId, run);
    return run;
  }

  function scrollDown() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  /** @param {any} msg */
  function onEvent(msg) {
    const { event, run_id: runId, data } = msg;
    if (event === "queued") return; // the queue box shows it
    const run = ensureRun(runId, data.question);
    switch (event) {
      case "started":
        run.el.classList.add("lj-running");
        run.status.replaceChildren(h("span", { class: "lj-spinner" }), " thinking…");
        break;
      case "text_delta":
        // A new model turn after tools starts a new paragraph.
        if (run.afterTool && run.raw) run.raw += "\n\n";
        run.afterTool = false;
        run.raw += data.text || "";
        run.text.replaceChildren(markdownFragment(run.raw));
        break;
      case "tool_started":
        run.steps.append(h("div", { class: "lj-step lj-step-running", "data-tool": data.name || "" }, h("span", { class: "lj-step-icon" }, "⚙"), ` ${data.name || "tool"}`, data.summary ? h("span", { class: "lj-muted" }, ` — ${data.summary}`) : null));
        break;
      case "tool_finished": {
        run.afterTool = true;
        const step = [...run.steps.querySelectorAll(".lj-step-running")].find((s) => s.getAttribute("data-tool") === (data.name || ""));
        if (step) {
          step.classList.remove("lj-step-running");
          step.classList.add(data.is_error ? "lj-step-error" : "lj-step-done");
          step.querySelector(".lj-step-icon").textContent = data.is_error ? "✕" : "✓";
        }
        break;
      }
      case "artifact":
      case "confirmation":
        run.artifacts.append(artifactCard(data.artifact));
        break;
      case "done":
        if (!run.raw && data.text) { run.raw = data.text; run.text.replaceChildren(markdownFragment(run.raw)); }
        finish(run, data.tokens_sent != null ? `${Number(data.tokens_sent).toLocaleString()} tokens sent` : "");
        break;
      case "error":
        run.text.append(h("div", { class: "lj-error" }, data.message || "error"));
        finish(run, "");
        break;
      case "interrupted":
        finish(run, "interrupted");
        run.el.classList.add("lj-interrupted");
        break;
    }
    scrollDown();
  }

  /** @param {any} run @param {string} note */
  function finish(run, note) {
    run.el.classList.remove("lj-running");
    run.status.replaceChildren(note ? h("span", { class: "lj-muted lj-small" }, note) : "");
    for (const s of run.steps.querySelectorAll(".lj-step-running")) s.classList.remove("lj-step-running");
  }

  // ---- artifact cards ----
  /** @param {string} source @param {HTMLElement} note */
  async function insertCell(source, note) {
    const app = /** @type {any} */ (window).jupyterapp;
    if (app && app.commands && app.commands.hasCommand("notebook:insert-cell-below")) {
      await app.commands.execute("notebook:insert-cell-below");
      const cell = app.shell.currentWidget && app.shell.currentWidget.content && app.shell.currentWidget.content.activeCell;
      if (cell) { cell.model.sharedModel.setSource(source); note.textContent = "Inserted below the active cell."; return; }
    }
    const ok = await copyText(source);
    await rpc.request("insert_code", { source }).catch(() => null);
    note.textContent = ok ? "Copied: paste into a new cell (Esc B, then Ctrl+V)." : "Copy failed: select the code and copy it.";
  }

  /** @param {string} source */
  function codeActions(source) {
    const note = h("span", { class: "lj-muted lj-small lj-note" });
    return h("div", { class: "lj-actions" },
      h("button", { class: "lj-btn lj-btn-small lj-insert", onclick: () => insertCell(source, note) }, "Insert as cell"),
      h("button", { class: "lj-btn lj-btn-small", onclick: async () => { note.textContent = (await copyText(source)) ? "Copied." : "Copy failed."; } }, "Copy"),
      note);
  }

  /** @param {any} a @returns {HTMLElement} */
  function artifactCard(a) {
    const title = a.title ? h("div", { class: "lj-card-title" }, a.title) : null;
    const card = h("div", { class: `lj-card lj-card-${a.kind}`, "data-kind": a.kind, "data-artifact": a.artifact_id });
    switch (a.kind) {
      case "table": {
        const t = pagedTable({
          columns: a.columns, types: a.types, rows: a.rows, total: a.total_rows, pageSize: 10,
          fetchPage: async (offset, limit, sort, descending) => {
            const r = await rpc.request("page", { artifact_id: a.artifact_id, offset, limit, sort, descending });
            return { rows: r.rows, total: r.total_rows };
          },
        });
        card.append(title || h("div", { class: "lj-card-title" }, "Table"), t.el);
        break;
      }
      case "sql": {
        const note = h("span", { class: "lj-muted lj-small lj-note" });
        card.append(
          h("div", { class: "lj-card-title" }, a.title || "SQL filter", h("span", { class: "lj-muted lj-small" }, ` ${a.shape} · ${Number(a.count).toLocaleString()} match`)),
          h("pre", { class: "lj-pre lj-sql" }, a.sql),
          h("div", { class: "lj-actions" },
            h("button", { class: "lj-btn lj-btn-small", onclick: async () => { note.textContent = (await copyText(a.sql)) ? "Copied." : "Copy failed."; } }, "Copy"),
            model.get("has_explorer")
              ? h("button", { class: "lj-btn lj-btn-small lj-apply", onclick: async () => {
                  try { const r = await rpc.request("apply_filter", { artifact_id: a.artifact_id }); note.textContent = `Explorer shows ${r.total.toLocaleString()} traces.`; }
                  catch (err) { note.textContent = /** @type {Error} */ (err).message; }
                } }, "Apply to explorer")
              : null,
            note),
        );
        break;
      }
      case "chart": {
        const plot = h("div", { class: "lj-plot" }, h("span", { class: "lj-muted" }, "Loading chart…"));
        card.append(title || "", plot);
        renderFigure(rpc, plot, a.figure).then(() => plot.querySelector(".lj-muted")?.remove()).catch((err) => { plot.textContent = `Chart failed: ${err.message}`; });
        break;
      }
      case "trace": {
        card.append(title || h("div", { class: "lj-card-title" }, `Trace ${a.root_span_id}`));
        if (a.html) card.append(h("div", { class: "lj-trace-html" }, htmlFragment(a.html)));
        if (a.figure) { const plot = h("div", { class: "lj-plot" }); card.append(plot); renderFigure(rpc, plot, a.figure).catch((err) => { plot.textContent = `Chart failed: ${err.message}`; }); }
        card.append(h("div", { class: "lj-actions" }, h("button", { class: "lj-btn lj-btn-small", onclick: () => rpc.request("scope", { root_span_id: a.root_span_id }) }, "Scope chat to this trace")));
        break;
      }
      case "dataset":
        card.append(
          h("div", { class: "lj-card-title" }, "▤ Dataset ", h("strong", null, a.name), h("span", { class: "lj-muted lj-small" }, ` v${a.version} · ${Number(a.rows).toLocaleString()} rows`)),
          h("div", { class: "lj-path", title: a.path }, a.path),
        );
        break;
      case "scorer":
        card.append(
          h("div", { class: "lj-card-title" }, "◎ Scorer ", h("strong", null, a.name), h("span", { class: "lj-muted lj-small" }, ` ${a.scorer_kind === "llm_judge" ? "LLM judge" : "code"}`)),
          h("pre", { class: "lj-pre" }, a.source),
          a.path ? h("div", { class: "lj-path" }, a.path) : null,
          codeActions(a.source),
        );
        break;
      case "code":
        card.append(title || h("div", { class: "lj-card-title" }, "Reproduce in a cell"), h("pre", { class: "lj-pre lj-code" }, a.source), codeActions(a.source));
        break;
      case "confirmation": {
        const status = h("span", { class: "lj-pending-status" }, a.status === "pending" ? "Waiting for your confirmation" : a.status);
        const confirm = /** @type {HTMLButtonElement} */ (h("button", { class: "lj-btn lj-btn-primary lj-confirm" }, "Confirm"));
        const cancel = /** @type {HTMLButtonElement} */ (h("button", { class: "lj-btn lj-cancel" }, "Cancel"));
        const done = (/** @type {string} */ s) => { confirm.disabled = cancel.disabled = true; status.textContent = s; card.classList.add(`lj-${s}`); };
        confirm.addEventListener("click", async () => {
          confirm.disabled = cancel.disabled = true;
          try {
            // What the action produced (the dataset card) arrives as an artifact event of this run.
            await rpc.request("confirm", { action_id: a.action_id });
            done("confirmed");
          } catch (err) { status.textContent = /** @type {Error} */ (err).message; confirm.disabled = cancel.disabled = false; }
        });
        cancel.addEventListener("click", async () => {
          try { await rpc.request("cancel", { action_id: a.action_id }); done("cancelled"); }
          catch (err) { status.textContent = /** @type {Error} */ (err).message; }
        });
        card.append(
          h("div", { class: "lj-card-title" }, "⚑ ", a.description || a.title || "Confirm this action"),
          h("pre", { class: "lj-pre lj-preview" }, a.preview),
          h("div", { class: "lj-actions" }, confirm, cancel, status),
        );
        if (a.status !== "pending") done(a.status);
        break;
      }
      default:
        card.append(title || h("div", { class: "lj-card-title" }, a.kind), h("pre", { class: "lj-pre" }, JSON.stringify(a, null, 2).slice(0, 4000)));
    }
    return card;
  }

  const offEvent = rpc.on("event", onEvent);
  rpc.request("history").then((r) => {
    // A re-rendered view (reloaded page, second view) shows the earlier text before new events.
    if (runs.size || !r.messages.length) return;
    empty.remove();
    for (const m of r.messages) {
      transcript.append(m.role === "user"
        ? h("div", { class: "lj-msg lj-user lj-past" }, m.text)
        : h("div", { class: "lj-msg lj-assistant lj-past" }, h("div", { class: "lj-answer-text" }, markdownFragment(m.text))));
    }
  }).catch(() => null);

  return () => {
    for (const t of traits) model.off(`change:${t}`, syncHeader);
    offEvent();
    rpc.dispose();
  };
}

export default { render };
