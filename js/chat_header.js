// The chat's header: title, trace-scope chip, data sources (+ Context), model picker, settings.
// Everything here follows synced traits; `sync` redraws it from the model.
import { h } from "./dom.js";

/** @param {any} model @param {{request: Function}} rpc */
export function chatHeader(model, rpc) {
  const modelSelect = /** @type {HTMLSelectElement} */ (h("select", { class: "lj-select", title: "Model", "aria-label": "Model" }));
  modelSelect.addEventListener("change", () => { model.set("model", modelSelect.value); model.save_changes(); });
  const contextBtn = h("button", { class: "lj-btn", title: "Choose the data sources Loop may use" }, "+ Context");
  const settingsBtn = h("button", { class: "lj-btn lj-icon-btn", title: "Settings", "aria-label": "Settings" }, "⚙");
  const contextPop = h("div", { class: "lj-popover lj-context-pop", hidden: true });
  const settingsPop = h("div", { class: "lj-popover lj-settings-pop", hidden: true });
  contextBtn.addEventListener("click", () => { contextPop.hidden = !contextPop.hidden; settingsPop.hidden = true; });
  settingsBtn.addEventListener("click", () => { settingsPop.hidden = !settingsPop.hidden; contextPop.hidden = true; });
  const scopeChip = h("span", { class: "lj-chip lj-scope-chip", hidden: true });
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

  /** Usable models first; the others disabled, each saying what enables it (its key variable). */
  function syncModels() {
    const current = model.get("model");
    const models = model.get("models") || [];
    /** @type {Map<string, string>} model -> the key variable it needs */
    const needs = new Map();
    for (const [key, names] of Object.entries(model.get("locked_models") || {})) for (const n of /** @type {string[]} */ (names)) needs.set(n, key);
    const hint = (/** @type {string} */ key) => `set ${key} in the kernel's environment or pass Loop(api_key=...)`;
    const option = (/** @type {string} */ m) => needs.has(m) && m !== current
      ? h("option", { value: m, disabled: true, title: `Needs a key: ${hint(needs.get(m))}`, class: "lj-model-locked" }, `${m} — needs ${needs.get(m)}`)
      : h("option", { value: m, selected: m === current }, m);
    const usable = models.filter((/** @type {string} */ m) => !needs.has(m) || m === current);
    const locked = models.filter((/** @type {string} */ m) => needs.has(m) && m !== current);
    modelSelect.replaceChildren(
      ...(locked.length ? [h("optgroup", { label: "Usable here" }, usable.map(option))] : usable.map(option)),
      ...(locked.length ? [h("optgroup", { label: "Need a key (not set in this kernel)" }, locked.map(option))] : []),
    );
    if (current && !models.includes(current)) modelSelect.prepend(h("option", { value: current, selected: true }, current));
    modelSelect.title = locked.length ? `Model. Others: ${[...new Set(needs.values())].map(hint).join("; ")}` : "Model";
  }

  /** @param {string} name @param {Set<string>} enabled */
  function sourceLine(name, enabled) {
    return h("label", { class: "lj-check-line" },
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
      " ", name);
  }

  function syncSources() {
    const sources = model.get("sources");
    const enabled = new Set(model.get("enabled_sources"));
    contextBtn.textContent = `+ Context${enabled.size ? ` (${enabled.size})` : ""}`;
    contextPop.replaceChildren(
      h("div", { class: "lj-pop-title" }, "Data sources Loop may read"),
      ...(sources.length
        ? sources.map((/** @type {string} */ name) => sourceLine(name, enabled))
        : [h("div", { class: "lj-muted" }, "Only the logs. Pass sources={name: frame} to Loop to add more.")]),
    );
  }

  function syncSettings() {
    settingsPop.replaceChildren(
      h("div", { class: "lj-pop-title" }, "Settings"),
      h("label", { class: "lj-check-line" },
        h("input", {
          type: "checkbox", class: "lj-auto-accept", checked: model.get("auto_accept"),
          onchange: (/** @type {Event} */ e) => { model.set("auto_accept", /** @type {HTMLInputElement} */ (e.target).checked); model.save_changes(); },
        }),
        " Auto-accept actions (save datasets and scorers without asking)"),
    );
  }

  function syncScope() {
    const scope = model.get("scope");
    scopeChip.hidden = !scope;
    scopeChip.title = scope ? `Questions are about trace ${scope} until you leave it` : "";
    scopeChip.replaceChildren(
      `trace ${String(scope).slice(0, 12)}`,
      h("button", { class: "lj-chip-x", title: "Stop scoping to this trace", onclick: () => rpc.request("scope", { root_span_id: null }) }, "✕"),
    );
  }

  function sync() {
    syncModels();
    syncSources();
    syncSettings();
    syncScope();
  }

  return { header, contextPop, settingsPop, sync };
}
