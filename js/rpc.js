// Id-matched requests over anywidget custom messages: send {id, type, ...}, Python answers {id, ok, ...}.
// Messages without an id are pushes (chat events, selection changes) and go to `on` listeners.

/** @param {any} model */
export function makeRpc(model) {
  let next = 1;
  /** @type {Map<number, {resolve: Function, reject: Function}>} */
  const waiting = new Map();
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();

  /** @param {any} msg @param {DataView[]} buffers */
  function onMessage(msg, buffers) {
    if (msg && msg.id != null && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.ok) resolve({ ...msg, buffers });
      else reject(new Error(msg.error || "request failed"));
      return;
    }
    const set = listeners.get(msg && msg.type);
    if (set) for (const fn of set) fn(msg, buffers);
  }
  model.on("msg:custom", onMessage);

  return {
    /** @param {string} type @param {object} [body] */
    request(type, body = {}) {
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
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
