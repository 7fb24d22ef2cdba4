// The chat's saved sessions: a header button opening the list (open, delete with a confirmation,
// save this chat under a name) and a chip saying which session and branch are live.
// Names and questions come from files anyone could have written: set as text only (dom.js `h`).
import { h } from "./dom.js";

/** @param {any} model @param {{request: Function}} rpc @param {{render: Function}} transcript */
export function chatSessions(model, rpc, transcript) {
  const button = h("button", { class: "lj-btn lj-sessions-btn", title: "Saved sessions of this folder (.loop/sessions)" }, "Sessions");
  const pop = h("div", { class: "lj-popover lj-sessions-pop", hidden: true });
  const chip = h("span", { class: "lj-chip lj-session-chip", hidden: true });
  const error = h("div", { class: "lj-error lj-small", hidden: true });

  /** @param {string} message */
  function fail(message) { error.textContent = message; error.hidden = !message; }

  /** @param {any} s @param {string} current */
  function row(s, current) {
    const when = s.last_activity ? new Date(s.last_activity).toLocaleString() : "";
    const meta = `${s.questions} question${s.questions === 1 ? "" : "s"} · ${s.branches} branch${s.branches === 1 ? "" : "es"} (live ${s.branch})${when ? ` · ${when}` : ""}${s.warnings ? ` · ${s.warnings} skipped line${s.warnings === 1 ? "" : "s"}` : ""}`;
    const open = h("button", { class: "lj-btn lj-btn-small lj-session-open", disabled: s.name === current }, s.name === current ? "Open now" : "Open");
    const del = h("button", { class: "lj-btn lj-btn-small lj-session-delete", title: `Delete ${s.name}` }, "Delete");
    const actions = h("span", { class: "lj-session-actions" }, open, del);
    const line = h("div", { class: "lj-session-row", "data-session": s.name },
      h("div", { class: "lj-session-name" }, s.name, s.name === current ? h("span", { class: "lj-muted lj-small" }, " (this chat)") : null),
      h("div", { class: "lj-muted lj-small" }, meta), actions);
    open.addEventListener("click", async () => {
      try { transcript.render(await rpc.request("open_session", { name: s.name })); pop.hidden = true; fail(""); }
      catch (err) { fail(/** @type {Error} */ (err).message); }
    });
    del.addEventListener("click", () => {
      // Deleting asks first, in place: the file is gone for good.
      const yes = h("button", { class: "lj-btn lj-btn-small lj-btn-danger lj-session-delete-yes" }, "Delete");
      const no = h("button", { class: "lj-btn lj-btn-small lj-session-delete-no" }, "Keep");
      const ask = h("span", { class: "lj-session-confirm" }, `Delete “${s.name}” for good? `, yes, no);
      actions.replaceWith(ask);
      no.addEventListener("click", () => ask.replaceWith(actions));
      yes.addEventListener("click", async () => {
        try { show(await rpc.request("delete_session", { name: s.name })); fail(""); }
        catch (err) { fail(/** @type {Error} */ (err).message); ask.replaceWith(actions); }
      });
    });
    return line;
  }

  /** @param {{sessions: any[], current: string}} reply */
  function show(reply) {
    const name = /** @type {HTMLInputElement} */ (h("input", { class: "lj-input lj-session-name-input", placeholder: "name for this chat", "aria-label": "Session name" }));
    const save = h("button", { class: "lj-btn lj-btn-small lj-session-save" }, "Save");
    save.addEventListener("click", async () => {
      try { show(await rpc.request("save_session", { name: name.value.trim() })); fail(""); }
      catch (err) { fail(/** @type {Error} */ (err).message); }
    });
    pop.replaceChildren(
      h("div", { class: "lj-pop-title" }, "Saved sessions"),
      ...(reply.sessions.length ? reply.sessions.map((s) => row(s, reply.current)) : [h("div", { class: "lj-muted lj-sessions-empty" }, "No saved session in this folder yet.")]),
      reply.current ? h("div", { class: "lj-muted lj-small" }, `This chat is saved as “${reply.current}”.`) : h("div", { class: "lj-session-save-line" }, "Save this chat as ", name, " ", save),
      error,
    );
  }

  button.addEventListener("click", async () => {
    if (!pop.hidden) { pop.hidden = true; return; }
    try { show(await rpc.request("sessions")); pop.hidden = false; }
    catch (err) { fail(/** @type {Error} */ (err).message); pop.replaceChildren(error); pop.hidden = false; }
  });

  function sync() {
    const session = model.get("session");
    const branch = model.get("branch") || { id: 1, count: 1 };
    chip.hidden = !session && branch.count <= 1;
    chip.textContent = `${session || "not saved"}${branch.count > 1 ? ` · branch ${branch.id} of ${branch.count}` : ""}`;
    chip.title = session ? `Saved in .loop/sessions/${session}.jsonl; live branch ${branch.id}` : `Live branch ${branch.id}`;
  }

  return { button, pop, chip, sync, traits: ["session", "branch"] };
}
