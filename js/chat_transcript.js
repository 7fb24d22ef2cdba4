// The chat transcript, built from the Loop's streamed events: a question bubble (editable) and an
// answer per run, with tool steps, streamed Markdown text, artifact cards and a status line.
import { h } from "./dom.js";
import { artifactCard } from "./chat_cards.js";
import { displayText } from "./contract.js";
import { markdownFragment } from "./safe_html.js";

/**
 * @typedef {{el: HTMLElement, text: HTMLElement, raw: string, steps: HTMLElement, artifacts: HTMLElement,
 *   user?: HTMLElement, status: HTMLElement, afterTool: boolean, setAlternatives: (alt: any) => void}} Run
 */

/** The "‹ 1/2 ›" switcher of an edited question: each version is a branch kept by the Loop.
 * @param {{request: Function}} rpc @param {(reply: any) => void} render */
function branchSwitch(rpc, render) {
  const prev = h("button", { class: "lj-btn lj-btn-small lj-branch-prev", title: "Previous version of this question" }, "‹");
  const next = h("button", { class: "lj-btn lj-btn-small lj-branch-next", title: "Next version of this question" }, "›");
  const label = h("span", { class: "lj-branch-label lj-muted lj-small" });
  const el = h("span", { class: "lj-branch-switch", hidden: true }, prev, label, next);
  /** @type {any} */ let alt = null;
  /** @param {number} step */
  async function go(step) {
    const target = alt && alt.branches[alt.position - 1 + step];
    if (target == null) return;
    prev.disabled = next.disabled = true;
    try { render(await rpc.request("switch_branch", { branch: target })); }
    catch (err) { label.textContent = /** @type {Error} */ (err).message; prev.disabled = next.disabled = false; }
  }
  prev.addEventListener("click", () => go(-1));
  next.addEventListener("click", () => go(1));
  /** @param {any} value */
  function set(value) {
    alt = value && value.count ? value : null;
    el.hidden = !alt || alt.count < 2;
    if (!alt) return;
    label.textContent = `${alt.position}/${alt.count}`;
    prev.disabled = alt.position <= 1;
    next.disabled = alt.position >= alt.count;
  }
  return { el, set };
}

/** @param {{request: Function}} rpc @param {string} runId @param {string} question @param {string} scope
 * @param {{edited: (el: HTMLElement, runId: string) => void, render: (reply: any) => void}} hooks */
function userMessage(rpc, runId, question, scope, hooks) {
  const textEl = h("div", { class: "lj-user-text" }, question);
  const editBtn = h("button", { class: "lj-btn lj-btn-small lj-edit", title: "Edit and re-run" }, "Edit");
  const switcher = branchSwitch(rpc, hooks.render);
  // A question asked while the chat is scoped to a trace says so: its answer is about that trace only.
  const scopeTag = scope ? h("div", { class: "lj-scope-tag lj-muted lj-small", title: scope }, `about trace ${scope.slice(0, 12)}`) : null;
  const msg = h("div", { class: "lj-msg lj-user", "data-run": runId, "data-scope": scope || null }, scopeTag, textEl, h("div", { class: "lj-user-tools" }, switcher.el, editBtn));
  editBtn.addEventListener("click", () => {
    const area = /** @type {HTMLTextAreaElement} */ (h("textarea", { class: "lj-input lj-edit-area", rows: 2 }));
    area.value = textEl.textContent || "";
    const errorLine = h("span", { class: "lj-error-inline" });
    const close = () => { form.replaceWith(textEl); editBtn.hidden = false; };
    const save = h("button", { class: "lj-btn lj-btn-primary lj-btn-small", onclick: async () => {
      try {
        const reply = await rpc.request("edit", { run_id: runId, text: area.value });
        // The new version takes this question's place; the old one stays a branch ("‹ 1/2 ›").
        hooks.edited(msg, reply.run_id);
      } catch (err) { errorLine.textContent = /** @type {Error} */ (err).message; }
    } }, "Save & re-run");
    const form = h("div", { class: "lj-edit-form" }, area, h("div", null, save, h("button", { class: "lj-btn lj-btn-small", onclick: close }, "Cancel"), errorLine));
    area.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); save.click(); } });
    textEl.replaceWith(form);
    editBtn.hidden = true;
    area.focus();
  });
  return { msg, setAlternatives: switcher.set };
}

/** @param {Run} run @param {string} note */
function finish(run, note) {
  run.el.classList.remove("lj-running");
  run.status.replaceChildren(note ? h("span", { class: "lj-muted lj-small" }, note) : "");
  for (const s of run.steps.querySelectorAll(".lj-step-running")) s.classList.remove("lj-step-running");
}

/** The context line under an answer: tokens in, out and cached, the window's share, the cost
 * (the text is formatted by Python, AnswerUsage.line; the tooltip spells the figures out).
 * @param {any} usage */
function contextLine(usage) {
  const n = (/** @type {number} */ v) => Number(v).toLocaleString();
  const details = usage.requests
    ? [
        `${usage.model}: ${n(usage.requests)} model call${usage.requests === 1 ? "" : "s"}`,
        `input ${n(usage.input_tokens)} tokens (${n(usage.cache_read_tokens)} read from cache, ${n(usage.cache_creation_tokens)} written to it)`,
        `output ${n(usage.output_tokens)} tokens`,
        usage.context_window ? `largest request ${n(usage.context_tokens)} of a ${n(usage.context_window)}-token window` : "context window unknown",
        usage.cost_usd != null ? `$${Number(usage.cost_usd).toFixed(4)} at list price` : "price unknown",
      ].join("\n")
    : usage.line;
  return h("div", { class: "lj-context-line lj-muted lj-small", title: details }, usage.line);
}

/** @param {Run} run @param {any} data */
function toolFinished(run, data) {
  run.afterTool = true;
  const step = [...run.steps.querySelectorAll(".lj-step-running")].find((s) => s.getAttribute("data-tool") === (data.name || ""));
  if (!step) return;
  step.classList.remove("lj-step-running");
  step.classList.add(data.is_error ? "lj-step-error" : "lj-step-done");
  step.querySelector(".lj-step-icon").textContent = data.is_error ? "✕" : "✓";
}

/** @param {Run} run @param {string} more */
function appendText(run, more) {
  // A new model turn after tools starts a new paragraph.
  if (run.afterTool && run.raw) run.raw += "\n\n";
  run.afterTool = false;
  run.raw += more;
  run.text.replaceChildren(markdownFragment(displayText(run.raw)));
}

/** @param {any} model @param {{request: Function}} rpc */
export function chatTranscript(model, rpc) {
  const el = h("div", { class: "lj-transcript", "aria-live": "polite" });
  const empty = h("div", { class: "lj-empty" }, "Ask about your logs: “What are the most common errors?”, “Plot latency by day”, “Which tools fail most?”");
  el.append(empty);
  /** @type {Map<string, Run>} */
  const runs = new Map();

  /** Drop the transcript from an edited question on (its old answer and what followed): the new
   * version's run, already there or still to come, then stands where the question was.
   * @param {HTMLElement} from @param {string} keepRun */
  function edited(from, keepRun) {
    if (!from.isConnected) return;
    const doomed = [];
    for (let node = /** @type {Element | null} */ (from); node; node = node.nextElementSibling) {
      if (node.getAttribute("data-run") !== keepRun) doomed.push(node);
    }
    for (const node of doomed) {
      const id = node.getAttribute("data-run");
      if (id && id !== keepRun) runs.delete(id);
      node.remove();
    }
  }

  const hooks = { edited, render: (/** @type {any} */ reply) => render(reply) };

  /** @param {string} runId @param {string} [question] @param {string} [scope] @returns {Run} */
  function ensureRun(runId, question, scope) {
    let run = runs.get(runId);
    if (run) return run;
    empty.remove();
    const text = h("div", { class: "lj-answer-text" });
    const steps = h("div", { class: "lj-steps" });
    const artifacts = h("div", { class: "lj-artifacts" });
    const status = h("div", { class: "lj-status" });
    const answer = h("div", { class: "lj-msg lj-assistant", "data-run": runId }, steps, text, artifacts, status);
    const user = userMessage(rpc, runId, question || "", scope || "", hooks);
    el.append(user.msg, answer);
    run = { el: answer, text, raw: "", steps, artifacts, user: user.msg, status, afterTool: false, setAlternatives: user.setAlternatives };
    runs.set(runId, run);
    return run;
  }

  /** Rebuild the transcript from the Loop's live branch (a reload, a branch switch, an opened
   * session): questions, answers, tool steps and the artifacts' cards, as they were.
   * @param {{runs: any[], hidden?: number}} reply */
  function render(reply) {
    runs.clear();
    el.replaceChildren();
    if (!reply.runs.length) { el.append(empty); return; }
    if (reply.hidden) el.append(h("div", { class: "lj-muted lj-small lj-hidden-runs" }, `${reply.hidden} earlier question${reply.hidden === 1 ? "" : "s"} not shown`));
    for (const r of reply.runs) {
      const run = ensureRun(r.run_id, r.question, "");
      run.setAlternatives(r.alternatives);
      for (const step of r.steps) {
        run.steps.append(h("div", { class: `lj-step ${step.is_error ? "lj-step-error" : "lj-step-done"}`, "data-tool": step.name }, h("span", { class: "lj-step-icon" }, step.is_error ? "✕" : "✓"), ` ${step.name}`));
      }
      if (r.text) { run.raw = r.text; run.text.replaceChildren(markdownFragment(displayText(r.text))); }
      for (const card of r.artifacts) run.artifacts.append(artifactCard(card, { model, rpc }));
      if (r.error) run.text.append(h("div", { class: "lj-error" }, r.error));
      if (r.status === "interrupted") { run.el.classList.add("lj-interrupted"); run.status.replaceChildren(h("span", { class: "lj-muted lj-small" }, "interrupted")); }
    }
    el.scrollTop = el.scrollHeight;
  }

  /** @param {any} msg */
  function onEvent(msg) {
    const { event, run_id: runId, data } = msg;
    if (event === "queued") return; // the queue box shows it
    const run = ensureRun(runId, data.question, data.scope);
    switch (event) {
      case "started":
        if (data.alternatives) run.setAlternatives(data.alternatives);
        run.el.classList.add("lj-running");
        run.status.replaceChildren(h("span", { class: "lj-spinner" }), " thinking…");
        break;
      case "text_delta":
        appendText(run, data.text || "");
        break;
      case "tool_started":
        run.steps.append(h("div", { class: "lj-step lj-step-running", "data-tool": data.name || "" }, h("span", { class: "lj-step-icon" }, "⚙"), ` ${data.name || "tool"}`, data.summary ? h("span", { class: "lj-muted" }, ` — ${data.summary}`) : null));
        break;
      case "tool_finished":
        toolFinished(run, data);
        break;
      case "artifact":
      case "confirmation":
        run.artifacts.append(artifactCard(data.artifact, { model, rpc }));
        break;
      case "done":
        if (!run.raw && data.text) { run.raw = data.text; run.text.replaceChildren(markdownFragment(displayText(run.raw))); }
        finish(run, data.tokens_sent != null ? `${Number(data.tokens_sent).toLocaleString()} tokens sent` : "");
        if (data.usage) run.status.append(contextLine(data.usage));
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
    el.scrollTop = el.scrollHeight;
  }

  /** A re-rendered view (reloaded page, second view) shows the earlier text before new events.
   * @param {{role: string, text: string}[]} messages */
  function showHistory(messages) {
    if (runs.size || !messages.length) return;
    empty.remove();
    for (const m of messages) {
      el.append(m.role === "user"
        ? h("div", { class: "lj-msg lj-user lj-past" }, m.text)
        : h("div", { class: "lj-msg lj-assistant lj-past" }, h("div", { class: "lj-answer-text" }, markdownFragment(displayText(m.text)))));
    }
  }

  return { el, onEvent, showHistory, render, hasRuns: () => runs.size > 0 };
}
