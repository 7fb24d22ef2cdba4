// A paged, sortable table whose pages come from Python (fetchPage returns {rows, total}).
import { formatCell, h } from "./dom.js";

/**
 * @typedef {{
 *   columns: string[], types?: string[], rows: any[][], total: number, pageSize?: number,
 *   fetchPage: (offset: number, limit: number, sort: string | null, descending: boolean) => Promise<{rows: any[][], total: number}>,
 *   sort?: string | null, descending?: boolean, keyColumn?: string, selectable?: boolean,
 *   selected?: Set<string>, onSelect?: (ids: string[], on: boolean) => void, onOpen?: (key: string) => void,
 *   hidden?: string[], wide?: string[], labels?: Record<string, string>,
 *   rowAction?: {label: string, title: string, onClick: (key: string, tr: HTMLElement, span: number) => void}
 * }} TableOptions
 */

/** @param {TableOptions} opts */
export function pagedTable(opts) {
  const pageSize = opts.pageSize || 10;
  const types = opts.types || opts.columns.map(() => "text");
  const keyIndex = opts.keyColumn ? opts.columns.indexOf(opts.keyColumn) : -1;
  const selected = opts.selected || new Set();
  let rows = opts.rows;
  let total = opts.total;
  let offset = 0;
  let sort = opts.sort ?? null;
  let descending = opts.descending ?? false;
  let busy = false;

  const status = h("span", { class: "lj-table-status" });
  const prev = h("button", { class: "lj-btn lj-btn-small", title: "Previous page", onclick: () => go(offset - pageSize) }, "‹");
  const next = h("button", { class: "lj-btn lj-btn-small", title: "Next page", onclick: () => go(offset + pageSize) }, "›");
  const error = h("span", { class: "lj-error-inline" });
  const thead = h("thead");
  const tbody = h("tbody");
  const table = h("table", { class: "lj-table" }, thead, tbody);
  const root = h(
    "div",
    { class: "lj-table-wrap" },
    h("div", { class: "lj-table-scroll" }, table),
    h("div", { class: "lj-table-footer" }, prev, status, next, error),
  );

  function header() {
    thead.replaceChildren(
      h(
        "tr",
        null,
        opts.selectable ? h("th", { class: "lj-check" }) : null,
        opts.rowAction ? h("th", { class: "lj-row-action" }) : null,
        opts.columns.map((name, i) =>
          opts.hidden && opts.hidden.includes(name)
            ? null
            : h(
                "th",
                {
                  class: `lj-sortable lj-${types[i]}` + (sort === name ? " lj-sorted" : ""),
                  title: `Sort by ${(opts.labels && opts.labels[name]) || name}`,
                  "data-column": name,
                  onclick: () => {
                    if (sort === name) descending = !descending;
                    else { sort = name; descending = types[i] === "number" || types[i] === "time"; }
                    go(0);
                  },
                },
                (opts.labels && opts.labels[name]) || name,
                sort === name ? h("span", { class: "lj-sort-arrow" }, descending ? " ▾" : " ▴") : null,
              ),
        ),
      ),
    );
  }

  function body() {
    const span = opts.columns.filter((c) => !(opts.hidden && opts.hidden.includes(c))).length + (opts.selectable ? 1 : 0) + (opts.rowAction ? 1 : 0);
    tbody.replaceChildren(
      ...rows.map((row) => {
        const key = keyIndex >= 0 ? String(row[keyIndex]) : "";
        const check = opts.selectable
          ? h("input", {
              type: "checkbox",
              checked: selected.has(key),
              "aria-label": `select ${key}`,
              onclick: (/** @type {Event} */ e) => e.stopPropagation(),
              onchange: (/** @type {Event} */ e) => {
                const on = /** @type {HTMLInputElement} */ (e.target).checked;
                if (on) selected.add(key); else selected.delete(key);
                tr.classList.toggle("lj-selected", on);
                opts.onSelect && opts.onSelect([key], on);
              },
            })
          : null;
        const tr = h(
          "tr",
          {
            class: (selected.has(key) ? "lj-selected" : "") + (opts.onOpen ? " lj-openable" : ""),
            "data-key": key,
            onclick: opts.onOpen ? () => opts.onOpen && opts.onOpen(key) : null,
          },
          opts.selectable ? h("td", { class: "lj-check" }, check) : null,
          opts.rowAction ? h("td", { class: "lj-row-action" }, h("button", {
            class: "lj-btn lj-btn-small lj-row-btn", title: opts.rowAction.title,
            onclick: (/** @type {Event} */ e) => { e.stopPropagation(); opts.rowAction && opts.rowAction.onClick(key, tr, span); },
          }, opts.rowAction.label)) : null,
          row.map((value, i) =>
            opts.hidden && opts.hidden.includes(opts.columns[i])
              ? null
              : h(
                  "td",
                  {
                    class: `lj-${types[i]}` + (opts.wide && opts.wide.includes(opts.columns[i]) ? " lj-wide" : ""),
                    title: value == null ? "" : String(value),
                  },
                  formatCell(value, types[i]),
                ),
          ),
        );
        return tr;
      }),
    );
    const last = Math.min(offset + rows.length, total);
    status.textContent = total ? `${(offset + 1).toLocaleString()}–${last.toLocaleString()} of ${total.toLocaleString()}` : "no rows";
    /** @type {HTMLButtonElement} */ (prev).disabled = busy || offset <= 0;
    /** @type {HTMLButtonElement} */ (next).disabled = busy || offset + pageSize >= total;
  }

  /** @param {number} target */
  async function go(target) {
    if (busy) return;
    busy = true;
    error.textContent = "";
    root.classList.add("lj-loading");
    try {
      const page = await opts.fetchPage(Math.max(0, target), pageSize, sort, descending);
      rows = page.rows;
      total = page.total;
      offset = Math.max(0, target);
    } catch (err) {
      error.textContent = String(/** @type {Error} */ (err).message || err);
    } finally {
      busy = false;
      root.classList.remove("lj-loading");
      header();
      body();
    }
  }

  header();
  body();
  return {
    el: root,
    /** Refetch from the first page (after a new filter). */
    reload: () => go(0),
    refresh: () => go(offset),
    selected,
    get offset() { return offset; },
  };
}
