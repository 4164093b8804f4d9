"""The host's create screen (/projects/<key>/create): for the project's members and
admins; its connected fields ask for options with project= and what is picked is
checked like an edit before the issue exists (all or nothing)."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, ALICE, csrf_from, login, make_datasource, make_item
from tests.support.https_servers import Json

ASSETS = [{"id": "A-1", "name": "MacBook Pro"}, {"id": "A-2", "name": "ThinkPad X1"}]


@pytest.fixture
def screen(people, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    item = make_item(client, ds["id"])
    login(client, "alice", "alice-pw")
    return client, ds, item


def create(client, **form):
    page = client.get("/projects/DEMO/create")
    return client.post("/projects/DEMO/create", data={"csrf_token": csrf_from(page.get_data(as_text=True)), **form})


def test_the_create_screen_is_for_the_projects_members(people):
    anonymous = people.test_client().get("/projects/DEMO/create")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    carol = people.test_client()
    login(carol, "carol", "carol-pw")
    assert carol.get("/projects/DEMO/create").status_code == 403
    assert "Create issue in" not in carol.get("/").get_data(as_text=True)
    alice = people.test_client()
    login(alice, "alice", "alice-pw")
    assert alice.get("/projects/NOPE/create").status_code == 404
    assert 'href="/projects/DEMO/create"' in alice.get("/").get_data(as_text=True)


def test_its_fields_name_the_project_not_an_issue(screen):
    client, _ds, item = screen
    html = client.get("/projects/DEMO/create").get_data(as_text=True)
    assert f'id="{item["field_key"]}-field"' in html
    assert 'data-issue=""' in html and 'data-project="DEMO"' in html


def test_a_picked_value_is_checked_and_stored_on_the_new_issue(screen):
    client, _ds, item = screen
    key = item["field_key"]
    created = create(client, summary="New laptop", description="", **{key: "A-2", f"{key}__present": "1"})
    assert created.status_code == 302 and created.headers["Location"] == "/browse/DEMO-2"
    fields = client.get("/rest/api/2/issue/DEMO-2", headers=ALICE).json["fields"]
    assert fields["summary"] == "New laptop" and fields[key] == {"value": "A-2", "label": "ThinkPad X1"}


def test_a_value_not_offered_creates_nothing(screen, upstream):
    client, ds, item = screen
    key = item["field_key"]
    refused = create(client, summary="Not offered", description="", **{key: "A-999", f"{key}__present": "1"})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "A-999" in html and 'value="Not offered"' in html  # what was typed is kept
    assert client.get("/rest/api/2/issue/DEMO-2", headers=ALICE).status_code == 404

    upstream.route("/api/assets", lambda r: (503, {}, b"down"))
    client.post(f"/plugins/connect/api/datasources/{ds['id']}/cache/clear", headers=ADMIN)
    failed = create(client, summary="API down", description="", **{key: "A-1", f"{key}__present": "1"})
    assert failed.status_code == 502 and "Nothing was saved" in failed.get_data(as_text=True)
    assert client.get("/rest/api/2/issue/DEMO-2", headers=ALICE).status_code == 404
    assert create(client, summary="", description="").status_code == 400
