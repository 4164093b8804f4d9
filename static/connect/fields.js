/* Connected fields on an issue form (markup: templates/connect/fields.html).
 *
 * An ES module: the page includes only this file, with
 *   <script type="module" src="…/static/connect/fields.js"></script>
 * and it loads the rest: fields/request.js (one options request at a time),
 * fields/editors.js (select, multiselect, read-only, and what they share) and
 * fields/combobox.js (autocomplete).
 *
 * Each field loads its options from the plugin's options endpoint, passing the values
 * on screen of the fields it depends on and of the host's inputs the page names in
 * the field's data-form-fields. When a field it depends on changes, it reloads and
 * clears a value that is no longer offered; a change of one of those host inputs
 * reloads it and keeps its value. Nothing is stored here: the form posts the values.
 */

import { ComboboxField } from "./fields/combobox.js";
import { ReadonlyField, SelectField } from "./fields/editors.js";

const EDITORS = { autocomplete: ComboboxField, readonly: ReadonlyField, select: SelectField, multiselect: SelectField };

function createFields() {
  const fields = new Map();
  document.querySelectorAll("[data-connect-field]").forEach((root) => {
    const Editor = EDITORS[root.dataset.editor] || SelectField;
    const field = new Editor(root, fields);
    fields.set(field.key, field);
    field.setup();
  });
  return fields;
}

/* A dependent field reloads when a connected field it depends on changes. */
function wireDependencies(fields) {
  fields.forEach((field) => {
    field.dependsOn.forEach((dep) => {
      const other = fields.get(dep);
      if (other) other.root.addEventListener("connect-change", () => field.refresh("dependency"));
    });
  });
}

/* A change of a host input reloads every field of that form that names it. */
function wireFormInputs(fields) {
  const watched = new Map();  // input -> fields that send its value
  fields.forEach((field) => {
    field.formInputs().forEach((input) => {
      if (!input.addEventListener) return;
      if (!watched.has(input)) watched.set(input, new Set());
      watched.get(input).add(field);
    });
  });
  watched.forEach((listeners, input) => {
    input.addEventListener("change", () => listeners.forEach((field) => field.refresh("refresh")));
  });
}

function init() {
  const fields = createFields();
  wireDependencies(fields);
  wireFormInputs(fields);
  fields.forEach((field) => field.refresh("initial"));
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
