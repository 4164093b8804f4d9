/* The editors of the connected fields (markup: templates/connect/fields.html).
 *
 * ConnectedField holds what every editor shares: the parameters of an options request
 * (the values on screen of the fields it depends on as deps.connected_item_N, and of
 * the host's own inputs that the page names in data-form-fields as deps.<name>), the
 * status line, and the "connect-change" event that tells dependent fields to reload.
 * SelectField serves "select" and "multiselect", ReadonlyField shows the live value;
 * the "autocomplete" combobox is in combobox.js. Upstream text is only ever written
 * with textContent.
 */

import { OptionsRequest } from "./request.js";

const LIMIT = 200;

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function sameValues(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function words(text) {
  return (text || "").split(/\s+/).filter(Boolean);
}

/* Whether a list with these options may hold values it did not show (more than one page). */
export function isComplete(body) {
  return body.total <= body.options.length;
}

export class ConnectedField {
  /* fields: the Map of field key -> ConnectedField of the page, for dependencies. */
  constructor(root, fields) {
    this.root = root;
    this.fields = fields;
    this.key = root.dataset.fieldKey;
    this.editor = root.dataset.editor;
    this.issue = root.dataset.issue || "";
    this.project = root.dataset.project || "";  // a create screen's project (no issue yet)
    this.dependsOn = words(root.dataset.dependsOn);
    this.formFields = words(root.dataset.formFields);
    this.usesUserInput = root.dataset.usesUserInput === "true";
    this.status = root.querySelector(".connect-status");
    this.form = root.closest("form");
    this.requests = new OptionsRequest(root.dataset.optionsUrl);
    this.timer = null;
  }

  /* The values on screen, as strings (each editor reads its own control). */
  values() { return []; }

  /* Wire the editor's own controls; called once, before the first refresh. */
  setup() {}

  /* reason: "initial" (keep the stored value), "refresh" (keep), "dependency" (clear
   * a value that is no longer offered). */
  refresh(reason) { return Promise.resolve(reason); }

  params(extra) {
    const params = new URLSearchParams();
    if (this.issue) params.set("issue", this.issue);
    else if (this.project) params.set("project", this.project);
    params.set("limit", String((extra && extra.limit) || LIMIT));
    this.dependsOn.forEach((dep) => {
      const other = this.fields.get(dep);
      // A field not on this form (or read-only) keeps the issue's stored value.
      if (!other || other.editor === "readonly") return;
      const values = other.values();
      if (!values.length) params.append("deps." + dep, "");
      values.forEach((v) => params.append("deps." + dep, v));
    });
    this.formInputs().forEach((input, name) => params.set("deps." + name, input.value));
    if (extra && typeof extra.q === "string") params.set("q", extra.q);
    return params;
  }

  /* The host's inputs named in data-form-fields that are on this field's form. */
  formInputs() {
    const inputs = new Map();
    if (!this.form) return inputs;
    this.formFields.forEach((name) => {
      const input = this.form.elements.namedItem(name);
      if (input && typeof input.value === "string") inputs.set(name, input);
    });
    return inputs;
  }

  request(params) { return this.requests.send(params); }

  say(text, kind) {
    this.status.textContent = "";
    this.status.className = "connect-status field-help" + (kind ? " is-" + kind : "");
    if (kind === "loading") {
      const spinner = el("span", "connect-spinner");
      spinner.setAttribute("aria-hidden", "true");
      this.status.appendChild(spinner);
    }
    if (text) this.status.appendChild(document.createTextNode(text));
  }

  busy(on) {
    this.root.setAttribute("aria-busy", on ? "true" : "false");
    if (on) this.say("Loading…", "loading");
  }

  /* Forget a pending search and the request in flight (their answers are ignored). */
  cancel() {
    clearTimeout(this.timer);
    this.requests.cancel();
    if (this.root.getAttribute("aria-busy") === "true") {
      this.busy(false);
      this.say("", "");
    }
  }

  fail(error) {
    this.busy(false);
    let text = String(error.message || "").trim();
    if (text && !/[.!?)]$/.test(text)) text += ".";
    this.say("Could not load options: " + text, "error");
  }

  changed() {
    // The stored value's details (server-rendered) describe that value only.
    const current = this.values();
    this.root.querySelectorAll("[data-details-of]").forEach((list) => {
      list.hidden = current.indexOf(list.dataset.detailsOf) < 0;
    });
    this.root.dispatchEvent(new CustomEvent("connect-change", { bubbles: false }));
  }
}

/* "select" and "multiselect": a native <select> filled with every option offered. */
export class SelectField extends ConnectedField {
  constructor(root, fields) {
    super(root, fields);
    this.select = root.querySelector("select");
  }

  values() {
    return Array.prototype.filter.call(this.select.options, (o) => o.selected && o.value !== "")
      .map((o) => o.value);
  }

  setup() {
    this.select.addEventListener("change", () => {
      // A note about the previous value ("…was cleared") is stale once a new one is picked.
      if (/\bis-info\b/.test(this.status.className) && this.values().length) this.say("", "");
      this.changed();
    });
  }

  refresh(reason) {
    this.busy(true);
    return this.request(this.params()).then((body) => {
      if (body === null) return;
      this.busy(false);
      this.show(body, reason);
    }, (error) => this.fail(error));
  }

  show(body, reason) {
    const select = this.select;
    const before = this.values();
    const offered = new Map(body.options.map((o) => [String(o.value), String(o.label)]));
    const complete = isComplete(body);
    const keep = before.filter((v) => offered.has(v) || reason !== "dependency" || (!complete && !body.message));
    const oldLabels = new Map(Array.prototype.map.call(select.options, (o) => [o.value, o.text]));
    while (select.options.length) select.remove(0);
    if (!select.multiple) select.add(new Option("None", ""));
    offered.forEach((label, value) => select.add(new Option(label, value, false, keep.indexOf(value) >= 0)));
    keep.forEach((value) => {
      if (!offered.has(value)) select.add(new Option(oldLabels.get(value) || value, value, false, true));
    });
    if (!select.multiple) select.value = keep.length ? keep[0] : "";
    const cleared = !sameValues(before, this.values());
    if (body.message) this.say(body.message, "info");
    else if (cleared) this.say("The previous value is no longer offered and was cleared.", "info");
    else if (!body.options.length) this.say("No options.", "info");
    else if (!complete) this.say("Showing " + body.options.length + " of " + body.total + " options.", "");
    else if (body.truncated) this.say("Showing the options read; the datasource has more than it was set to read.", "");
    else this.say("", "");
    if (cleared) this.changed();
  }
}

/* "readonly": the stored value as rendered, plus the value the API gives now. */
export class ReadonlyField extends ConnectedField {
  values() {
    const out = this.root.querySelector("output");
    return out.dataset.value ? [out.dataset.value] : [];
  }

  refresh() {
    const live = this.root.querySelector("[data-live]");
    this.busy(true);
    return this.request(this.params({ limit: 1 })).then((body) => {
      if (body === null) return;
      this.busy(false);
      this.say("", "");
      live.hidden = false;
      if (body.message) live.textContent = body.message;
      else if (body.options.length) live.textContent = "Live value: " + body.options[0].label;
      else live.textContent = "The API gives no value for this issue now.";
    }, (error) => this.fail(error));
  }
}
