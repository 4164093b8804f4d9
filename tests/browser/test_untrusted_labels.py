"""Labels come from an upstream API: markup in them is shown as text, in every
editor, in the stored snapshot after a reload and in the admin's tester, and no
script runs (no dialog fires, no image is requested)."""

from __future__ import annotations

import base64

import pytest

from plugin_host.demo import upstream as sample_api
from tests.browser.conftest import playwright_expect

pytestmark = pytest.mark.browser
expect = playwright_expect()

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(2)</script>'
ROWS = [{"id": "X-1", "name": IMG}, {"id": "X-2", "name": SCRIPT}]


@pytest.fixture
def hostile_items(monkeypatch, demo):
    """A route of the sample API whose labels are markup, and one item per editor."""

    def hostile(args):
        # Finds rows by label text, or by id: the host checks a stored autocomplete
        # value by searching for it.
        text = (args.get("q") or "").lower()
        return 200, {"items": [r for r in ROWS if text in r["name"].lower() or text == r["id"].lower()]}

    monkeypatch.setitem(sample_api.ROUTES, "/api/hostile", hostile)
    client = demo.app.test_client()
    items = {}
    for name, editor, query in (("Hostile select", "select", "/hostile"),
                                ("Hostile search", "autocomplete", "/hostile?q=$userInput"),
                                ("Hostile multi", "multiselect", "/hostile"),
                                ("Hostile read-only", "readonly", "/hostile")):
        options = {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}"}
        if editor == "select":  # details under the chosen value come from the upstream too
            options["details"] = [{"name": "Note", "template": "${row.name}"}]
        response = client.post("/plugins/connect/api/items", headers=ADMIN, json={
            "name": name, "datasource_id": demo.seeded.datasource_id, "editor": editor, "query": query,
            "projects": ["DEMO"], "options": options})
        assert response.status_code == 201, response.get_data(as_text=True)
        items[name] = response.get_json()
    return items


def no_markup_ran(page, page_log) -> None:
    assert page_log.dialogs == []
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    assert not [u for u in page_log.requests if u.rstrip("/").endswith("/x")]
    assert page.evaluate("() => window.__hostile === undefined")


def test_markup_in_labels_is_text(page, page_log, demo, as_user, shot, hostile_items):
    as_user("alice")
    page.goto("/browse/DEMO-1")
    keys = {name: item["field_key"] for name, item in hostile_items.items()}

    select = page.locator(f"#{keys['Hostile select']}")
    expect(select.locator("option")).to_have_count(3)
    assert select.locator("option").all_text_contents() == ["None", IMG, SCRIPT]
    multi = page.locator(f"#{keys['Hostile multi']}")
    expect(multi.locator("option")).to_have_count(2)
    expect(page.locator(f"#{keys['Hostile read-only']}-field [data-live]")).to_have_text(f"Live value: {IMG}")

    search = page.get_by_role("combobox", name="Hostile search")
    search.click()
    search.press_sequentially("img", delay=20)
    option = page.locator(f"#{keys['Hostile search']}-listbox").get_by_role("option")
    expect(option).to_have_count(1)
    expect(option).to_have_text(IMG)
    option.click()
    expect(search).to_have_value(IMG)
    shot("1-live")
    no_markup_ran(page, page_log)

    # Stored and rendered again by the server: still text.
    select.select_option("X-2")
    multi.select_option(["X-1", "X-2"])
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="DEMO-1 saved.")).to_be_visible()
    assert page.locator(f"#{keys['Hostile select']} option:checked").text_content() == SCRIPT
    details = page.locator(f"#{keys['Hostile select']}-field dl.connect-details")
    expect(details.locator("dt")).to_have_text(["Note"])
    expect(details.locator("dd")).to_have_text([SCRIPT])
    expect(page.get_by_role("combobox", name="Hostile search")).to_have_value(IMG)
    assert sorted(page.locator(f"#{keys['Hostile multi']} option:checked").all_text_contents()) == sorted([IMG, SCRIPT])
    shot("2-stored")
    no_markup_ran(page, page_log)


def test_markup_in_the_tester_is_text(page, page_log, demo, as_user, hostile_items):
    as_user("admin")
    page.goto(f"/plugins/connect/admin/items/{hostile_items['Hostile select']['id']}")
    page.get_by_label("Issue key").fill("DEMO-1")
    page.get_by_role("button", name="Run test").click()
    tester = page.locator("#tester-result")
    expect(tester.locator(".banner-ok")).to_contain_text("2 options")
    expect(tester.get_by_role("cell", name=IMG, exact=True)).to_be_visible()
    expect(tester.get_by_role("cell", name=SCRIPT, exact=True)).to_be_visible()
    expect(tester.locator("pre")).to_contain_text("onerror=alert(1)")
    no_markup_ran(page, page_log)
