"""A user (alice) edits DEMO-1 in chromium and picks a value in every editor type:
a select, a select that depends on another one (it refreshes, and clears a value no
longer offered), an autocomplete that searches as she types, a multi-select, and a
read-only field. The values survive a reload; when the API is gone, the stored
labels still show and each field says what failed."""

from __future__ import annotations

import base64
import re

import pytest

from plugin_host.demo.upstream import API_KEY
from tests.browser.conftest import playwright_expect
from tests.support.https_servers import free_port

pytestmark = pytest.mark.browser
expect = playwright_expect()

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


def field(page, demo, name: str):
    """The field group (label, control, status) of the connected item ``name``."""
    return page.locator(f"#{demo.field_key(name)}-field")


def control(page, demo, name: str):
    return page.locator(f"#{demo.field_key(name)}")


def selected_labels(locator) -> list[str]:
    return locator.evaluate("(s) => Array.from(s.selectedOptions).map((o) => o.text)")


def wait_for_options(locator, at_least: int = 2) -> None:
    expect(locator.locator("option")).not_to_have_count(0)
    locator.page.wait_for_function("([s, n]) => s.options.length >= n && s.closest('[aria-busy=true]') === null",
                                   arg=[locator.element_handle(), at_least])


def test_alice_picks_a_value_in_every_editor(page, demo, as_user, shot):
    as_user("alice")
    page.goto("/browse/DEMO-1")
    expect(page.get_by_role("heading", name=re.compile("Set up a new laptop"))).to_be_visible()

    # Select: alice's own assets, live from the sample API.
    asset = page.get_by_label("Asset", exact=True)
    wait_for_options(asset, 9)
    expect(asset.locator("option")).to_have_count(9)  # None + her 8 devices
    expect(asset.locator("option", has_text="Lenovo ThinkPad")).to_have_count(0)  # bob's
    asset.select_option(label="MacBook Pro 14 (C02XK1)")

    # Country waits for Continent...
    country = page.get_by_label("Country", exact=True)
    country_status = page.locator(f"#{demo.field_key('Country')}-status")
    expect(country_status).to_have_text("Fill in Continent first.")
    continent = page.get_by_label("Continent", exact=True)
    wait_for_options(continent, 7)
    continent.select_option(label="Europe")
    # ... refreshes when it is picked ...
    expect(country.locator("option", has_text="France")).to_have_count(1)
    expect(country.locator("option", has_text="Japan")).to_have_count(0)
    expect(country_status).to_be_hidden()
    country.select_option(label="France")
    shot("1-europe-france")
    # ... and clears a value no longer offered when Continent changes.
    continent.select_option(label="Asia")
    expect(country.locator("option", has_text="Japan")).to_have_count(1)
    expect(country.locator("option", has_text="France")).to_have_count(0)
    expect(country).to_have_value("")
    expect(country_status).to_contain_text("no longer offered")
    country.select_option(label="Japan")

    # Autocomplete: searches as she types, a click picks.
    search = page.get_by_role("combobox", name="Asset search")
    listbox = page.locator(f"#{demo.field_key('Asset search')}-listbox")
    search.click()
    search.press_sequentially("macbook", delay=20)
    expect(search).to_have_attribute("aria-expanded", "true")
    expect(listbox.get_by_role("option")).to_have_count(3)
    expect(listbox).to_contain_text("MacBook Pro 16 (C02YH4)")
    shot("2-autocomplete")
    listbox.get_by_role("option", name="MacBook Pro 16 (C02YH4)").click()
    expect(search).to_have_value("MacBook Pro 16 (C02YH4)")
    expect(search).to_have_attribute("aria-expanded", "false")
    expect(page.locator(f"#{demo.field_key('Asset search')}")).to_have_value("A-1041")

    # Multi-select: two related issues.
    related = page.get_by_label("Related issues", exact=True)
    wait_for_options(related, 2)
    related.select_option(["OPS-5", "OPS-21"])
    assert sorted(selected_labels(related)) == [
        "OPS-21: Laptop refresh 2024: collect old devices",
        "OPS-5: Onboarding checklist: laptop, badge and accounts for new hires",
    ]

    # Read-only: shown, not editable, its live value loaded.
    owner = field(page, demo, "Asset owner (read-only)")
    expect(owner.locator("output")).to_be_visible()
    expect(owner.locator("input:not([type=hidden]), select, textarea")).to_have_count(0)
    expect(owner.locator("[data-live]")).to_have_text("The API gives no value for this issue now.")
    shot("3-picked")

    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    refused = page.locator(".field-error").all_text_contents()
    assert refused == [], f"the host refused values picked from the options it offered: {refused}"
    expect(page.get_by_role("status").filter(has_text="DEMO-1 saved.")).to_be_visible()

    # After a reload the stored labels show, and the API agrees.
    page.reload()
    expect(page.get_by_label("Asset", exact=True)).to_have_value("A-1001")
    assert selected_labels(page.get_by_label("Asset", exact=True)) == ["MacBook Pro 14 (C02XK1)"]
    assert selected_labels(page.get_by_label("Continent", exact=True)) == ["Asia"]
    assert selected_labels(page.get_by_label("Country", exact=True)) == ["Japan"]
    expect(page.get_by_role("combobox", name="Asset search")).to_have_value("MacBook Pro 16 (C02YH4)")
    assert len(selected_labels(page.get_by_label("Related issues", exact=True))) == 2
    stored = page.request.get("/rest/api/2/issue/DEMO-1").json()["fields"]
    assert stored[demo.field_key("Asset")] == {"value": "A-1001", "label": "MacBook Pro 14 (C02XK1)", "details": {
        "Serial": "C02XK1", "Type": "Laptop", "Owner": "alice@example.com"}}
    # The chosen asset's details show under it, and hide once another value is picked.
    details = page.get_by_label("Details of MacBook Pro 14 (C02XK1)")
    expect(details).to_be_visible()
    expect(details.locator("dt")).to_have_text(["Serial", "Type", "Owner"])
    expect(details.locator("dd")).to_have_text(["C02XK1", "Laptop", "alice@example.com"])
    asset = page.get_by_label("Asset", exact=True)
    other = asset.locator("option:not([value='']):not([value='A-1001'])").first.get_attribute("value")
    asset.select_option(other)
    expect(details).to_be_hidden()
    asset.select_option("A-1001")
    expect(details).to_be_visible()
    assert stored[demo.field_key("Country")] == {"value": "JP", "label": "Japan"}
    assert stored[demo.field_key("Asset search")] == {"value": "A-1041", "label": "MacBook Pro 16 (C02YH4)"}
    assert {v["value"] for v in stored[demo.field_key("Related issues")]} == {"OPS-5", "OPS-21"}

    # The API goes away: the datasource now points at a port where nothing listens
    # (a changed datasource also leaves its cached answers behind; another port is
    # another origin, so the key is given again). The stored labels still show, and
    # every field says that it failed, with a reference (the detail is for admins).
    dead = f"https://127.0.0.1:{free_port()}/api"
    moved = demo.app.test_client().patch(f"/plugins/connect/api/datasources/{demo.seeded.datasource_id}",
                                         headers=ADMIN, json={"config": {"base_url": dead},
                                                              "auth": {"value": API_KEY}})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    page.reload()
    for name in ("Asset", "Continent", "Country", "Related issues", "Asset owner (read-only)"):
        status = page.locator(f"#{demo.field_key(name)}-status")
        expect(status).to_contain_text("Could not load options: The external system did not give a usable answer")
        expect(status).to_contain_text("(reference ")
        expect(status).not_to_contain_text("127.0.0.1")
    assert selected_labels(page.get_by_label("Asset", exact=True)) == ["MacBook Pro 14 (C02XK1)"]
    assert selected_labels(page.get_by_label("Country", exact=True)) == ["Japan"]
    assert len(selected_labels(page.get_by_label("Related issues", exact=True))) == 2
    expect(page.get_by_role("combobox", name="Asset search")).to_have_value("MacBook Pro 16 (C02YH4)")
    # Searching says so too.
    search = page.get_by_role("combobox", name="Asset search")
    search.fill("")
    search.press_sequentially("dell", delay=20)
    expect(page.locator(f"#{demo.field_key('Asset search')}-status")).to_contain_text(
        "Could not load options: The external system did not give a usable answer")
    shot("4-api-down")


def test_an_unsaved_summary_reloads_the_fields_that_use_it(page, demo, as_user, page_log):
    """The host page names its own inputs (summary, description) in the field macro;
    the script sends what is on screen as deps.<name> and reloads on a change."""
    as_user("alice")
    page.goto("/browse/DEMO-1")
    related = page.get_by_label("Related issues", exact=True)
    wait_for_options(related, 2)
    expect(field(page, demo, "Related issues")).to_have_attribute("data-form-fields", "summary description")
    page.get_by_label("Summary", exact=True).fill("Renew YubiKeys")
    page.get_by_label("Summary", exact=True).press("Tab")  # a change event, nothing saved
    expect(related.locator("option")).to_have_count(1)
    expect(related.locator("option")).to_have_text("OPS-18: Renew YubiKeys for the on-call engineers")
    sent = [url for url in page_log.requests if f"/items/{demo.item_id('Related issues')}/options" in url]
    assert any("deps.summary=Renew+YubiKeys" in url for url in sent), sent
    stored = page.request.get("/rest/api/2/issue/DEMO-1").json()["fields"]["summary"]
    assert stored == "Set up a new laptop for Alice's onboarding"
