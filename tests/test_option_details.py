"""options.details: templates rendered for each option, given with each option in
options answers, stored in the snapshot, shown (escaped) under the chosen value on
the issue page, returned by the host's issue API, and refused clearly when bad."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, ALICE, make_datasource, make_item
from tests.support.https_servers import Json

HOSTILE = '<img src=x onerror="window.__hostile=1">'
ASSETS = [
    {"id": "A-1", "name": "MacBook Pro", "serial": "SN-00003", "site": "Berlin"},
    {"id": "A-2", "name": "ThinkPad X1", "serial": HOSTILE, "site": None},
    {"id": "A-1", "name": "Duplicate", "serial": "dup", "site": "dup"},
]
DETAILS = [{"name": "Serial", "template": "${row.serial}"}, {"name": "Site", "template": "at ${row.site}"}]


@pytest.fixture
def world(people, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    item = make_item(client, ds["id"], options={"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}",
                                                "details": DETAILS})
    return client, ds, item


def test_the_item_keeps_its_details(world):
    client, _ds, item = world
    assert item["options"]["details"] == DETAILS
    assert client.get(f"/plugins/connect/api/items/{item['id']}", headers=ADMIN).json["options"]["details"] == DETAILS


def test_options_answers_carry_each_options_details_from_its_own_row(world):
    client, _ds, item = world
    body = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=ALICE).json
    assert body["options"] == [
        {"value": "A-1", "label": "MacBook Pro", "details": {"Serial": "SN-00003", "Site": "at Berlin"}},
        {"value": "A-2", "label": "ThinkPad X1", "details": {"Serial": HOSTILE, "Site": "at "}},
    ]


def test_a_chosen_value_stores_its_details_and_the_issue_api_returns_them(world):
    client, _ds, item = world
    key = item["field_key"]
    saved = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {key: "A-2"}})
    assert saved.status_code == 204, saved.get_data(as_text=True)
    stored = client.get("/rest/api/2/issue/DEMO-1", headers=ALICE).json["fields"][key]
    assert stored == {"value": "A-2", "label": "ThinkPad X1", "details": {"Serial": HOSTILE, "Site": "at "}}


def test_the_issue_page_shows_the_details_escaped_under_the_value(world):
    client, _ds, item = world
    key = item["field_key"]
    assert client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {key: "A-2"}}).status_code == 204
    html = client.get("/browse/DEMO-1", headers=ALICE).get_data(as_text=True)
    assert '<dl class="connect-details" data-details-of="A-2" aria-label="Details of ThinkPad X1">' in html
    assert "<dt>Serial</dt><dd>&lt;img src=x onerror=&#34;window.__hostile=1&#34;&gt;</dd>" in html
    assert HOSTILE not in html


def test_an_item_without_details_answers_as_before(people, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    item = make_item(client, ds["id"])
    assert "details" not in item["options"]
    body = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=ALICE).json
    assert body["options"][0] == {"value": "A-1", "label": "MacBook Pro"}


@pytest.mark.parametrize(("details", "message"), [
    ([{"name": f"D{i}", "template": "${row.id}"} for i in range(11)], "An item shows at most 10 details, not 11."),
    ([{"name": "", "template": "${row.id}"}], "Detail 1 needs a name."),
    ([{"name": "Serial", "template": "${row.a}"}, {"name": "serial", "template": "${row.b}"}],
     "Detail 2: the name 'serial' is used twice."),
    ([{"name": "Serial", "template": " "}], "Detail 'Serial' needs a template, e.g. ${row.serial}."),
    ([{"name": "Serial", "template": "${row.}"}],
     "The template of detail 'Serial' is not valid: a key name is expected at position 7."),
    ("Serial", 'options.details must be a list of {"name": …, "template": …}.'),
    ([{"name": "Serial", "template": "${row.a}", "colour": "red"}],
     'options.details must be a list of {"name": …, "template": …}. Unknown: colour.'),
])
def test_bad_details_are_refused_naming_the_field(world, details, message):
    client, ds, _item = world
    response = client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "Other", "datasource_id": ds["id"], "editor": "select", "query": "/assets",
        "options": {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}", "details": details}})
    assert response.status_code == 400
    assert response.json["fields"] == {"options.details": message}


def test_details_can_be_removed_with_an_empty_list(world):
    client, _ds, item = world
    patched = client.patch(f"/plugins/connect/api/items/{item['id']}", headers=ADMIN,
                           json={"options": {"details": []}})
    assert patched.status_code == 200 and "details" not in patched.json["options"]
    body = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=ALICE).json
    assert body["options"][0] == {"value": "A-1", "label": "MacBook Pro"}


def test_the_form_reads_and_writes_details_one_per_line():
    from connect_plugin.item_forms import details_from_text

    assert details_from_text("Serial = ${row.serial}\n\n URL = https://x/?a=${row.id} \nOwner") == [
        {"name": "Serial", "template": "${row.serial}"},
        {"name": "URL", "template": "https://x/?a=${row.id}"},
        {"name": "Owner", "template": ""},
    ]
