// The one way log text becomes HTML in the widgets. Log text is written by strangers (end users of
// the traced app, pages an agent fetched, tool outputs): anything a model or a log wrote is either
// set as textContent (dom.js `h`) or goes through `markdownFragment` / `htmlFragment` here.
//
// Markdown: marked (GFM), with raw HTML in the Markdown shown as text (never parsed as tags) and
// images shown as links (no request leaves the page by rendering). Then DOMPurify with a strict
// allow-list: Markdown's own tags only, no script, no event handlers, no style elements, no
// forms/iframes/svg/math, links only to http(s)/mailto. Its output is a DOM fragment, not a string,
// so nothing re-parses it afterwards.
import DOMPurify from "dompurify";
import { Marked } from "marked";
import { neutralBidi } from "./dom.js";

const ALLOWED_TAGS = [
  "a", "b", "blockquote", "br", "caption", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
  "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup", "table", "tbody",
  "td", "tfoot", "th", "thead", "tr", "ul",
];
const ALLOWED_ATTR = ["href", "title", "class", "style", "align", "start", "colspan", "rowspan"];
/** Links may go to the web or to mail, nowhere else (no javascript:, data:, vbscript:, blob:, relative). */
const SAFE_URL = /^(?:https?:|mailto:)/i;
/** Our own (Python-built) trace views mark spans bold/red; nothing else survives in a style attribute. */
const SAFE_STYLE = /^\s*(?:(?:font-weight:\s*(?:bold|600|700)|color:\s*#[0-9a-f]{3,6})\s*;?\s*)*$/i;
/** Classes a fragment may carry: Markdown code languages and our own views' classes. */
const SAFE_CLASS = /^(?:language-[\w+#-]{1,40}|loop-[\w-]{1,40}|lj-[\w-]{1,40})$/;

const CONFIG = {
  ALLOWED_TAGS,
  ALLOWED_ATTR,
  ALLOWED_URI_REGEXP: SAFE_URL,
  // Plain values, not URLs (else DOMPurify holds them to SAFE_URL too and drops <ol start="3">).
  ADD_URI_SAFE_ATTR: ["start", "colspan", "rowspan", "align"],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  FORBID_TAGS: ["script", "style", "iframe", "frame", "object", "embed", "form", "input", "button", "textarea", "select", "img", "svg", "math", "link", "meta", "base"],
  KEEP_CONTENT: true,
  RETURN_DOM_FRAGMENT: true,
};

/** @type {any} */
let purifier = null;
function getPurifier() {
  if (purifier) return purifier;
  purifier = DOMPurify(window); // our own instance: its hooks touch nobody else's DOMPurify
  purifier.addHook("uponSanitizeAttribute", (/** @type {Element} */ _node, /** @type {any} */ data) => {
    if (data.attrName === "style" && !SAFE_STYLE.test(data.attrValue)) data.keepAttr = false;
    if (data.attrName === "class") {
      const kept = String(data.attrValue).split(/\s+/).filter((c) => SAFE_CLASS.test(c));
      if (kept.length) data.attrValue = kept.join(" ");
      else data.keepAttr = false;
    }
  });
  purifier.addHook("afterSanitizeAttributes", (/** @type {Element} */ node) => {
    if (node.tagName === "A" && node.hasAttribute("href")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
  });
  return purifier;
}

/** @param {string} s */
function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    // Raw HTML written in the Markdown (a log line quoted by the model) is shown as the text it is.
    html(/** @type {any} */ token) { return escapeHtml(token.text || token.raw || ""); },
    // An image would fetch its URL when rendered (a beacon): show it as a link instead.
    image(/** @type {any} */ token) {
      const label = escapeHtml(token.text || token.href || "image");
      return SAFE_URL.test(token.href || "") ? `<a href="${escapeHtml(token.href)}">${label}</a>` : label;
    },
  },
});

/** Sanitize an HTML string into a DOM fragment (strict allow-list above). @param {string} html @returns {DocumentFragment} */
export function htmlFragment(html) {
  return getPurifier().sanitize(neutralBidi(html ?? ""), CONFIG);
}

/** Markdown (from a model or a log) as HTML before sanitizing: raw HTML escaped, images as links, bidi
 * controls as escapes. Only ever used through `markdownFragment`. @param {string} text @returns {string} */
export function markdownHtml(text) {
  try {
    return /** @type {string} */ (marked.parse(neutralBidi(text ?? "")));
  } catch {
    return `<pre>${escapeHtml(neutralBidi(text ?? ""))}</pre>`;
  }
}

/** Render Markdown (from a model or a log) into a sanitized DOM fragment. @param {string} text @returns {DocumentFragment} */
export function markdownFragment(text) {
  return htmlFragment(markdownHtml(text));
}
