"""A datasource's custom headers (issue 14, CONTRACT section 5 ``config.headers``):
sent on every call as written, refused with a message naming the header when they
could break the request or hijack the credentials, and a secret one treated like
every other stored secret (never shown, kept by a PATCH, left behind on a
cross-origin redirect, given again when a URL moves to another host)."""

from __future__ import annotations

import logging

import pytest

from connect_plugin.outbound.redact import known_secrets
from tests.conftest import ADMIN, make_datasource
from tests.support.https_servers import HTTPSServer, Json, Redirect

API = "/plugins/connect/api/datasources"
SECRET = "Hdr-secret-5a1f93c7"
HEADERS = [{"name": "X-Tenant", "value": "acme"}, {"name": "X-Auth", "value": SECRET, "secret": True}]


def create(client, upstream, headers=HEADERS, auth=None):
    upstream.route("/health", Json({"ok": True}))
    return make_datasource(client, upstream.url("/api"), health_check_url=upstream.url("/health"),
                           headers=headers, auth=auth)


def connection_test(client, ds) -> dict:
    return client.post(f"{API}/{ds['id']}/test", headers=ADMIN).json


def test_the_headers_arrive_and_the_secret_one_is_never_shown(people, upstream):
    client = people.test_client()
    ds = create(client, upstream)
    shown = [{"name": "X-Tenant", "value": "acme"}, {"name": "X-Auth", "secret": True, "value_set": True}]
    assert ds["config"]["headers"] == shown
    assert connection_test(client, ds)["ok"] is True
    arrived = upstream.requests[-1]
    assert arrived.header("x-tenant") == "acme" and arrived.header("x-auth") == SECRET

    answers = [client.get(f"{API}/{ds['id']}", headers=ADMIN), client.get(API, headers=ADMIN),
               client.get(f"/plugins/connect/admin/datasources/{ds['id']}", headers=ADMIN),
               client.get("/plugins/connect/admin/datasources", headers=ADMIN)]
    assert all(a.status_code == 200 for a in answers)
    assert all(SECRET not in a.get_data(as_text=True) for a in answers)
    assert answers[0].json["config"]["headers"] == shown
    assert SECRET in known_secrets()._secrets, "the leak guard and the redactor watch the value"


def test_a_patch_naming_the_secret_header_without_value_keeps_it(people, upstream):
    client = people.test_client()
    ds = create(client, upstream)
    url = f"{API}/{ds['id']}"
    kept = client.patch(url, headers=ADMIN, json={"config": {"headers": [
        {"name": "X-Tenant", "value": "globex"}, {"name": "x-auth", "secret": True}]}})
    assert kept.status_code == 200, kept.json
    assert kept.json["config"]["headers"][1] == {"name": "x-auth", "secret": True, "value_set": True}
    assert connection_test(client, ds)["ok"] is True
    assert upstream.requests[-1].header("x-auth") == SECRET
    assert upstream.requests[-1].header("x-tenant") == "globex"

    # A change elsewhere (another auth mode, a timeout) keeps the headers and their secret.
    other = client.patch(url, headers=ADMIN, json={"auth": {"mode": "bearer", "token": "Bearer-tok-0c44"},
                                                   "config": {"timeout_seconds": 7}})
    assert other.status_code == 200, other.json
    assert connection_test(client, ds)["ok"] is True
    assert upstream.requests[-1].header("x-auth") == SECRET
    assert upstream.requests[-1].header("authorization") == "Bearer Bearer-tok-0c44"

    replaced = client.patch(url, headers=ADMIN, json={"config": {"headers": [
        {"name": "X-Auth", "secret": True, "value": "Hdr-secret-new-77b0"}]}})
    assert replaced.status_code == 200
    assert connection_test(client, ds)["ok"] is True
    assert upstream.requests[-1].header("x-auth") == "Hdr-secret-new-77b0"
    assert upstream.requests[-1].header("x-tenant") is None, "a header left out of the list is gone"

    dropped = client.patch(url, headers=ADMIN, json={"config": {"headers": []}})
    assert dropped.status_code == 200 and "headers" not in dropped.json["config"]
    assert connection_test(client, ds)["ok"] is True
    assert upstream.requests[-1].header("x-auth") is None


def test_an_unchanged_patch_keeps_the_version(people, upstream):
    client = people.test_client()
    ds = create(client, upstream)
    again = client.patch(f"{API}/{ds['id']}", headers=ADMIN, json={
        "config": {"headers": [{"name": "X-Tenant", "value": "acme"}, {"name": "X-Auth", "secret": True}]},
        "auth": {"mode": "none"}})
    assert again.status_code == 200 and again.json["version"] == ds["version"]


def test_a_new_secret_header_needs_its_value(people, upstream):
    client = people.test_client()
    ds = create(client, upstream)
    refused = client.patch(f"{API}/{ds['id']}", headers=ADMIN, json={"config": {"headers": [
        {"name": "X-Other", "secret": True}]}})
    assert refused.status_code == 400
    assert refused.json["fields"] == {"config.headers[0].value": "The value of X-Other is required."}


@pytest.mark.parametrize("headers, auth, field, message", [
    ([{"name": "Bad Header", "value": "x"}], None, "config.headers[0].name", "not a valid header name"),
    ([{"name": "X-A:b", "value": "x"}], None, "config.headers[0].name", "not a valid header name"),
    ([{"name": "", "value": "x"}], None, "config.headers[0].name", "required"),
    ([{"name": "X-Ok", "value": "1"}, {"name": "Host", "value": "evil.example"}], None,
     "config.headers[1].name", "Host is set by the HTTP client"),
    ([{"name": "content-length", "value": "0"}], None, "config.headers[0].name", "set by the HTTP client"),
    ([{"name": "Transfer-Encoding", "value": "chunked"}], None, "config.headers[0].name", "set by the HTTP client"),
    ([{"name": "Connection", "value": "close"}], None, "config.headers[0].name", "set by the HTTP client"),
    ([{"name": "Authorization", "value": "Bearer x"}], {"mode": "bearer", "token": "t-1234"},
     "config.headers[0].name", "set by the authentication"),
    ([{"name": "authorization", "value": "x"}], {"mode": "basic", "username": "u", "password": "p-1234"},
     "config.headers[0].name", "set by the authentication"),
    ([{"name": "X-Key", "value": "x"}], {"mode": "api_key", "location": "header", "key": "X-Key", "value": "k-1234"},
     "config.headers[0].name", "set by the authentication"),
    ([{"name": "X-Ten", "value": "a\r\nX-Injected: 1"}], None, "config.headers[0].value", "line break"),
    ([{"name": "X-Ten", "value": "a\nb"}], None, "config.headers[0].value", "line break"),
    ([{"name": "X-Ten", "value": "a\x00b"}], None, "config.headers[0].value", "NUL"),
    ([{"name": "X-Sec", "value": "s\r\nX: 1", "secret": True}], None, "config.headers[0].value", "line break"),
    ([{"name": "X-Ten", "value": 5}], None, "config.headers[0].value", "must be text"),
    ([{"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"}], None, "config.headers[1].name", "twice"),
    ([{"name": f"X-{i}", "value": "v"} for i in range(21)], None, "config.headers", "At most 20"),
    ({"X-Tenant": "acme"}, None, "config.headers", "must be a list"),
    ([{"name": "X-A", "value": "1", "colour": "red"}], None, "config.headers[0]", "no setting colour"),
])
def test_bad_headers_are_refused_naming_the_header(people, headers, auth, field, message):
    response = people.test_client().post(API, headers=ADMIN, json={
        "name": "Assets", "type": "rest", "config": {"base_url": "https://127.0.0.1:9/api", "headers": headers},
        "auth": auth or {"mode": "none"}})
    assert response.status_code == 400, response.json
    assert message in response.json["fields"][field], response.json
    assert "a\r\n" not in str(response.json) and "s\r\n" not in str(response.json)


def test_an_auth_change_that_takes_a_header_is_refused(people, upstream):
    client = people.test_client()
    ds = create(client, upstream, headers=[{"name": "X-Key", "value": "plain"}])
    refused = client.patch(f"{API}/{ds['id']}", headers=ADMIN, json={
        "auth": {"mode": "api_key", "location": "header", "key": "x-key", "value": "Key-9a0b7d"}})
    assert refused.status_code == 400
    assert "set by the authentication" in refused.json["fields"]["config.headers[0].name"]
    # In the query string the key takes no header: accepted.
    ok = client.patch(f"{API}/{ds['id']}", headers=ADMIN, json={
        "auth": {"mode": "api_key", "location": "query", "key": "x-key", "value": "Key-9a0b7d"}})
    assert ok.status_code == 200, ok.json


def test_the_secret_header_is_not_sent_across_origins(people, upstream, ca):
    client = people.test_client()
    with HTTPSServer(ca, {"/elsewhere": Json({"ok": True})}) as other:
        ds = create(client, upstream)
        upstream.route("/health", Redirect(other.url("/elsewhere"), 307))
        assert connection_test(client, ds)["ok"] is True
        assert upstream.requests[-1].header("x-auth") == SECRET
        arrived = other.requests[-1]
        assert arrived.header("x-auth") is None, "a secret header stays on the datasource's origin"
        assert SECRET not in str(arrived.headers)
        assert arrived.header("x-tenant") == "acme", "a plain header is no credential"


def test_same_origin_redirects_keep_the_secret_header(people, upstream):
    client = people.test_client()
    ds = create(client, upstream)
    upstream.route("/health", Redirect(upstream.url("/health2"), 302))
    upstream.route("/health2", Json({"ok": True}))
    assert connection_test(client, ds)["ok"] is True
    assert upstream.requests[-1].path == "/health2" and upstream.requests[-1].header("x-auth") == SECRET


def test_moving_the_base_url_needs_the_secret_header_again(people, upstream, ca):
    client = people.test_client()
    ds = create(client, upstream)
    url = f"{API}/{ds['id']}"
    with HTTPSServer(ca, {"/health": Json({"ok": True})}) as other:
        move = {"base_url": other.url("/api"), "health_check_url": other.url("/health")}
        refused = client.patch(url, headers=ADMIN, json={"config": move})
        assert refused.status_code == 400
        message = refused.json["fields"]["config.headers[1].value"]
        assert message.startswith("Enter the value of X-Auth again:") and "other host" in message
        assert client.get(url, headers=ADMIN).json["config"]["base_url"] == upstream.url("/api")

        given = client.patch(url, headers=ADMIN, json={"config": {**move, "headers": [
            {"name": "X-Tenant", "value": "acme"}, {"name": "X-Auth", "secret": True, "value": "Hdr-moved-31d4"}]}})
        assert given.status_code == 200, given.json
        assert connection_test(client, ds)["ok"] is True
        assert other.requests[-1].header("x-auth") == "Hdr-moved-31d4"


def test_the_secret_header_is_never_logged(people, upstream, caplog):
    client = people.test_client()
    ds = create(client, upstream)
    upstream.route("/health", Json({"echo": SECRET}, status=500))
    with caplog.at_level(logging.DEBUG):
        result = connection_test(client, ds)
    assert result["ok"] is False and SECRET not in str(result)
    assert SECRET not in caplog.text


def test_answers_with_headers_match_the_openapi_schema(people, upstream, repo_root):
    import jsonschema_rs
    import yaml

    spec = yaml.safe_load((repo_root / "connect_plugin" / "openapi.yaml").read_text())
    validator = jsonschema_rs.validator_for({"$ref": "#/components/schemas/Datasource",
                                             "components": spec["components"]})
    ds = create(people.test_client(), upstream)
    assert [e.message for e in validator.iter_errors(ds)] == []


def test_an_exported_secret_header_comes_back_waiting_for_its_value(people, upstream):
    """Configuration as data: the export holds no secret header value; importing it
    into a datasource that lacks the value keeps the header and asks for it."""
    client = people.test_client()
    ds = create(client, upstream)
    document = client.get("/plugins/connect/api/config", headers=ADMIN).json
    assert SECRET not in str(document)
    assert document["datasources"][0]["config"]["headers"] == [{"name": "X-Tenant", "value": "acme"},
                                                               {"name": "X-Auth", "secret": True}]
    unchanged = client.post("/plugins/connect/api/config", headers=ADMIN, json=document)
    assert unchanged.status_code == 200, unchanged.json
    assert unchanged.json["secrets_needed"] == []  # the stored value is kept

    document["datasources"][0]["name"] = "Copy"
    copied = client.post("/plugins/connect/api/config", headers=ADMIN, json=document)
    assert copied.status_code == 200, copied.json
    assert copied.json["secrets_needed"] == [{"datasource": "Copy", "fields": ["headers.X-Auth"]}]
    copy = next(d for d in client.get(API, headers=ADMIN).json if d["name"] == "Copy")
    assert copy["config"]["headers"][1] == {"name": "X-Auth", "secret": True, "value_set": False}
    waiting = connection_test(client, copy)
    assert waiting["ok"] is False and "headers.X-Auth" in waiting["error"]
    given = client.patch(f"{API}/{copy['id']}", headers=ADMIN, json={"config": {"headers": [
        {"name": "X-Tenant", "value": "acme"}, {"name": "X-Auth", "secret": True, "value": "Copy-hdr-5e0b"}]}})
    assert given.status_code == 200 and connection_test(client, copy)["ok"] is True
    assert upstream.requests[-1].header("x-auth") == "Copy-hdr-5e0b"
    assert connection_test(client, ds)["ok"] is True
