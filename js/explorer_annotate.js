// The explorer's annotation control for the selected span: its labels (with notes) and a small form to
// add one or remove one. Every label, note and author is put in the page as text (h() appends text
// nodes), never as HTML.
import { h } from "./dom.js";

/**
 * @param {{request: (type: string, body?: any) => Promise<any>}} rpc
 * @param {string} spanId
 */
export function annotationBlock(rpc, spanId) {
  const list = h("ul", { class: "lj-annotation-list" });
  const error = h("div", { class: "lj-error lj-annotation-error", hidden: true });
  const label = /** @type {HTMLInputElement} */ (h("input", { class: "lj-input lj-annotation-label", placeholder: "label, e.g. wrong tool arguments", maxlength: 120 }));
  const note = /** @type {HTMLInputElement} */ (h("input", { class: "lj-input lj-annotation-note", placeholder: "note (optional)" }));
  const add = /** @type {HTMLButtonElement} */ (h("button", { class: "lj-btn lj-btn-small lj-annotation-add", title: "Save this label on the span (a new version of the annotations)" }, "Add label"));

  /** @param {any} reply */
  function show(reply) {
    error.hidden = true;
    list.replaceChildren(
      ...reply.annotations.map((/** @type {any} */ a) =>
        h(
          "li",
          { class: "lj-annotation" },
          h("span", { class: "lj-badge lj-annotation-name" }, a.label),
          a.note ? h("span", { class: "lj-annotation-text" }, ` ${a.note}`) : null,
          h("span", { class: "lj-muted lj-small" }, ` ${a.author || ""}`),
          h("button", { class: "lj-btn lj-btn-small lj-annotation-remove", title: "Remove this label", onclick: () => send({ action: "remove", label: a.label }) }, "✕"),
        ),
      ),
    );
  }

  /** @param {any} body */
  async function send(body) {
    add.disabled = true;
    try {
      show(await rpc.request("annotate", { span_id: spanId, ...body }));
      if (body.action === "add") { label.value = ""; note.value = ""; }
    } catch (err) {
      error.textContent = /** @type {Error} */ (err).message;
      error.hidden = false;
    } finally {
      add.disabled = false;
    }
  }

  add.addEventListener("click", () => send({ action: "add", label: label.value, note: note.value || null }));
  label.addEventListener("keydown", (e) => { if (e.key === "Enter") add.click(); });
  send({ action: "list" });
  return h("div", { class: "lj-annotations" }, h("div", { class: "lj-muted lj-small" }, "Annotations"), list, h("div", { class: "lj-filterbar" }, label, note, add), error);
}
