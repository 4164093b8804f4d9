"""Every page, as a visitor, a user and an admin: nothing is loaded from outside the
host (every request the browser makes goes to the app's own origin), every input
has a label, every button a name, and every combobox follows the ARIA pattern."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import login, playwright_expect

pytestmark = pytest.mark.browser
expect = playwright_expect()

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea, output'))
  .filter((e) => e.type !== 'hidden')
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                 && !e.getAttribute('aria-labelledby'))
  .map((e) => e.outerHTML.slice(0, 160))"""
NAMELESS_BUTTONS = """() => Array.from(document.querySelectorAll('button, a.button'))
  .filter((b) => !(b.textContent || '').trim() && !b.getAttribute('aria-label'))
  .map((b) => b.outerHTML.slice(0, 160))"""
LOADED_ELSEWHERE = """() => Array.from(document.querySelectorAll('link[href], script[src], img[src], iframe, object, embed'))
  .map((e) => e.href || e.src || e.data || e.outerHTML)
  .filter((u) => !u.startsWith(location.origin + '/') && !u.startsWith('data:'))"""
BAD_COMBOBOXES = """() => Array.from(document.querySelectorAll('[role=combobox]')).filter((c) => {
  const list = document.getElementById(c.getAttribute('aria-controls') || '');
  return !list || list.getAttribute('role') !== 'listbox' || !c.hasAttribute('aria-expanded')
    || !(c.labels && c.labels.length) || c.getAttribute('aria-autocomplete') !== 'list';
}).map((c) => c.outerHTML.slice(0, 160))"""


def check(page, path: str) -> None:
    page.goto(path)
    if path.startswith("/browse/"):  # its fields fetch their options after the load
        page.wait_for_load_state("networkidle")
    assert page.evaluate(UNLABELLED) == [], f"{path}: inputs without a label"
    assert page.evaluate(NAMELESS_BUTTONS) == [], f"{path}: buttons without a name"
    assert page.evaluate(LOADED_ELSEWHERE) == [], f"{path}: assets from elsewhere"
    assert page.evaluate(BAD_COMBOBOXES) == [], f"{path}: comboboxes off the ARIA pattern"
    assert page.locator("main h1").count() == 1, f"{path}: one h1 per page"
    assert page.title().strip(), f"{path}: a title"


def test_every_page_stays_on_the_host(page, page_log, demo):
    check(page, "/login")
    login(page, demo.url, "alice")
    for path in ("/", "/browse/DEMO-1", "/browse/DEMO-2", "/browse/DEMO-3", "/browse/NOPE-1"):
        check(page, path)
    page.goto("/browse/DEMO-2")
    expect(page.locator(f"#{demo.field_key('Asset owner (read-only)')}-field [data-live]")).to_contain_text(
        "alice@example.com")
    page.context.clear_cookies()

    login(page, demo.url, "admin")
    ds, item = demo.seeded.datasource_id, demo.item_id("Country")
    admin = "/plugins/connect/admin"
    for path in (f"{admin}/datasources", f"{admin}/datasources/new", f"{admin}/datasources/new/rest",
                 f"{admin}/datasources/{ds}", f"{admin}/datasources/{ds}/delete", f"{admin}/items",
                 f"{admin}/items/new", f"{admin}/items/{item}", f"{admin}/items/{item}/delete", f"{admin}/audit"):
        check(page, path)
    # The configuration step and the two JSON-driven results.
    page.goto(f"{admin}/datasources/new/rest")
    page.get_by_label("Name").fill("Another API")
    page.get_by_role("button", name="Create").click()
    assert page.evaluate(UNLABELLED) == []
    page.goto(f"{admin}/datasources/{ds}")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result .banner-ok")).to_be_visible()
    page.goto(f"{admin}/items/{item}")
    page.get_by_label("Issue key").fill("DEMO-1")
    page.get_by_role("button", name="Run test").click()
    expect(page.locator("#tester-result .banner")).to_be_visible()

    assert len(page_log.requests) > 30
    assert page_log.other_origins() == [], "requests that left the host"
    assert page_log.csp == [] and page_log.errors == []


def test_the_log_out_button_ends_the_session(page, demo):
    """"Log out" is a small POST form (with the CSRF token) in the top bar."""
    login(page, demo.url, "alice")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    page.goto("/browse/DEMO-1")
    expect(page).to_have_url(re.compile(r"/login\?next="))
