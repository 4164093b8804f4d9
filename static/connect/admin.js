/* Enhancements for the admin pages; each page works without them.
 *
 * - Authentication: only the chosen mode's fieldset is shown.
 * - Pagination: only the chosen mode's settings are shown.
 * - "Clear" next to a stored secret disables that secret's input.
 * - Test connection: calls the JSON API and shows the result without a reload.
 * - Configuration tester: calls the JSON API and renders every step.
 * Text from the server or an upstream is only ever written with textContent.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function postJSON(url, body) {
    var headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    var init = { method: "POST", headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }

  /* A result banner: a title line and, optionally, the reason under it. */
  function banner(kind, title, detail) {
    var div = el("div", "banner banner-" + kind);
    div.appendChild(el("p", "connect-banner-title", title));
    if (detail) div.appendChild(el("p", "connect-banner-detail", detail));
    return div;
  }

  /* "Working…" with a spinner, while a call is in flight. */
  function loading(text) {
    var div = el("div", "banner banner-info connect-loading");
    var spinner = el("span", "connect-spinner");
    spinner.setAttribute("aria-hidden", "true");
    div.appendChild(spinner);
    div.appendChild(document.createTextNode(" " + text));
    return div;
  }

  function setBusy(button, region, on) {
    button.disabled = on;
    region.setAttribute("aria-busy", on ? "true" : "false");
  }

  /* --- authentication mode -------------------------------------------------- */

  function setupAuthModes() {
    var select = document.querySelector("[data-auth-mode-select]");
    if (!select) return;
    var sets = document.querySelectorAll("[data-auth-mode]");
    function apply() {
      Array.prototype.forEach.call(sets, function (fieldset) {
        fieldset.hidden = fieldset.dataset.authMode !== select.value;
      });
    }
    select.addEventListener("change", apply);
    apply();
  }

  /* --- pagination mode ------------------------------------------------------ */

  function setupPaginationModes() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-pagination]"), function (group) {
      var select = group.querySelector("[data-pagination-mode-select]");
      if (!select) return;
      var settings = group.querySelectorAll("div[data-pagination-modes]");
      function apply() {
        Array.prototype.forEach.call(settings, function (setting) {
          setting.hidden = setting.dataset.paginationModes.split(" ").indexOf(select.value) < 0;
        });
      }
      select.addEventListener("change", apply);
      apply();
    });
  }

  function setupClearBoxes() {
    var boxes = document.querySelectorAll("input[type=checkbox][data-clears]");
    Array.prototype.forEach.call(boxes, function (box) {
      var input = document.getElementById(box.dataset.clears);
      if (!input) return;
      function apply() {
        if (box.checked) input.value = "";
        input.disabled = box.checked;
      }
      box.addEventListener("change", apply);
      apply();
    });
  }

  function setupHeaderSecrets() {
    /* A header marked Secret is typed like a password. */
    var boxes = document.querySelectorAll("input[type=checkbox][data-header-secret]");
    Array.prototype.forEach.call(boxes, function (box) {
      var input = document.getElementById(box.dataset.headerSecret);
      if (!input) return;
      box.addEventListener("change", function () {
        input.type = box.checked ? "password" : "text";
        input.autocomplete = box.checked ? "new-password" : "off";
      });
    });
  }

  /* --- test connection ------------------------------------------------------ */

  function testBanner(result) {
    if (result.ok) {
      return banner("ok", "Connection OK — HTTP " + result.status + " in " + (result.elapsed_ms || 0) + " ms");
    }
    var title = "Connection failed";
    if (result.status !== undefined && result.status !== null) title += " — HTTP " + result.status;
    return banner("error", title, result.error || "No answer came.");
  }

  function setupTestConnection() {
    var form = document.querySelector("form[data-test-connection]");
    var region = document.getElementById("test-result");
    if (!form || !region) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      setBusy(button, region, true);
      region.textContent = "";
      region.appendChild(loading("Testing the connection…"));
      postJSON(form.dataset.testConnection).then(function (answer) {
        var result = answer.data || {};
        if (!answer.ok && result.ok === undefined) {
          result = { ok: false, error: result.error || "The host answered HTTP " + answer.status + "." };
        }
        region.textContent = "";
        region.appendChild(testBanner(result));
      }, function () {
        region.textContent = "";
        region.appendChild(banner("error", "Connection failed", "The host did not answer."));
      }).then(function () { setBusy(button, region, false); });
    });
  }

  /* --- configuration tester ------------------------------------------------- */

  function renderTrace(region, result) {
    region.textContent = "";
    if (result.ok) {
      var count = result.total;
      region.appendChild(banner("ok", "The query worked: " + count + " option" + (count === 1 ? "" : "s") + "."));
    } else {
      region.appendChild(banner("error", "The query failed", result.error || "The evaluation failed."));
    }
    var dl = el("dl", "meta");
    function row(term, value, code) {
      dl.appendChild(el("dt", "", term));
      var dd = el("dd");
      dd.appendChild(code ? el("code", "connect-url", value) : document.createTextNode(String(value)));
      dl.appendChild(dd);
    }
    if (result.url) row("URL", result.url, true);
    if (result.status !== undefined && result.status !== null) row("HTTP status", result.status);
    if (result.elapsed_ms !== undefined) row("Time", result.elapsed_ms + " ms");
    region.appendChild(dl);
    if (Array.isArray(result.pages)) {
      var pagesCaption = "Pages read" + (result.truncated ? " (stopped at the most pages allowed; more exist)" : "");
      region.appendChild(table("connect-pages", pagesCaption, ["Page", "URL", "HTTP status", "Rows"],
        result.pages.map(function (page) {
          var status = page.status === undefined ? "failed" : page.status;
          return [page.page, { code: page.url }, status, page.rows === undefined ? "" : page.rows];
        })));
    }
    if (result.excerpt) {
      region.appendChild(el("h3", "", "Raw answer (excerpt)"));
      region.appendChild(el("pre", "connect-raw", result.excerpt));
    }
    if (!Array.isArray(result.options)) return;
    if (!result.options.length) {
      region.appendChild(el("p", "field-help", "The mapping gave no options: check Rows (JSONPath) against the raw answer."));
      return;
    }
    var caption = "Options";
    if (result.total > result.options.length) caption += " (first " + result.options.length + " of " + result.total + ")";
    region.appendChild(table("", caption, ["Value", "Label"], result.options.map(function (option) {
      return [{ code: option.value }, option.label];
    })));
  }

  /* A table: each cell is text, or {code: text} for a <code> cell. */
  function table(extraClass, caption, headers, rows) {
    var node = el("table", "table connect-table" + (extraClass ? " " + extraClass : ""));
    node.appendChild(el("caption", "", caption));
    var head = el("thead");
    var headRow = el("tr");
    headers.forEach(function (name) {
      var th = el("th", "", name);
      th.scope = "col";
      headRow.appendChild(th);
    });
    head.appendChild(headRow);
    node.appendChild(head);
    var body = el("tbody");
    rows.forEach(function (cells) {
      var tr = el("tr");
      cells.forEach(function (cell) {
        var td = el("td");
        if (cell !== null && typeof cell === "object") td.appendChild(el("code", "", cell.code));
        else td.textContent = String(cell);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    node.appendChild(body);
    return node;
  }

  function showTesterErrors(form, fields) {
    var nodes = form.querySelectorAll("[data-error-for]");
    Array.prototype.forEach.call(nodes, function (node) {
      var message = fields && fields[node.dataset.errorFor];
      var input = document.getElementById("tester-" + node.dataset.errorFor);
      node.textContent = message || "";
      node.hidden = !message;
      if (input) {
        if (message) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    });
  }

  function setupTester() {
    var form = document.querySelector("form[data-item-tester]");
    var region = document.getElementById("tester-result");
    if (!form || !region) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = function (id) { var input = document.getElementById(id); return input ? input.value.trim() : ""; };
      var body = { issue: value("tester-issue") || null, user: value("tester-user") || null, deps: {} };
      var q = document.getElementById("tester-q");
      if (q && q.value !== "") body.q = q.value;
      Array.prototype.forEach.call(form.querySelectorAll("[data-dep]"), function (input) {
        if (input.value !== "") body.deps[input.dataset.dep] = input.value;
      });
      var button = form.querySelector("button[type=submit]");
      setBusy(button, region, true);
      region.textContent = "";
      region.appendChild(loading("Running the query…"));
      postJSON(form.dataset.itemTester, body).then(function (answer) {
        var data = answer.data || {};
        showTesterErrors(form, answer.ok ? null : data.fields);
        if (answer.ok) renderTrace(region, data);
        else {
          region.textContent = "";
          region.appendChild(banner("error", "The test did not run", data.error || "The host answered HTTP " + answer.status + "."));
        }
      }, function () {
        region.textContent = "";
        region.appendChild(banner("error", "The test did not run", "The host did not answer."));
      }).then(function () { setBusy(button, region, false); });
    });
  }

  function init() {
    setupAuthModes();
    setupPaginationModes();
    setupClearBoxes();
    setupHeaderSecrets();
    setupTestConnection();
    setupTester();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
