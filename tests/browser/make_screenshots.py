"""Make the README's screenshots from the current pages (run by hand):

    .venv/bin/python -m tests.browser.make_screenshots [--out docs/screenshots]

It starts the same offline demo as ``make run`` (sample HTTPS API on loopback, seed)
on a throw-away database, drives Debian's chromium through Playwright at 1280x800,
and writes:

* ``wizard-configure.png``  the wizard's configuration step (step indicator, fields);
* ``datasource-test.png``   the demo datasource after "Test connection";
* ``item-tester.png``       a connected item with the configuration tester's result;
* ``issue-connected-fields.png``  DEMO-1 as alice, with values picked in its fields;
* ``datasource-stats.png``  the demo datasource's stats chart after field loads: the
  loads of the last minutes are real (searches in "Asset search", through the API);
  the earlier hours of the day are replayed into the stats store for the picture
  (a fresh demo has no history), say so when you show it.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from tests.browser.conftest import (
    CHROMIUM,
    ROOT,
    VIEWPORT,
    chromium_missing_reason,
    launch,
    login,
    start_demo,
)

OUT = ROOT / "docs" / "screenshots"


def wizard_configure(page, demo, out: Path) -> Path:
    login(page, demo.url, "admin")
    page.goto(f"{demo.url}/plugins/connect/admin/datasources/new/rest")
    page.get_by_label("Name").fill("Assets API")
    page.get_by_role("button", name="Create").click()
    page.get_by_label("API Base Url", exact=True).fill("https://assets.example.com/api")
    page.get_by_label("API Documentation", exact=True).fill("https://assets.example.com/docs")
    page.get_by_label("Health check URL", exact=True).fill("https://assets.example.com/api/health")
    page.get_by_label("Authentication", exact=True).select_option(label="API Key")
    page.locator("body").click(position={"x": 5, "y": 300})  # no focus ring in the picture
    return shot(page, out / "wizard-configure.png")


def datasource_test(page, demo, out: Path) -> Path:
    page.goto(f"{demo.url}/plugins/connect/admin/datasources/{demo.seeded.datasource_id}")
    page.get_by_role("button", name="Test connection").click()
    page.locator("#test-result .banner-ok").wait_for()
    page.locator("body").click(position={"x": 5, "y": 300})
    return shot(page, out / "datasource-test.png")


def item_tester(page, demo, out: Path) -> Path:
    page.goto(f"{demo.url}/plugins/connect/admin/items/{demo.item_id('Asset')}")
    page.get_by_label("Issue key").fill("DEMO-1")
    page.get_by_label("As user").fill("alice")
    page.get_by_role("button", name="Run test").click()
    page.locator("#tester-result table").wait_for()
    page.locator("#tester-heading").evaluate("(h) => h.scrollIntoView({block: 'start'})")
    page.mouse.wheel(0, -16)
    page.wait_for_timeout(100)
    return shot(page, out / "item-tester.png")


def issue_fields(page, demo, out: Path) -> Path:
    page.context.clear_cookies()
    login(page, demo.url, "alice")
    page.goto(f"{demo.url}/browse/DEMO-1")
    asset = page.get_by_label("Asset", exact=True)
    asset.locator("option", has_text="MacBook Pro 14 (C02XK1)").wait_for(state="attached")
    asset.select_option(label="MacBook Pro 14 (C02XK1)")
    continent = page.get_by_label("Continent", exact=True)
    continent.locator("option", has_text="Europe").wait_for(state="attached")
    continent.select_option(label="Europe")
    country = page.get_by_label("Country", exact=True)
    country.locator("option", has_text="France").wait_for(state="attached")
    country.select_option(label="France")
    search = page.get_by_role("combobox", name="Asset search")
    search.click()
    search.press_sequentially("macbook", delay=20)
    page.get_by_role("option", name="MacBook Pro 16 (C02YH4)").click()
    related = page.get_by_label("Related issues", exact=True)
    related.locator("option").first.wait_for(state="attached")
    values = related.evaluate("(s) => Array.from(s.options).slice(0, 2).map((o) => o.value)")
    related.select_option(values)
    page.wait_for_load_state("networkidle")
    page.locator("body").click(position={"x": 5, "y": 300})
    return shot(page, out / "issue-connected-fields.png", full_page=True)


def datasource_stats(page, demo, out: Path) -> Path:
    import random
    import time

    import requests

    from connect_plugin.stats.buckets import BUCKET_SECONDS, bucket_of, latency_bin
    from connect_plugin.stats.recorder import Batch

    item = demo.item_id("Asset search")
    with requests.Session() as http:
        http.auth = ("alice", "alice")
        for word in ("mac", "think", "dell", "iphone", "pixel", "mac", "think", "surface", "x1", "mac"):
            http.get(f"{demo.url}/plugins/connect/api/items/{item}/options",
                     params={"issue": "DEMO-1", "q": word}, timeout=10)
    # The earlier hours: replayed, as the note above says.
    rng, batch, now = random.Random(16), Batch(), time.time()
    for back in range(6, 24 * 12):
        start = bucket_of(now) - back * BUCKET_SECONDS
        calls = max(0, int(rng.gauss(14, 5) * (1.6 if 100 < back < 130 else 1)))
        if not calls:
            continue
        errors = rng.choice([0] * 12 + [1, 2]) + (calls // 2 if 150 < back < 160 else 0)
        counters = {"calls": calls, "errors": errors, "e:timeout": errors, "hits": calls * 6, "misses": calls}
        for _ in range(calls):
            name = f"h:{latency_bin(rng.lognormvariate(4.1 + (0.8 if 150 < back < 160 else 0), 0.45))}"
            counters[name] = counters.get(name, 0) + 1
        batch.counters[(demo.seeded.datasource_id, start)] = counters
    demo.app.extensions["connect"].stats.store.add(batch)
    page.context.clear_cookies()
    login(page, demo.url, "admin")
    page.goto(f"{demo.url}/plugins/connect/admin/datasources/{demo.seeded.datasource_id}")
    page.locator("#stats-chart").wait_for()
    page.locator("body").click(position={"x": 5, "y": 300})
    return shot(page, out / "datasource-stats.png")


def shot(page, path: Path, *, full_page: bool = False) -> Path:
    page.screenshot(path=str(path), full_page=full_page)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.make_screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNGs (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    reason = chromium_missing_reason()
    if reason:
        print(f"Cannot make screenshots: {reason}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="connect-screenshots-") as tmp:
        demo = start_demo(Path(tmp) / "demo", Path(tmp) / "tls")
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                context = browser.new_context(viewport=VIEWPORT, base_url=demo.url, locale="en-GB")
                context.set_default_timeout(15_000)
                page = context.new_page()
                made = [step(page, demo, args.out) for step in (wizard_configure, datasource_test, item_tester,
                                                                 issue_fields, datasource_stats)]
                browser.close()
        finally:
            demo.stop()
    for path in made:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}  {path.stat().st_size // 1024} KiB")
    print(f"(chromium: {CHROMIUM}; the pages of {re.sub(r':[0-9]+$', ':<port>', demo.url)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
