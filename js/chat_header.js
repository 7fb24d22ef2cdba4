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
    /** @type {{name: string, usable: boolean, hint: string}[]} */
    const given = model.get("model_choices") || [];
    const choices = given.length
      ? given
      : (model.get("models") || []).map((/** @type {string} */ name) => ({ name, usable: true, hint: "" }));
    const option = (/** @type {any} */ c) => h("option", {
      value: c.name, selected: c.name === current, disabled: !c.usable && c.name !== current, title: c.hint,
      class: c.usable ? "lj-model-usable" : "lj-model-locked",
    }, c.usable ? c.name : `${c.name} — ${c.hint.replace(/^Needs a key: /, "")}`);
    const usable = choices.filter((c) => c.usable || c.name === current);
    const locked = choices.filter((c) => !c.usable && c.name !== current);
    modelSelect.replaceChildren(
      ...(locked.length ? [h("optgroup", { label: "Usable here" }, usable.map(option))] : usable.map(option)),
      ...(locked.length ? [h("optgroup", { label: "Need a key (not set in this kernel)" }, locked.map(option))] : []),
    );
    if (current && !choices.some((c) => c.name === current)) modelSelect.prepend(h("option", { value: current, selected: true }, current));
    const chosen = choices.find((c) => c.name === current);
    modelSelect.title = chosen && chosen.hint ? `Model: ${chosen.hint}` : "Model";
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
