// The widget message contract on the JS side: js/messages.json is generated from
// loop_jupyter/widgets/messages.py (the same schemas Python validates with), and rpc.js checks every
// request it sends, every reply and every push it receives against it.
import contract from "./messages.json";

/** @param {any} value @param {any} spec @returns {boolean} */
function matches(value, spec) {
  if (spec.anyOf) return spec.anyOf.some((/** @type {any} */ s) => matches(value, s));
  if (spec.enum && !spec.enum.includes(value)) return false;
  if (spec.const !== undefined && value !== spec.const) return false;
  switch (spec.type) {
    case "string": return typeof value === "string";
    case "boolean": return typeof value === "boolean";
    case "integer": return Number.isInteger(value);
    case "number": return typeof value === "number";
    case "null": return value === null;
    case "array": return Array.isArray(value) && (!spec.items || value.every((v) => matches(v, spec.items)));
    case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
    default: return true;
  }
}

/** Why a request breaks the contract, or "" when it keeps it.
 * @param {string} widget @param {string} type @param {Record<string, any>} body */
export function requestProblem(widget, type, body) {
  const spec = contract.widgets[widget] && contract.widgets[widget].requests[type];
  if (!spec) return `${widget} has no request type "${type}"`;
  for (const name of spec.required) if (!(name in body)) return `"${type}" request lacks "${name}"`;
  for (const [name, value] of Object.entries(body)) {
    const field = spec.properties[name];
    if (!field) return `"${type}" request has no field "${name}"`;
    if (value !== undefined && !matches(value, field)) return `"${type}" request: "${name}" has the wrong type`;
  }
  return "";
}

/** Why a successful reply breaks the contract, or "".
 * @param {string} widget @param {string} type @param {Record<string, any>} reply */
export function replyProblem(widget, type, reply) {
  const spec = contract.widgets[widget].requests[type];
  const missing = spec.reply.filter((/** @type {string} */ name) => !(name in reply));
  return missing.length ? `"${type}" reply lacks ${missing.join(", ")}` : "";
}

/** Why a push (a message without an id) breaks the contract, or "".
 * @param {string} widget @param {any} msg */
export function pushProblem(widget, msg) {
  const fields = msg && contract.widgets[widget].pushes[msg.type];
  if (!fields) return `unknown message type "${msg && msg.type}"`;
  const missing = fields.filter((/** @type {string} */ name) => !(name in msg));
  if (missing.length) return `"${msg.type}" message lacks ${missing.join(", ")}`;
  if (msg.type === "event") {
    if (!contract.events.includes(msg.event)) return `unknown event "${msg.event}"`;
    const artifact = msg.data && msg.data.artifact;
    if (artifact && !contract.card_kinds.includes(artifact.kind)) return `unknown card kind "${artifact.kind}"`;
    const usage = msg.data && msg.data.usage;
    if (usage != null) {
      const problem = usageProblem(usage);
      if (problem) return problem;
    }
  }
  return "";
}

/** Why a done event's usage (the context line's numbers) breaks the contract, or "".
 * @param {any} usage */
export function usageProblem(usage) {
  if (usage === null || typeof usage !== "object") return "usage is not an object";
  for (const name of contract.usage.required) if (!(name in usage)) return `usage lacks "${name}"`;
  for (const [name, value] of Object.entries(usage)) {
    const field = contract.usage.properties[name];
    if (!field) return `usage has no field "${name}"`;
    if (!matches(value, field)) return `usage: "${name}" has the wrong type`;
  }
  return "";
}

export const CARD_KINDS = contract.card_kinds;

const MODEL_NOTES = contract.model_notes.map((/** @type {string} */ p) => new RegExp(p, "g"));

/** Answer text as shown: without the notes about an action's state written for the model (the
 * action's card shows its state, and follows it). @param {string} text */
export function displayText(text) {
  let out = text;
  for (const re of MODEL_NOTES) out = out.replace(re, "");
  return out;
}
