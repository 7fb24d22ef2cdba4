// A tiny element builder: h("div", {class: "x", onclick: fn}, "text", child).
// Children that are not Nodes become text nodes, attribute values go through setAttribute: log text
// passed here is never parsed as HTML. An on* attribute takes a function only (never a string of code).

/**
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (/^on/i.test(key)) {
      if (typeof value === "function") el.addEventListener(key.slice(2), value);
      continue;
    }
    if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key in el && typeof value !== "string") /** @type {any} */ (el)[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Bidi embeddings, overrides and isolates (U+202A-E, U+2066-9). One in a log value reorders the rest
 * of its paragraph as displayed (counts read backwards; code shown for confirmation reads unlike what
 * runs), so text shows each as its escape, as the terminal and the notebook outputs do (render.py).
 * Marks (LRM/RLM/ALM) stay: right-to-left text uses them. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

/** @param {any} text @returns {string} */
export function neutralBidi(text) {
  return String(text).replace(BIDI_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** @param {HTMLElement} el @param {any[]} children */
function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : neutralBidi(child));
  }
}

/** Keep JupyterLab's notebook shortcuts (a, b, dd, Enter...) away from our inputs. @param {HTMLElement} el */
export function suppressShortcuts(el) {
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  el.addEventListener("keydown", (e) => e.stopPropagation());
}

/** @param {number | null | undefined} ms */
export function formatMs(ms) {
  if (ms == null || Number.isNaN(ms)) return "";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

/** @param {any} value @param {string} type */
export function formatCell(value, type) {
  if (value == null) return "";
  if (type === "number" && typeof value === "number") {
    if (Number.isInteger(value)) return value.toLocaleString();
    return Math.abs(value) >= 100 ? value.toFixed(1) : Math.abs(value) >= 1 ? value.toFixed(3) : value.toPrecision(3);
  }
  if (type === "time" && typeof value === "string") return value.replace(/\.\d+$/, "").replace(/\+00:00$/, "");
  if (typeof value === "boolean") return value ? "✓" : "";
  return String(value);
}

/** Copy text; navigator.clipboard needs a secure context (127.0.0.1 is one), else a textarea. @param {string} text */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { style: { position: "fixed", opacity: "0" } });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}
