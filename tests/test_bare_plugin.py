"""The plugin on a plain Flask app with a small fake host (``bare_plugin``): its
services (datasources, connection test, items, options, caching, permissions) work
without the reference host, against a real HTTPS upstream on loopback."""

from __future__ import annotations

import pytest

from tests.support.https_servers import HTTPSServer, Json

API = "/plugins/connect/api"
ASSETS = [{"id": 1, "name": "MacBook Pro 14", "serial": "C02XK1"},
          {"id": 2, "name": "ThinkPad X1", "serial": "PF3N7Q"}]


@pytest.fixture
def upstream(ca):
    server = HTTPSServer(ca, {"/api/health": Json({"status": "ok"}), "/api/assets": Json({"items": ASSETS})})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bare(bare_plugin, upstream):
    """The bare app with one datasource (a bearer token) and one item on it."""
    app, host = bare_plugin
    client = app.test_client()
    ds = client.post(f"{API}/datasources", json={
        "name": "Assets", "type": "rest",
        "config": {"base_url": upstream.url("/api"), "health_check_url": upstream.url("/api/health")},
        "auth": {"mode": "bearer", "token": "Bare-plugin-token-5e1"}})
    assert ds.status_code == 201, ds.json
    item = client.post(f"{API}/items", json={
        "name": "Asset", "datasource_id": ds.json["id"], "editor": "select", "query": "/assets?s=$issue.summary",
        "options": {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name} (${row.serial})"}})
    assert item.status_code == 201, item.json
    return app, host, client, ds.json, item.json


def test_a_datasource_is_stored_without_showing_its_secret(bare):
    _app, _host, client, ds, _item = bare
    assert ds["auth"] == {"mode": "bearer", "token_set": True}
    listed = client.get(f"{API}/datasources")
    assert listed.status_code == 200
    assert [d["name"] for d in listed.json] == ["Assets"]
    assert "Bare-plugin-token-5e1" not in listed.get_data(as_text=True)


def test_the_connection_test_calls_the_health_check_with_the_token(bare, upstream):
    _app, _host, client, ds, _item = bare
    tested = client.post(f"{API}/datasources/{ds['id']}/test")
    assert tested.status_code == 200
    assert tested.json["ok"] is True and tested.json["status"] == 200
    (call,) = upstream.requests
    assert call.path == "/api/health" and call.header("Authorization") == "Bearer Bare-plugin-token-5e1"


def test_options_read_the_issue_from_the_fake_host_and_are_cached(bare, upstream):
    _app, host, client, _ds, item = bare
    first = client.get(f"{API}/items/{item['id']}/options?issue=DEMO-1")
    assert first.status_code == 200, first.json
    assert first.json == {"options": [{"value": "1", "label": "MacBook Pro 14 (C02XK1)"},
                                      {"value": "2", "label": "ThinkPad X1 (PF3N7Q)"}],
                          "total": 2, "cached": False}
    assert upstream.requests[0].param("s") == "Laptop C02XK1 does not charge"
    again = client.get(f"{API}/items/{item['id']}/options?issue=DEMO-1")
    assert again.json["cached"] is True and len(upstream.requests) == 1
    # An unsaved summary on screen (deps.summary) is another call, cached apart.
    edited = client.get(f"{API}/items/{item['id']}/options?issue=DEMO-1&deps.summary=ThinkPad")
    assert edited.json["cached"] is False and upstream.requests[1].param("s") == "ThinkPad"


def test_clearing_the_cache_makes_the_next_answer_fresh(bare, upstream):
    _app, _host, client, ds, item = bare
    client.get(f"{API}/items/{item['id']}/options?issue=DEMO-1")
    cleared = client.post(f"{API}/datasources/{ds['id']}/cache/clear")
    assert cleared.status_code == 200, cleared.json
    fresh = client.get(f"{API}/items/{item['id']}/options?issue=DEMO-1")
    assert fresh.json["cached"] is False and len(upstream.requests) == 2


def test_the_fake_host_decides_who_may_read_options(bare, upstream):
    _app, host, client, _ds, item = bare
    host.user = host.users["alice"]
    assert client.get(f"{API}/items/{item['id']}/options?issue=DEMO-1").status_code == 200
    host.editors["DEMO-1"] = {"admin"}
    refused = client.get(f"{API}/items/{item['id']}/options?issue=DEMO-1")
    assert refused.status_code == 403
    assert client.get(f"{API}/items/{item['id']}/options?issue=NOPE-1").status_code == 404
    # Alice is no admin: datasource management is refused by the host's answer.
    assert client.get(f"{API}/datasources").status_code == 403
    host.user = None
    assert client.get(f"{API}/datasources").status_code == 401


def test_field_values_are_checked_against_the_options_and_stored_through_the_host(bare):
    from connect_plugin import for_hosts
    from connect_plugin.errors import ValidationError

    app, host, _client, _ds, item = bare
    key = item["field_key"]
    with app.test_request_context():
        stored = for_hosts.set_connected_fields(host.issues["DEMO-1"], {key: "2"}, host.users["alice"])
        assert stored == {key: {"value": "2", "label": "ThinkPad X1 (PF3N7Q)"}}
        with pytest.raises(ValidationError) as refused:
            for_hosts.set_connected_fields(host.issues["DEMO-1"], {key: "99"}, host.users["alice"])
    assert key in refused.value.fields
    assert host.stored == [("DEMO-1", item["id"], {"value": "2", "label": "ThinkPad X1 (PF3N7Q)"})]


def test_the_configuration_tester_runs_as_the_user_the_host_finds(bare, upstream):
    _app, _host, client, _ds, item = bare
    traced = client.post(f"{API}/items/{item['id']}/test", json={"issue": "DEMO-1", "user": "alice"})
    assert traced.status_code == 200, traced.json
    unknown = client.post(f"{API}/items/{item['id']}/test", json={"issue": "DEMO-1", "user": "mallory"})
    assert unknown.status_code == 400
    assert unknown.json["fields"] == {"user": "There is no user mallory."}
    assert "Bare-plugin-token-5e1" not in traced.get_data(as_text=True)
    assert upstream.requests[-1].param("s") == "Laptop C02XK1 does not charge"
