"""Issue 17's browser figure: the edit screen of DEMO-1 in Chromium, time from the
start of the navigation to the first connected field showing its options, cold
(the plugin's cache emptied just before) and warm (answers cached).

The demo is the one the browser tests and ``make run`` start (the sample HTTPS API
on loopback, the seed), served the way the README serves production: gunicorn, 2
gthread workers of 16 threads, in processes of their own (werkzeug's development
server in the bench's process shared its interpreter with Playwright's driver, which
made every answer wait). Chromium is Debian's, driven by Playwright. A script
installed before the page's own records, with ``performance.now()`` (milliseconds
since the navigation started), when a field's ``aria-busy`` turns back to false for
the first time, and when no field is busy any more; the page's navigation and
resource timings say where the time before that went.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from pathlib import Path

import requests

from .stack import HOST, ROOT, _bin, _die_with_parent, _stop, free_port, wait_for_port
from .stats import median

# Where the time of a visit went (the page's own timings, ms since the navigation began).
_TIMINGS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const calls = performance.getEntriesByType('resource').filter((r) => r.name.includes('/options?'));
  const statics = performance.getEntriesByType('resource').filter((r) => r.name.includes('/static/'));
  return {first: window.__connect.first, all: window.__connect.all, html: nav.responseEnd,
          dcl: nav.domContentLoadedEventEnd,
          calls_start: Math.min(...calls.map((r) => r.startTime)),
          calls_end: Math.max(...calls.map((r) => r.responseEnd)),
          static_fetched: statics.filter((r) => r.transferSize > 0).length};
}
"""

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
        server = None
        try:
            base, server = _gunicorn(demo, Path(tmp))
            admin = requests.Session()
            admin.headers["Authorization"] = "Basic " + base64.b64encode(b"admin:admin").decode()
            datasources = [d["id"] for d in admin.get(f"{base}/plugins/connect/api/datasources", timeout=30).json()]

            def clear_caches() -> None:
                for datasource in datasources:
                    admin.post(f"{base}/plugins/connect/api/datasources/{datasource}/cache/clear",
                               timeout=30).raise_for_status()

            with sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    page.add_init_script(_WATCH)
                    login(page, base, "alice")
                    url = f"{base}/browse/DEMO-1"

                    def visit() -> dict:
                        page.goto(url)
                        page.wait_for_function("() => window.__connect && window.__connect.all !== null", timeout=20_000)
                        return page.evaluate(_TIMINGS)

                    visit()  # Chromium's own first start and the static files, not part of either series
                    visit()  # every worker has served the page once
                    cold, warm = [], []
                    for _ in range(trials):
                        clear_caches()
                        cold.append(visit())
                        warm.append(visit())
                    fields = page.locator("[data-connect-field]").count()
                finally:
                    browser.close()
        finally:
            if server is not None:
                _stop(server)
            demo.stop()

    def med(series: list[dict], key: str) -> float:
        return median([visit[key] for visit in series])

    keys = ("first", "all", "html", "dcl", "calls_start", "calls_end", "static_fetched")
    return {"cold_ms": med(cold, "first"), "warm_ms": med(warm, "first"),
            "cold_all_ms": med(cold, "all"), "warm_all_ms": med(warm, "all"),
            "cold_steps": {key: med(cold, key) for key in keys}, "warm_steps": {key: med(warm, key) for key in keys},
            "fields": fields, "trials": trials}


def _gunicorn(demo, tmp: Path) -> tuple[str, subprocess.Popen]:
    """The demo's app and database under gunicorn (the README's recipe)."""
    config = demo.app.config
    env = {**os.environ, "DATABASE_URL": config["DATABASE_URL"], "SECRET_KEY": config["SECRET_KEY"],
           "CONNECT_SECRET_KEYS": config["CONNECT_SECRET_KEYS"], "CONNECT_CA_BUNDLE": config["CONNECT_CA_BUNDLE"],
           "CONNECT_ALLOWED_HOSTS": str(config["CONNECT_ALLOWED_HOSTS"]), "CACHE_TYPE": "SimpleCache",
           "INSTANCE_PATH": demo.app.instance_path}
    port = free_port()
    log = open(tmp / "gunicorn-edit-screen.log", "w")
    proc = subprocess.Popen(
        [_bin("gunicorn"), "--workers", "2", "--worker-class", "gthread", "--threads", "16",
         "--bind", f"{HOST}:{port}", "--keep-alive", "30", "--log-level", "warning",
         "-c", "python:plugin_host.gunicorn_conf", "plugin_host:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    wait_for_port(port, 60, proc)
    base = f"http://{HOST}:{port}"
    for _ in range(50):
        try:
            requests.get(base + "/login", timeout=30)
            break
        except requests.RequestException:
            continue
    return base, proc


if __name__ == "__main__":  # pragma: no cover
    print(run(quick=True))
