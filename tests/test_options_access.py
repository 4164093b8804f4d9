"""Options need the right that editing needs (issue 13 rule 7, CONTRACT sections 3
and 5): ``project=`` on a create screen, the item's ``projects`` on both screens,
and ``deps.`` never standing in for the issue's key, project or reporter, on the
endpoint and on the check of values set on an issue."""

from __future__ import annotations

import pytest

from connect_plugin.connected_items.variables import build_values
from connect_plugin.host_adapter import HostIssue, HostUser
from tests.conftest import ADMIN, ALICE, BOB, CAROL, make_datasource, make_item
from tests.support.https_servers import Json

ASSETS = [{"id": "A-1", "name": "MacBook Pro"}, {"id": "A-2", "name": "ThinkPad X1"}]
SCOPED = "/scoped?p=$issue.project&k=$issue.key&r=$issue.reporter&s=$issue.summary"


def options(client, item_id, headers=ALICE, **params):
    return client.get(f"/plugins/connect/api/items/{item_id}/options", query_string=params, headers=headers)


@pytest.fixture
def api(people, upstream):
    """DEMO (alice, bob) with DEMO-1, project OPS (bob only), an item for every
    project and one for OPS alone."""
    upstream.route("/api/assets", Json({"items": ASSETS}))
    upstream.route("/api/scoped", Json({"items": ASSETS}))
    client = people.test_client()
    assert client.post("/rest/api/2/project", headers=ADMIN,
                       json={"key": "OPS", "name": "Operations", "members": ["bob"]}).status_code == 201
    ds = make_datasource(client, upstream.url("/api"))
    everywhere = make_item(client, ds["id"])
    ops_only = make_item(client, ds["id"], name="Ops asset", projects=["OPS"])
    return client, upstream, everywhere["id"], ops_only["id"]


def test_without_an_issue_a_project_is_required(api):
    client, upstream, item, _ops = api
    calls = len(upstream.requests)
    for headers in (ALICE, CAROL, ADMIN):
        missing = options(client, item, headers=headers)
        assert missing.status_code == 400, missing.json
        assert "project" in missing.json["fields"]
    assert options(client, item, headers=ALICE, project="").status_code == 400
    assert len(upstream.requests) == calls, "nothing reaches the API before the right is checked"


def test_a_user_in_no_project_reads_no_options(api):
    client, upstream, item, ops = api
    calls = len(upstream.requests)
    for item_id, project in ((item, "DEMO"), (ops, "OPS"), (ops, "DEMO"), (999_999, "DEMO"), (item, "NOPE")):
        refused = options(client, item_id, headers=CAROL, project=project)
        assert refused.status_code == 403, (item_id, project, refused.json)
        # The same words whether the item exists, is restricted or the project exists:
        # a user without the right learns nothing from the answer.
        assert refused.json == {"error": f"You may not create issues in project {project}."}
    assert len(upstream.requests) == calls


def test_a_member_reads_options_on_the_create_screen_of_their_project(api):
    client, _upstream, item, ops = api
    created = options(client, item, headers=ALICE, project="DEMO")
    assert created.status_code == 200 and [o["value"] for o in created.json["options"]] == ["A-1", "A-2"]
    assert options(client, item, headers=ALICE, project="OPS").status_code == 403  # alice is not in OPS
    assert options(client, ops, headers=BOB, project="OPS").status_code == 200
    assert options(client, ops, headers=ADMIN, project="OPS").status_code == 200


def test_an_item_another_project_shows_is_not_found_as_if_unknown(api):
    client, upstream, _item, ops = api
    calls = len(upstream.requests)
    unknown = options(client, 999_999, headers=ALICE, project="DEMO")
    assert unknown.status_code == 404
    for params in ({"project": "DEMO"}, {"issue": "DEMO-1"}):
        hidden = options(client, ops, headers=ALICE, **params)
        assert hidden.status_code == 404, (params, hidden.json)
        assert hidden.json["error"] == unknown.json["error"].replace("999999", str(ops))
        assert "OPS" not in hidden.get_data(as_text=True)
    assert options(client, ops, headers=ADMIN, issue="DEMO-1").status_code == 404
    assert len(upstream.requests) == calls


def test_project_given_with_an_issue_must_be_the_issues(api):
    client, _upstream, item, _ops = api
    assert options(client, item, headers=ALICE, issue="DEMO-1", project="DEMO").status_code == 200
    mismatch = options(client, item, headers=ALICE, issue="DEMO-1", project="OPS")
    assert mismatch.status_code == 400 and "project" in mismatch.json["fields"]
    # The right on the issue comes first: a non-member hears only that.
    assert options(client, item, headers=CAROL, issue="DEMO-1", project="OPS").status_code == 403


def test_deps_never_set_an_issues_key_project_or_reporter(api):
    client, upstream, _item, _ops = api
    ds_id = client.get("/plugins/connect/api/datasources", headers=ADMIN).json[0]["id"]
    scoped = make_item(client, ds_id, name="Scoped", query=SCOPED)["id"]
    forged = {"deps.project": "OPS", "deps.key": "OPS-1", "deps.reporter": "bob", "deps.summary": "Edited"}

    assert options(client, scoped, headers=ALICE, issue="DEMO-1", **forged).status_code == 200
    seen = upstream.requests[-1]
    # deps.summary is a value being edited: it counts; the identity is the issue's.
    assert {k: v[0] for k, v in seen.query.items()} == {"p": "DEMO", "k": "DEMO-1", "r": "alice", "s": "Edited"}

    # A create screen: the project given, no key yet, the user who creates it as reporter.
    assert options(client, scoped, headers=BOB, project="DEMO", **forged).status_code == 200
    seen = upstream.requests[-1]
    assert {k: v[0] for k, v in seen.query.items()} == {"p": "DEMO", "k": "", "r": "bob", "s": "Edited"}


def test_the_tester_evaluates_a_create_screen_by_its_project_not_by_deps(api):
    """deps.project no longer stands in for a project anywhere; the admin's tester
    takes the create screen's project as its own input."""
    client, upstream, _item, _ops = api
    ds_id = client.get("/plugins/connect/api/datasources", headers=ADMIN).json[0]["id"]
    scoped = make_item(client, ds_id, name="Scoped", query=SCOPED)["id"]
    traced = client.post(f"/plugins/connect/api/items/{scoped}/test", headers=ADMIN,
                         json={"project": "OPS", "user": "bob", "deps": {"project": "DEMO", "summary": "New"}})
    assert traced.status_code == 200 and traced.json["ok"] is True, traced.json
    assert {k: v[0] for k, v in upstream.requests[-1].query.items()} == {"p": "OPS", "k": "", "r": "bob", "s": "New"}
    bad = client.post(f"/plugins/connect/api/items/{scoped}/test", headers=ADMIN, json={"project": 3})
    assert bad.status_code == 400 and "project" in bad.json["fields"]


def test_set_values_are_checked_with_the_issues_own_identity(bare_plugin, upstream):
    """The check of values a host sets (``for_hosts.set_connected_fields``) takes
    plain values of the same change as dependencies, but never the project, key or
    reporter: those are the issue's."""
    from connect_plugin import for_hosts
    from connect_plugin.errors import ValidationError

    app, host = bare_plugin
    upstream.route("/api/by-project", lambda r: Json([{"id": r.param("p"), "name": r.param("p")}]))
    client = app.test_client()
    ds = client.post("/plugins/connect/api/datasources", json={
        "name": "Assets", "type": "rest", "config": {"base_url": upstream.url("/api")}, "auth": {"mode": "none"}})
    item = client.post("/plugins/connect/api/items", json={
        "name": "Project asset", "datasource_id": ds.json["id"], "editor": "select",
        "query": "/by-project?p=$issue.project", "options": {"path": "$", "value": "${row.id}", "label": "${row.name}"}})
    key = item.json["field_key"]
    alice = host.users["alice"]
    with app.test_request_context():
        with pytest.raises(ValidationError) as refused:
            for_hosts.set_connected_fields(host.issues["DEMO-1"], {key: "OPS"}, alice, other_fields={"project": "OPS"})
        assert key in refused.value.fields
        stored = for_hosts.set_connected_fields(host.issues["DEMO-1"], {key: "DEMO"}, alice,
                                                other_fields={"project": "OPS"})
    assert stored == {key: {"value": "DEMO", "label": "DEMO"}}
    assert {r.param("p") for r in upstream.requests} == {"DEMO"}


def test_the_options_of_a_restricted_item_are_refused_on_the_bare_plugin(bare_plugin, upstream):
    """The create-screen right comes from the host adapter (``can_create_issue``)."""
    app, host = bare_plugin
    upstream.route("/api/assets", Json({"items": ASSETS}))
    client = app.test_client()
    ds = client.post("/plugins/connect/api/datasources", json={
        "name": "Assets", "type": "rest", "config": {"base_url": upstream.url("/api")}, "auth": {"mode": "none"}})
    item = client.post("/plugins/connect/api/items", json={
        "name": "Asset", "datasource_id": ds.json["id"], "editor": "select", "query": "/assets",
        "options": {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}"}}).json
    host.user = host.users["alice"]
    url = f"/plugins/connect/api/items/{item['id']}/options"
    assert client.get(url, query_string={"project": "DEMO"}).status_code == 200
    assert client.get(url, query_string={"project": "OPS"}).status_code == 403
    host.creators["DEMO"].discard("alice")
    assert client.get(url, query_string={"project": "DEMO"}).status_code == 403


def test_build_values_takes_the_identity_from_the_issue_or_the_create_screen():
    alice = HostUser("alice", "Alice", "alice@example.com")
    issue = HostIssue("DEMO-1", "DEMO", {"summary": "Laptop", "reporter": "bob"})
    names = frozenset({"issue.key", "issue.project", "issue.reporter", "issue.summary"})
    forged = {"key": "OPS-1", "project": "OPS", "reporter": "mallory", "summary": "Edited"}
    assert build_values(names, issue=issue, user=alice, deps=forged, user_input=None) == {
        "issue.key": "DEMO-1", "issue.project": "DEMO", "issue.reporter": "bob", "issue.summary": "Edited"}
    assert build_values(names, issue=None, project="DEMO", user=alice, deps=forged, user_input=None) == {
        "issue.key": None, "issue.project": "DEMO", "issue.reporter": "alice", "issue.summary": "Edited"}
    # Neither (the admin's tester without an issue): no identity at all, not the deps'.
    assert build_values(names, issue=None, user=alice, deps=forged, user_input=None)["issue.project"] is None


def test_an_incomplete_host_adapter_is_refused_at_start_up(tmp_path):
    from flask import Flask

    from connect_plugin import ConnectPlugin
    from tests.conftest import FakeHost

    class OldHost(FakeHost):
        can_create_issue = None  # written before the create-screen right existed

    app = Flask("old", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="x", DATABASE_URL=f"sqlite:///{tmp_path}/old.db")
    with pytest.raises(TypeError, match="lacks can_create_issue"):
        ConnectPlugin().init_app(app, host=OldHost())
