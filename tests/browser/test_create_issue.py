"""A user (alice) creates an issue in chromium from the host's create screen: the
connected fields load their options with ``project=DEMO`` (there is no issue yet),
a dependent field still waits and refreshes, and what she picked is checked and
stored on the new issue. A user outside the project gets no create screen."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import login, playwright_expect
from tests.browser.test_issue_fields import wait_for_options

pytestmark = pytest.mark.browser
expect = playwright_expect()


def test_alice_creates_an_issue_with_connected_fields(page, demo, as_user, page_log, shot):
    as_user("alice")
    page.goto("/")
    page.get_by_role("link", name="Create issue in Demo").click()
    expect(page.get_by_role("heading", name="Create issue in Demo")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/projects/DEMO/create$"))

    asset = page.get_by_label("Asset", exact=True)
    wait_for_options(asset, 9)  # None + her 8 devices, as on an issue she edits
    asset.select_option(label="MacBook Pro 14 (C02XK1)")
    country_status = page.locator(f"#{demo.field_key('Country')}-status")
    expect(country_status).to_have_text("Fill in Continent first.")
    page.get_by_label("Continent", exact=True).select_option(label="Europe")
    country = page.get_by_label("Country", exact=True)
    expect(country.locator("option", has_text="France")).to_have_count(1)
    country.select_option(label="France")
    page.get_by_label("Summary", exact=True).fill("Renew YubiKeys")
    page.get_by_label("Summary", exact=True).press("Tab")
    related = page.get_by_label("Related issues", exact=True)
    expect(related.locator("option")).to_have_text(["OPS-18: Renew YubiKeys for the on-call engineers"])
    related.select_option(["OPS-18"])
    shot("1-create-screen")

    asked = [urlsplit(url) for url in page_log.requests if "/options" in urlsplit(url).path]
    assert asked, "the fields asked for no options"
    for url in asked:
        query = parse_qs(url.query)
        assert query.get("project") == ["DEMO"] and "issue" not in query, url.geturl()

    with page.expect_navigation():
        page.get_by_role("button", name="Create").click()
    refused = page.locator(".field-error").all_text_contents()
    assert refused == [], f"the host refused values picked from the options it offered: {refused}"
    expect(page.get_by_role("status").filter(has_text="DEMO-4 created.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/browse/DEMO-4$"))
    stored = page.request.get("/rest/api/2/issue/DEMO-4").json()["fields"]
    assert stored["summary"] == "Renew YubiKeys"
    asset = stored[demo.field_key("Asset")]
    assert (asset["value"], asset["label"]) == ("A-1001", "MacBook Pro 14 (C02XK1)")
    country = stored[demo.field_key("Country")]
    assert (country["value"], country["label"]) == ("FR", "France")
    assert [v["value"] for v in stored[demo.field_key("Related issues")]] == ["OPS-18"]


def test_a_user_outside_the_project_gets_no_create_screen(page, demo):
    from tests.conftest import create_user

    create_user(demo.app, "carol", "carol-pw")
    login(page, demo.url, "carol", "carol-pw")
    expect(page.get_by_role("link", name=re.compile("Create issue"))).to_have_count(0)
    response = page.goto("/projects/DEMO/create")
    assert response.status == 403
    options = page.request.get(f"/plugins/connect/api/items/{demo.item_id('Asset')}/options?project=DEMO")
    assert options.status == 403
