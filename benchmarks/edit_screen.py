"""Issue 17's browser figure: the edit screen of DEMO-1 in Chromium, time from the
start of the navigation to the first connected field showing its options, cold
(the plugin's cache emptied just before) and warm (answers cached).

The demo is the one the browser tests and ``make run`` start (the sample HTTPS API
on loopback, the seed, werkzeug's threaded server in this process); Chromium is
Debian's, driven by Playwright. A script installed before the page's own records,
with ``performance.now()`` (milliseconds since the navigation started), when a
field's ``aria-busy`` turns back to false for the first time, and when no field is
busy any more.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .stats import median

# Recorded in the page: the first field done loading, and the moment all were done.
_WATCH = """
(() => {
  window.__connect = {first: null, all: null, seen: new Set()};
  const fields = () => Array.from(document.querySelectorAll('[data-connect-field]'));
  new MutationObserver((changes) => {
    for (const change of changes) {
      const field = change.target;
      if (field.getAttribute('aria-busy') !== 'false' || !field.matches('[data-connect-field]')) continue;
      const state = window.__connect;
      state.seen.add(field.id);
      if (state.first === null) state.first = performance.now();
      if (state.all === null && fields().every((f) => f.getAttribute('aria-busy') !== 'true')
          && state.seen.size >= fields().filter((f) => f.dataset.editor !== 'autocomplete'
                                                   && !f.dataset.dependsOn).length) {
        state.all = performance.now();
      }
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['aria-busy']});
})();
"""


def run(quick: bool) -> dict:
    """{'cold_ms', 'warm_ms', 'cold_all_ms', 'warm_all_ms', 'fields', 'trials'}; 'error' when
    Chromium or Playwright is missing."""
    from tests.browser.conftest import chromium_missing_reason, launch, login, start_demo

    reason = chromium_missing_reason()
    if reason:
        return {"error": f"not measured: {reason}"}
    from playwright.sync_api import sync_playwright

    trials = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="connect-edit-screen-") as tmp:
        demo = start_demo(Path(tmp) / "demo", Path(tmp) / "certs")
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    page.add_init_script(_WATCH)
                    login(page, demo.url, "alice")
                    cache = demo.app.extensions["connect"].cache
                    url = f"{demo.url}/browse/DEMO-1"

                    def visit() -> tuple[float, float]:
                        page.goto(url)
                        page.wait_for_function("() => window.__connect && window.__connect.all !== null", timeout=20_000)
                        return page.evaluate("() => [window.__connect.first, window.__connect.all]")

                    visit()  # Chromium's own first start and the static files, not part of either series
                    cold, warm = [], []
                    for _ in range(trials):
                        cache.clear_local()
                        cold.append(visit())
                        warm.append(visit())
                    fields = page.locator("[data-connect-field]").count()
                finally:
                    browser.close()
        finally:
            demo.stop()
    return {"cold_ms": median([c[0] for c in cold]), "warm_ms": median([w[0] for w in warm]),
            "cold_all_ms": median([c[1] for c in cold]), "warm_all_ms": median([w[1] for w in warm]),
            "fields": fields, "trials": trials}


if __name__ == "__main__":  # pragma: no cover
    print(run(quick=True))
