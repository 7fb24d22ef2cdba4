// ChatWidget front end: the transcript is built from streamed events (never a synced trait),
// artifacts render inline as cards; settings are the few synced traits.
// Log text is hostile: every string from Python is set as text (dom.js `h`), and the only HTML
// (the answer's Markdown, a trace view) goes through safe_html.js (marked + DOMPurify). No innerHTML.
// Pieces: chat_header.js (header and settings), chat_transcript.js (events -> bubbles),
// chat_cards.js (one renderer per artifact card kind), rpc.js + contract.js (the message contract).
import { h, suppressShortcuts } from "./dom.js";
import { chatHeader } from "./chat_header.js";
import { chatTranscript } from "./chat_transcript.js";
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
  root.append(header.header, header.contextPop, header.settingsPop, transcript.el, queue.el, input.error, input.el);

  function sync() {
    header.sync();
    input.sync();
    queue.sync();
    root.classList.toggle("lj-busy", !!model.get("busy"));
  }
  const traits = ["models", "locked_models", "model", "sources", "enabled_sources", "auto_accept", "scope", "busy", "queue"];
  for (const t of traits) model.on(`change:${t}`, sync);
  sync();

  // A view rendered later (a reloaded page) replays what the kernel kept of the transcript through
  // the same renderers (tables, charts, cards, pending actions). Events that arrive meanwhile wait
  // and are shown once, after it (by their seq); if the kernel is slow to answer (a cell running),
  // they are shown after a moment anyway and the replay adds only what was not shown.
  /** @type {any[] | null} */
  let early = [];
  const shownSeqs = new Set();
  const liveRuns = new Set();  // runs shown live before the replay: their (merged) text is not replayed again
  const show = (/** @type {any} */ m) => { if (m.seq != null) shownSeqs.add(Number(m.seq)); transcript.onEvent(m); };
  const goLive = () => { const waiting = early || []; early = null; for (const m of waiting) { liveRuns.add(m.run_id); show(m); } };
  const timer = setTimeout(goLive, 3000);
  const offEvent = rpc.on("event", (/** @type {any} */ msg) => { if (early) early.push(msg); else { liveRuns.add(msg.run_id); show(msg); } });
  rpc.request("history")
    .then((r) => {
      clearTimeout(timer);
      const last = Number(r.seq) || 0;
      const waiting = early || [];
      early = null;
      const replayed = (/** @type {any} */ m) => !shownSeqs.has(Number(m.seq)) && !(m.event === "text_delta" && liveRuns.has(m.run_id));
      if (r.events && r.events.length) { for (const m of r.events) if (replayed(m)) show(m); }
      else if (!shownSeqs.size) transcript.showHistory(r.messages);
      for (const m of waiting) if (!(Number(m.seq) <= last)) show(m);
    })
    .catch(() => { clearTimeout(timer); goLive(); });

  return () => {
    clearTimeout(timer);
    for (const t of traits) model.off(`change:${t}`, sync);
    offEvent();
    rpc.dispose();
  };
}

export default { render };
