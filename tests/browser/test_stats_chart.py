"""The datasource page's stats chart in chromium with JavaScript turned off: the
inline SVG is drawn by the server (bars for the calls of the field loads just made,
the p95 line), with the same numbers in a table, and the list's health badge."""

from __future__ import annotations

import pytest
import requests

from tests.browser.conftest import PASSWORDS, TIMEOUT_MS, VIEWPORT, login, playwright_expect
from tests.test_stats import away_from_a_bucket_edge

pytestmark = pytest.mark.browser
expect = playwright_expect()


def test_the_chart_is_an_svg_without_javascript(browser, demo, artifacts):
    item = demo.item_id("Asset")
    away_from_a_bucket_edge(40)
    with requests.Session() as http:
        http.auth = ("alice", PASSWORDS["alice"])
        for q in ("mac", "", "think"):  # one call, then answers from the cache
            answer = http.get(f"{demo.url}/plugins/connect/api/items/{item}/options",
                              params={"issue": "DEMO-1", "q": q}, timeout=10)
            assert answer.status_code == 200, answer.text

    context = browser.new_context(viewport=VIEWPORT, base_url=demo.url, locale="en-GB", java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        login(page, demo.url, "admin")
        page.goto(f"/plugins/connect/admin/datasources/{demo.seeded.datasource_id}")
        chart = page.locator("svg#stats-chart")
        expect(chart).to_be_visible()
        expect(chart).to_have_attribute("role", "img")
        expect(chart.locator(".chart-calls rect")).to_have_count(1)
        expect(page.locator('[data-stat="calls"]')).to_have_text("1")
        expect(page.locator('[data-stat="cache_hits"]')).to_have_text("2")
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100
        page.get_by_text("The chart's numbers").click()  # <details> opens without script
        rows = page.locator("#stats-table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first.locator("td").first).to_have_text("1")
        page.screenshot(path=str(artifacts / "stats-chart-no-js.png"), full_page=True)

        page.goto("/plugins/connect/admin/datasources")
        expect(page.locator("[data-health]").first).to_have_text("OK")
    finally:
        context.close()
