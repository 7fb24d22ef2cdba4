// ChatWidget front end: the transcript is built from streamed events (never a synced trait),
// artifacts render inline as cards; settings are the few synced traits.
// Log text is hostile: every string from Python is set as text (dom.js `h`), and the only HTML
// (the answer's Markdown, a trace view) goes through safe_html.js (marked + DOMPurify). No innerHTML.
// Pieces: chat_header.js (header and settings), chat_transcript.js (events -> bubbles),
// chat_cards.js (one renderer per artifact card kind), rpc.js + contract.js (the message contract).
import { h, suppressShortcuts } from "./dom.js";
import { chatHeader } from "./chat_header.js";
import { chatTranscript } from "./chat_transcript.js";
import { chatSessions } from "./chat_sessions.js";
import { makeRpc } from "./rpc.js";

/** The question box: Enter sends (and, while a run is going, queues it and interrupts the run).
 * @param {any} model @param {{request: Function}} rpc */
function composer(model, rpc) {
  const input = /** @type {HTMLTextAreaElement} */ (h("textarea", { class: "lj-input lj-ask", rows: 2, placeholder: "Ask Loop about these logs…  (Enter to send, Shift+Enter for a new line)" }));
  const sendBtn = h("button", { class: "lj-btn lj-btn-primary lj-send", onclick: () => send(false) }, "Send");
  const stopBtn = h("button", { class: "lj-btn lj-stop", title: "Stop the running question", onclick: () => rpc.request("interrupt") }, "■ Stop");
  const error = h("div", { class: "lj-error", hidden: true });
  const el = h("div", { class: "lj-composer" }, input, h("div", { class: "lj-composer-buttons" }, stopBtn, sendBtn));
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      send(!!model.get("busy"));
    }
  });

  /** @param {boolean} interrupt */
  async function send(interrupt) {
    const text = input.value.trim();
    if (!text) return;
    error.hidden = true;
    input.value = "";
    try {
      await rpc.request("ask", { text, interrupt });
    } catch (err) {
      input.value = text;
      error.textContent = /** @type {Error} */ (err).message;
      error.hidden = false;
    }
  }

  function sync() {
    const busy = !!model.get("busy");
    stopBtn.hidden = !busy;
    sendBtn.textContent = busy ? "Queue" : "Send";
  }

  return { el, error, sync };
}

/** The questions waiting behind the running one. @param {any} model */
function queueBox(model) {
  const el = h("div", { class: "lj-queue", hidden: true });
  function sync() {
    const queue = model.get("queue");
    el.hidden = !queue.length;
    el.replaceChildren(
      h("div", { class: "lj-queue-title" }, `Queued (${queue.length})`),
      ...queue.map((/** @type {any} */ q, /** @type {number} */ i) => h("div", { class: "lj-queue-item" }, h("span", { class: "lj-muted" }, `${i + 1}.`), " ", q.question)),
    );
  }
  return { el, sync };
}

/** @param {{model: any, el: HTMLElement}} ctx */
function render({ model, el }) {
  const rpc = makeRpc(model, "chat");
  const root = h("div", { class: "lj-root lj-chat" });
  suppressShortcuts(root);
  el.append(root);

  const header = chatHeader(model, rpc);
  const transcript = chatTranscript(model, rpc);
  const queue = queueBox(model);
  const input = composer(model, rpc);
  const sessions = chatSessions(model, rpc, transcript);
  const spacer = header.header.querySelector(".lj-spacer");
  if (spacer) { spacer.before(sessions.chip); spacer.after(sessions.button); }
  root.append(header.header, header.contextPop, header.settingsPop, sessions.pop, transcript.el, queue.el, input.error, input.el);
  // The popovers open below the header, however many lines a narrow pane wraps it onto.
  const headerSize = new ResizeObserver(() => root.style.setProperty("--lj-header-height", `${header.header.offsetHeight}px`));
  headerSize.observe(header.header);

  function sync() {
    header.sync();
    input.sync();
    queue.sync();
    sessions.sync();
    root.classList.toggle("lj-busy", !!model.get("busy"));
  }
  const traits = ["models", "locked_models", "model", "sources", "enabled_sources", "auto_accept", "scope", "busy", "queue", ...sessions.traits];
  for (const t of traits) model.on(`change:${t}`, sync);
  sync();

  const offEvent = rpc.on("event", transcript.onEvent);
  // A reloaded page (or a second view) shows the live branch as it was: cards, switchers and all.
  rpc.request("transcript")
    .then((r) => { if (!transcript.hasRuns()) transcript.render(r); })
    .catch(() => rpc.request("history").then((r) => transcript.showHistory(r.messages)).catch(() => null));

  return () => {
    for (const t of traits) model.off(`change:${t}`, sync);
    offEvent();
    headerSize.disconnect();
    rpc.dispose();
  };
}

export default { render };
