// Id-matched requests over anywidget custom messages: send {id, type, ...}, Python answers {id, ok, ...}.
// Messages without an id are pushes (chat events, selection changes) and go to `on` listeners.
// Every request, reply and push is checked against the shared contract (contract.js, messages.json):
// a request that breaks it is refused here, a reply or push that breaks it is reported, not used.
import { pushProblem, replyProblem, requestProblem } from "./contract.js";

/** @param {any} model @param {"chat" | "explorer"} widget */
export function makeRpc(model, widget) {
  let next = 1;
  /** @type {Map<number, {type: string, resolve: Function, reject: Function}>} */
  const waiting = new Map();
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();

  /** @param {any} msg @param {DataView[]} buffers */
  function onMessage(msg, buffers) {
    if (msg && msg.id != null && waiting.has(msg.id)) {
      const { type, resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      const problem = msg.ok ? replyProblem(widget, type, msg) : "";
      if (problem) reject(new Error(`contract: ${problem}`));
      else if (msg.ok) resolve({ ...msg, buffers });
      else reject(new Error(msg.error || "request failed"));
      return;
    }
    if (msg && msg.id != null) return; // a reply to a request this view did not send (another view's)
    const problem = pushProblem(widget, msg);
    if (problem) {
      console.error(`loop_jupyter ${widget}: message refused by the contract: ${problem}`);
      return;
    }
    const set = listeners.get(msg.type);
    if (set) for (const fn of set) fn(msg, buffers);
  }
  model.on("msg:custom", onMessage);

  return {
    /** @param {string} type @param {Record<string, any>} [body] */
    request(type, body = {}) {
      const problem = requestProblem(widget, type, body);
      if (problem) return Promise.reject(new Error(`contract: ${problem}`));
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { type, resolve, reject });
        model.send({ id, type, ...body });
      });
    },
    /** @param {string} type @param {Function} fn */
    on(type, fn) {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type).add(fn);
      return () => listeners.get(type).delete(fn);
    },
    dispose() {
      model.off("msg:custom", onMessage);
      for (const { reject } of waiting.values()) reject(new Error("widget closed"));
      waiting.clear();
    },
  };
}
