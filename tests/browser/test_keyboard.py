"""Keyboard only: Tab into the Asset select and choose with the arrow keys; Tab into
the Asset search combobox, type, ArrowDown, Enter. The combobox follows the ARIA
1.2 pattern (role, aria-expanded, aria-controls, aria-activedescendant)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import playwright_expect

pytestmark = pytest.mark.browser
expect = playwright_expect()


def tab_to(page, element_id: str, limit: int = 40) -> int:
    """Press Tab until the element with ``element_id`` has the focus; the presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return presses
    raise AssertionError(f"#{element_id} never got the focus in {limit} Tab presses")


def test_keyboard_only_select_and_autocomplete(page, demo, as_user, shot):
    as_user("alice")
    page.goto("/browse/DEMO-1")
    asset_id, search_key = demo.field_key("Asset"), demo.field_key("Asset search")
    asset = page.locator(f"#{asset_id}")
    expect(asset.locator("option")).to_have_count(9)
    page.locator("body").focus()

    # The select: Tab in, then the arrow keys choose (no mouse, no popup needed).
    tab_to(page, asset_id)
    expect(asset).to_be_focused()
    expect(asset).to_have_value("")
    page.keyboard.press("ArrowDown")
    expect(asset).to_have_value("A-1001")
    page.keyboard.press("ArrowDown")
    expect(asset).to_have_value("A-1002")
    page.keyboard.press("ArrowUp")
    expect(asset).to_have_value("A-1001")
    shot("1-select")

    # The combobox: the next stop after the Asset select's field group.
    combobox = page.locator(f"#{search_key}-input")
    listbox = page.locator(f"#{search_key}-listbox")
    tab_to(page, f"{search_key}-input", limit=5)
    expect(combobox).to_have_attribute("role", "combobox")
    expect(combobox).to_have_attribute("aria-controls", f"{search_key}-listbox")
    expect(combobox).to_have_attribute("aria-autocomplete", "list")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(listbox).to_have_attribute("role", "listbox")
    page.keyboard.type("iphone", delay=20)
    expect(combobox).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    expect(options).to_have_count(3)  # iPhone 15, iPhone 14, iPhone 15 Pro
    page.keyboard.press("ArrowDown")
    first = options.nth(0)
    expect(first).to_have_attribute("aria-selected", "true")
    expect(combobox).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    page.keyboard.press("ArrowDown")
    second = options.nth(1)
    expect(second).to_have_attribute("aria-selected", "true")
    expect(first).to_have_attribute("aria-selected", "false")
    expect(combobox).to_have_attribute("aria-activedescendant", second.get_attribute("id"))
    page.keyboard.press("ArrowUp")
    expect(combobox).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    label, first_id = first.inner_text(), first.get_attribute("id")
    shot("2-combobox-open")
    page.keyboard.press("Enter")  # chooses; does not submit the form
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(combobox).not_to_have_attribute("aria-activedescendant", first_id)
    expect(listbox).to_be_hidden()
    expect(combobox).to_have_value(label)
    hidden = page.locator(f"#{search_key}")
    assert hidden.input_value().startswith("A-")
    assert page.url.endswith("/browse/DEMO-1")  # Enter chose, nothing was submitted
    expect(combobox).to_be_focused()

    # Escape on an open list closes it and keeps the choice; Escape while a search
    # is still pending undoes the edit, and its late answer opens nothing.
    page.keyboard.press("Control+a")
    page.keyboard.type("mac", delay=20)
    expect(combobox).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(combobox).to_have_value(label)
    page.keyboard.type("zz")
    page.keyboard.press("Escape")
    expect(combobox).to_have_value(label)
    page.wait_for_timeout(600)
    expect(combobox).to_have_attribute("aria-expanded", "false")
    posted = page.evaluate("(id) => Object.fromEntries(new FormData(document.getElementById(id)))", "issue-form")
    assert posted[asset_id] == "A-1001"
    assert posted[search_key] == hidden.input_value()
    shot("3-chosen")
