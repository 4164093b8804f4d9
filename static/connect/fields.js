/* Connected fields on an issue form (markup: templates/connect/fields.html).
 *
 * Each field loads its options from the plugin's options endpoint, passing the
 * values on screen of the fields it depends on (deps.connected_item_N) and the
 * form's summary and description. When a field it depends on changes, it reloads
 * and clears a value that is no longer offered. Autocomplete fields search as the
 * user types (an ARIA 1.2 combobox). Nothing is stored here: the form posts the
 * values. Upstream text is only ever written with textContent.
 */
(function () {
  "use strict";

  var LIMIT = 200;
  var DEBOUNCE_MS = 250;
  var fields = new Map();

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function sameValues(a, b) {
    return a.length === b.length && a.every(function (v, i) { return v === b[i]; });
  }

  function ConnectedField(root) {
    this.root = root;
    this.key = root.dataset.fieldKey;
    this.editor = root.dataset.editor;
    this.url = root.dataset.optionsUrl;
    this.issue = root.dataset.issue || "";
    this.dependsOn = (root.dataset.dependsOn || "").split(/\s+/).filter(Boolean);
    this.usesUserInput = root.dataset.usesUserInput === "true";
    this.status = root.querySelector(".connect-status");
    this.form = root.closest("form");
    this.seq = 0;
    this.controller = null;
  }

  /* The values on screen, as strings. */
  ConnectedField.prototype.values = function () {
    if (this.editor === "autocomplete") {
      var hidden = this.root.querySelector("[data-value-input]");
      return hidden.value ? [hidden.value] : [];
    }
    if (this.editor === "readonly") {
      var out = this.root.querySelector("output");
      return out.dataset.value ? [out.dataset.value] : [];
    }
    var select = this.root.querySelector("select");
    return Array.prototype.filter.call(select.options, function (o) { return o.selected && o.value !== ""; })
      .map(function (o) { return o.value; });
  };

  ConnectedField.prototype.params = function (extra) {
    var params = new URLSearchParams();
    if (this.issue) params.set("issue", this.issue);
    params.set("limit", String((extra && extra.limit) || LIMIT));
    this.dependsOn.forEach(function (dep) {
      var other = fields.get(dep);
      // A field not on this form (or read-only) keeps the issue's stored value.
      if (!other || other.editor === "readonly") return;
      var values = other.values();
      if (!values.length) params.append("deps." + dep, "");
      values.forEach(function (v) { params.append("deps." + dep, v); });
    });
    if (this.form) {
      ["summary", "description"].forEach(function (name) {
        var input = this.form.elements.namedItem(name);
        if (input && typeof input.value === "string") params.set("deps." + name, input.value);
      }, this);
    }
    if (extra && typeof extra.q === "string") params.set("q", extra.q);
    return params;
  };

  ConnectedField.prototype.say = function (text, kind) {
    this.status.textContent = "";
    this.status.className = "connect-status field-help" + (kind ? " is-" + kind : "");
    if (kind === "loading") {
      var spinner = el("span", "connect-spinner");
      spinner.setAttribute("aria-hidden", "true");
      this.status.appendChild(spinner);
    }
    if (text) this.status.appendChild(document.createTextNode(text));
  };

  ConnectedField.prototype.busy = function (on) {
    this.root.setAttribute("aria-busy", on ? "true" : "false");
    if (on) this.say("Loading…", "loading");
  };

  /* Resolves to the JSON answer, or null when a newer request replaced this one.
     A 503 ("… is busy") is asked again after its Retry-After, twice at most: by
     then the call that kept the datasource busy has usually filled the cache. */
  ConnectedField.prototype.request = function (params, retries) {
    var self = this;
    var seq = ++this.seq;
    if (retries === undefined) retries = 2;
    if (this.controller) this.controller.abort();
    var controller = new AbortController();
    this.controller = controller;
    return fetch(this.url + "?" + params.toString(), {
      headers: { Accept: "application/json" }, credentials: "same-origin", signal: controller.signal
    }).then(function (response) {
      if (response.status === 503 && retries > 0) {
        var delay = Math.min(parseInt(response.headers.get("Retry-After"), 10) || 1, 5) * 1000;
        return new Promise(function (resolve) { setTimeout(resolve, delay); }).then(function () {
          return seq === self.seq ? self.request(params, retries - 1) : null;
        });
      }
      return response.json().catch(function () { return null; }).then(function (body) {
        if (seq !== self.seq) return null;
        if (!response.ok || !body || !Array.isArray(body.options)) {
          throw new Error((body && body.error) || "the server answered HTTP " + response.status + ".");
        }
        return body;
      });
    }, function (error) {
      if (controller.signal.aborted || seq !== self.seq) return null;
      throw new Error("the server did not answer (" + (error && error.message ? error.message : "network error") + ").");
    });
  };

  /* Forget a pending search and the request in flight (their answers are ignored). */
  ConnectedField.prototype.cancel = function () {
    clearTimeout(this.timer);
    this.seq++;
    if (this.controller) this.controller.abort();
    this.controller = null;
    if (this.root.getAttribute("aria-busy") === "true") {
      this.busy(false);
      this.say("", "");
    }
  };

  ConnectedField.prototype.fail = function (error) {
    this.busy(false);
    var text = String(error.message || "").trim();
    if (text && !/[.!?)]$/.test(text)) text += ".";
    this.say("Could not load options: " + text, "error");
  };

  ConnectedField.prototype.changed = function () {
    this.root.dispatchEvent(new CustomEvent("connect-change", { bubbles: false }));
  };

  /* reason: "initial" (keep the stored value), "refresh" (keep), "dependency" (clear
   * a value that is no longer offered). */
  ConnectedField.prototype.refresh = function (reason) {
    if (this.editor === "autocomplete") return this.recheck(reason);
    if (this.editor === "readonly") return this.loadLive();
    return this.loadSelect(reason);
  };

  ConnectedField.prototype.loadSelect = function (reason) {
    var self = this;
    var select = this.root.querySelector("select");
    this.busy(true);
    return this.request(this.params()).then(function (body) {
      if (body === null) return;
      self.busy(false);
      var before = self.values();
      var offered = new Map(body.options.map(function (o) { return [String(o.value), String(o.label)]; }));
      var complete = body.total <= body.options.length;
      var keep = before.filter(function (v) {
        return offered.has(v) || reason !== "dependency" || (!complete && !body.message);
      });
      var oldLabels = new Map(Array.prototype.map.call(select.options, function (o) { return [o.value, o.text]; }));
      while (select.options.length) select.remove(0);
      if (!select.multiple) select.add(new Option("None", ""));
      offered.forEach(function (label, value) {
        select.add(new Option(label, value, false, keep.indexOf(value) >= 0));
      });
      keep.forEach(function (value) {
        if (!offered.has(value)) select.add(new Option(oldLabels.get(value) || value, value, false, true));
      });
      if (!select.multiple) select.value = keep.length ? keep[0] : "";
      var cleared = !sameValues(before, self.values());
      if (body.message) self.say(body.message, "info");
      else if (cleared) self.say("The previous value is no longer offered and was cleared.", "info");
      else if (!body.options.length) self.say("No options.", "info");
      else if (!complete) self.say("Showing " + body.options.length + " of " + body.total + " options.", "");
      else self.say("", "");
      if (cleared) self.changed();
    }, function (error) { self.fail(error); });
  };

  ConnectedField.prototype.loadLive = function () {
    var self = this;
    var live = this.root.querySelector("[data-live]");
    this.busy(true);
    return this.request(this.params({ limit: 1 })).then(function (body) {
      if (body === null) return;
      self.busy(false);
      self.say("", "");
      live.hidden = false;
      if (body.message) live.textContent = body.message;
      else if (body.options.length) live.textContent = "Live value: " + body.options[0].label;
      else live.textContent = "The API gives no value for this issue now.";
    }, function (error) { self.fail(error); });
  };

  /* --- autocomplete: an ARIA 1.2 combobox with a listbox popup ------------------ */

  ConnectedField.prototype.setupCombobox = function () {
    var self = this;
    this.input = this.root.querySelector("[role=combobox]");
    this.listbox = this.root.querySelector("[role=listbox]");
    this.hidden = this.root.querySelector("[data-value-input]");
    this.chosenLabel = this.input.value;
    this.options = [];
    this.active = -1;
    this.timer = null;

    this.input.addEventListener("input", function () {
      clearTimeout(self.timer);
      self.timer = setTimeout(function () { self.search(self.input.value); }, DEBOUNCE_MS);
    });
    this.input.addEventListener("keydown", function (event) { self.onKey(event); });
    this.input.addEventListener("blur", function () {
      self.cancel();
      self.close();
      if (self.input.value.trim() === "") self.choose(null);
      else self.input.value = self.chosenLabel;
    });
    this.listbox.addEventListener("mousedown", function (event) { event.preventDefault(); });
    this.listbox.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) self.choose(self.options[Number(option.dataset.index)]);
    });
  };

  ConnectedField.prototype.isOpen = function () { return !this.listbox.hidden; };

  ConnectedField.prototype.open = function () {
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  };

  ConnectedField.prototype.close = function () {
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.active = -1;
    // "N matches; use the arrow keys" only makes sense while the list is open.
    if (!/\bis-(error|info|loading)\b/.test(this.status.className)) this.say("", "");
  };

  ConnectedField.prototype.search = function (text) {
    var self = this;
    this.busy(true);
    return this.request(this.params({ q: text, limit: 50 })).then(function (body) {
      if (body === null) return;
      self.busy(false);
      self.render(body.options);
      if (body.message) { self.say(body.message, "info"); self.close(); }
      else if (!body.options.length) { self.say("No matches for “" + text + "”.", "info"); self.close(); }
      else {
        self.say(body.total + " match" + (body.total === 1 ? "" : "es") + "; use the arrow keys to choose.", "");
        if (document.activeElement === self.input) self.open();
      }
    }, function (error) { self.fail(error); self.close(); });
  };

  ConnectedField.prototype.render = function (options) {
    var self = this;
    this.options = options.map(function (o) { return { value: String(o.value), label: String(o.label) }; });
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
    this.listbox.textContent = "";
    this.options.forEach(function (option, index) {
      var item = el("li", "connect-option", option.label);
      item.id = self.key + "-option-" + index;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.dataset.index = String(index);
      if (option.value === self.hidden.value) item.classList.add("is-chosen");
      self.listbox.appendChild(item);
    });
  };

  ConnectedField.prototype.highlight = function (index) {
    if (!this.options.length) return;
    index = Math.max(0, Math.min(index, this.options.length - 1));
    var previous = this.listbox.querySelector("[aria-selected=true]");
    if (previous) previous.setAttribute("aria-selected", "false");
    var item = this.listbox.children[index];
    item.setAttribute("aria-selected", "true");
    this.input.setAttribute("aria-activedescendant", item.id);
    item.scrollIntoView({ block: "nearest" });
    this.active = index;
  };

  ConnectedField.prototype.choose = function (option) {
    var before = this.hidden.value;
    this.hidden.value = option ? option.value : "";
    this.chosenLabel = option ? option.label : "";
    this.input.value = this.chosenLabel;
    this.close();
    if (before !== this.hidden.value) this.changed();
  };

  ConnectedField.prototype.onKey = function (event) {
    var open = this.isOpen();
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!open) {
          if (this.options.length) { this.open(); this.highlight(0); } else this.search(this.input.value);
        } else this.highlight(this.active + 1);
        break;
      case "ArrowUp":
        event.preventDefault();
        if (!open && this.options.length) { this.open(); this.highlight(this.options.length - 1); }
        else if (open) this.highlight(this.active <= 0 ? 0 : this.active - 1);
        break;
      case "Home":
        if (open && this.options.length) { event.preventDefault(); this.highlight(0); }
        break;
      case "End":
        if (open && this.options.length) { event.preventDefault(); this.highlight(this.options.length - 1); }
        break;
      case "Enter":
        if (open) {
          event.preventDefault();  // choosing an option must not submit the form
          if (this.active >= 0) this.choose(this.options[this.active]);
          else this.close();
        }
        break;
      case "Escape":
        // Open list: close it and keep the choice. Closed, while editing: undo the
        // edit. Closed, showing the choice: clear it (the ARIA pattern's option).
        this.cancel();
        if (open) { event.preventDefault(); this.close(); this.input.value = this.chosenLabel; }
        else if (this.input.value !== this.chosenLabel) { event.preventDefault(); this.input.value = this.chosenLabel; }
        else if (this.input.value) { event.preventDefault(); this.choose(null); }
        break;
      default:
        break;
    }
  };

  /* A field it depends on changed: keep the value only if it is still offered. */
  ConnectedField.prototype.recheck = function (reason) {
    var self = this;
    this.options = [];
    this.listbox.textContent = "";
    if (reason !== "dependency") return Promise.resolve();
    if (!this.hidden.value) { this.say("", ""); return Promise.resolve(); }
    var q = this.usesUserInput ? this.hidden.value : undefined;
    this.busy(true);
    return this.request(this.params({ q: q })).then(function (body) {
      if (body === null) return;
      self.busy(false);
      var offered = body.options.some(function (o) { return String(o.value) === self.hidden.value; });
      var complete = body.total <= body.options.length;
      if (offered || (!complete && !body.message)) { self.say("", ""); return; }
      self.choose(null);
      self.say(body.message || "The previous value is no longer offered and was cleared.", "info");
    }, function (error) { self.fail(error); });
  };

  /* --- wiring ------------------------------------------------------------------ */

  function init() {
    var roots = document.querySelectorAll("[data-connect-field]");
    Array.prototype.forEach.call(roots, function (root) {
      var field = new ConnectedField(root);
      fields.set(field.key, field);
      if (field.editor === "autocomplete") field.setupCombobox();
      else if (field.editor !== "readonly") {
        root.querySelector("select").addEventListener("change", function () {
          // A note about the previous value ("…was cleared") is stale once a new one is picked.
          if (/\bis-info\b/.test(field.status.className) && field.values().length) field.say("", "");
          field.changed();
        });
      }
    });
    fields.forEach(function (field) {
      field.dependsOn.forEach(function (dep) {
        var other = fields.get(dep);
        if (other) other.root.addEventListener("connect-change", function () { field.refresh("dependency"); });
      });
    });
    var forms = new Set();
    fields.forEach(function (field) { if (field.form) forms.add(field.form); });
    forms.forEach(function (form) {
      ["summary", "description"].forEach(function (name) {
        var input = form.elements.namedItem(name);
        if (!input || !input.addEventListener) return;
        input.addEventListener("change", function () {
          fields.forEach(function (field) { if (field.form === form) field.refresh("refresh"); });
        });
      });
    });
    fields.forEach(function (field) { field.refresh("initial"); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
