/* The "autocomplete" editor: an ARIA 1.2 combobox with a listbox popup.
 *
 * It searches as the user types (after a short pause), lets the arrow keys, Home, End,
 * Enter and Escape work as the ARIA pattern says, and keeps the chosen value in a
 * hidden input that the form posts. When a field it depends on changes, it keeps the
 * chosen value only if it is still offered.
 */

import { ConnectedField, el, isComplete } from "./editors.js";

const DEBOUNCE_MS = 250;
const SEARCH_LIMIT = 50;

export class ComboboxField extends ConnectedField {
  constructor(root, fields) {
    super(root, fields);
    this.input = root.querySelector("[role=combobox]");
    this.listbox = root.querySelector("[role=listbox]");
    this.hidden = root.querySelector("[data-value-input]");
    this.chosenLabel = this.input.value;
    this.options = [];
    this.active = -1;
  }

  values() {
    return this.hidden.value ? [this.hidden.value] : [];
  }

  setup() {
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(this.input.value), DEBOUNCE_MS);
    });
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.input.addEventListener("blur", () => {
      this.cancel();
      this.close();
      if (this.input.value.trim() === "") this.choose(null);
      else this.input.value = this.chosenLabel;
    });
    this.listbox.addEventListener("mousedown", (event) => event.preventDefault());
    this.listbox.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.choose(this.options[Number(option.dataset.index)]);
    });
  }

  isOpen() { return !this.listbox.hidden; }

  open() {
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.active = -1;
    // "N matches; use the arrow keys" only makes sense while the list is open.
    if (!/\bis-(error|info|loading)\b/.test(this.status.className)) this.say("", "");
  }

  search(text) {
    this.busy(true);
    return this.request(this.params({ q: text, limit: SEARCH_LIMIT })).then((body) => {
      if (body === null) return;
      this.busy(false);
      this.render(body.options);
      if (body.message) { this.say(body.message, "info"); this.close(); }
      else if (!body.options.length) { this.say("No matches for “" + text + "”.", "info"); this.close(); }
      else {
        const more = body.truncated ? " (the datasource has more; type more to narrow)" : "";
        this.say(body.total + " match" + (body.total === 1 ? "" : "es") + more + "; use the arrow keys to choose.", "");
        if (document.activeElement === this.input) this.open();
      }
    }, (error) => { this.fail(error); this.close(); });
  }

  render(options) {
    this.options = options.map((o) => ({ value: String(o.value), label: String(o.label) }));
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
    this.listbox.textContent = "";
    this.options.forEach((option, index) => {
      const item = el("li", "connect-option", option.label);
      item.id = this.key + "-option-" + index;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.dataset.index = String(index);
      if (option.value === this.hidden.value) item.classList.add("is-chosen");
      this.listbox.appendChild(item);
    });
  }

  highlight(index) {
    if (!this.options.length) return;
    index = Math.max(0, Math.min(index, this.options.length - 1));
    const previous = this.listbox.querySelector("[aria-selected=true]");
    if (previous) previous.setAttribute("aria-selected", "false");
    const item = this.listbox.children[index];
    item.setAttribute("aria-selected", "true");
    this.input.setAttribute("aria-activedescendant", item.id);
    item.scrollIntoView({ block: "nearest" });
    this.active = index;
  }

  choose(option) {
    const before = this.hidden.value;
    this.hidden.value = option ? option.value : "";
    this.chosenLabel = option ? option.label : "";
    this.input.value = this.chosenLabel;
    this.close();
    if (before !== this.hidden.value) this.changed();
  }

  onKey(event) {
    const open = this.isOpen();
    const last = this.options.length - 1;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (open) this.highlight(this.active + 1);
        else if (this.options.length) { this.open(); this.highlight(0); }
        else this.search(this.input.value);
        break;
      case "ArrowUp":
        event.preventDefault();
        if (open) this.highlight(this.active <= 0 ? 0 : this.active - 1);
        else if (this.options.length) { this.open(); this.highlight(last); }
        break;
      case "Home":
        if (open && this.options.length) { event.preventDefault(); this.highlight(0); }
        break;
      case "End":
        if (open && this.options.length) { event.preventDefault(); this.highlight(last); }
        break;
      case "Enter":
        if (open) {
          event.preventDefault();  // choosing an option must not submit the form
          if (this.active >= 0) this.choose(this.options[this.active]);
          else this.close();
        }
        break;
      case "Escape":
        this.escape(event, open);
        break;
      default:
        break;
    }
  }

  /* Open list: close it and keep the choice. Closed, while editing: undo the edit.
     Closed, showing the choice: clear it (the ARIA pattern's option). */
  escape(event, open) {
    this.cancel();
    if (open) { event.preventDefault(); this.close(); this.input.value = this.chosenLabel; }
    else if (this.input.value !== this.chosenLabel) { event.preventDefault(); this.input.value = this.chosenLabel; }
    else if (this.input.value) { event.preventDefault(); this.choose(null); }
  }

  /* Only a change of a field it depends on asks the API: is the chosen value still offered? */
  refresh(reason) {
    this.options = [];
    this.listbox.textContent = "";
    if (reason !== "dependency") return Promise.resolve();
    if (!this.hidden.value) { this.say("", ""); return Promise.resolve(); }
    const q = this.usesUserInput ? this.hidden.value : undefined;
    this.busy(true);
    return this.request(this.params({ q: q })).then((body) => {
      if (body === null) return;
      this.busy(false);
      const offered = body.options.some((o) => String(o.value) === this.hidden.value);
      if (offered || (!isComplete(body) && !body.message)) { this.say("", ""); return; }
      this.choose(null);
      this.say(body.message || "The previous value is no longer offered and was cleared.", "info");
    }, (error) => this.fail(error));
  }
}
