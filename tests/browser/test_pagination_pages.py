"""Pagination in chromium: the item page shows only the chosen mode's settings, and
the configuration tester lists each page it read (the demo's *Any asset* reads the
four pages of the sample API's paged endpoint through its Link headers)."""

from __future__ import annotations

import base64

import pytest

from tests.browser.conftest import playwright_expect

pytestmark = pytest.mark.browser
expect = playwright_expect()


def test_the_item_page_shows_the_chosen_mode_and_the_tester_lists_each_page(page, demo, as_user, shot):
    as_user("admin")
    page.goto(f"/plugins/connect/admin/items/{demo.item_id('Any asset')}")
    mode = page.get_by_label("Pagination", exact=True)
    expect(mode).to_have_value("link_header")
    expect(page.get_by_label("Pages at most", exact=True)).to_have_value("10")
    for hidden in ("Next page URL path", "Cursor parameter", "Page parameter"):
        expect(page.get_by_label(hidden, exact=True)).to_be_hidden()

    mode.select_option(label="Cursor in the answer")
    expect(page.get_by_label("Cursor path", exact=True)).to_be_visible()
    expect(page.get_by_label("Cursor parameter", exact=True)).to_be_visible()
    expect(page.get_by_label("Page size", exact=True)).to_be_hidden()
    mode.select_option(label="As the datasource")
    expect(page.get_by_label("Pages at most", exact=True)).to_be_hidden()
    mode.select_option(label="Link header (rel=\"next\")")

    page.get_by_label("Issue key").fill("DEMO-1")
    page.get_by_role("button", name="Run test").click()
    tester = page.locator("#tester-result")
    expect(tester.locator(".banner-ok")).to_contain_text("The query worked: 40 options.")
    pages = tester.locator("table.connect-pages")
    expect(pages.locator("caption")).to_have_text("Pages read")
    expect(pages.locator("tbody tr")).to_have_count(4)
    expect(pages.locator("tbody tr").nth(3)).to_contain_text("/api/assets/paged?page=4&per_page=10")
    expect(pages.locator("tbody tr").nth(3).locator("td").nth(2)).to_have_text("200")
    expect(pages.locator("tbody tr").nth(3).locator("td").nth(3)).to_have_text("10")
    shot("tester-pages")


def test_a_truncated_list_says_the_datasource_has_more(page, demo, as_user):
    admin = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
    patched = demo.app.test_client().patch(f"/plugins/connect/api/items/{demo.item_id('Any asset')}", headers=admin,
                                           json={"pagination": {"mode": "link_header", "max_pages": 2}})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    as_user("alice")
    page.goto("/browse/DEMO-1")
    status = page.locator(f"#{demo.field_key('Any asset')}-status")
    expect(status).to_contain_text("the datasource has more than it was set to read")
    expect(page.get_by_label("Any asset", exact=True).locator("option")).to_have_count(21)  # None + 2 pages of 10
