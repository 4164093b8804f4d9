"""A connected item's POST with a JSON body and its own headers (issue 14), against
an echo server: a real HTTPS server on loopback (the test CA) that records what
arrived. Hostile values substituted into the body stay inside their JSON strings;
into a header, a line break stops the call with a 400 naming the header."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.conftest import ADMIN, ALICE, make_datasource, make_item
from tests.support.https_servers import HTTPSServer, Json, Redirect

ROWS = {"items": [{"id": "A-1", "name": "MacBook Pro"}, {"id": "A-2", "name": "ThinkPad X1"}]}
HOSTILE = 'x"}], "admin": true, {"\\\\ \n\t\u00e9\u4e2d\U0001F600 $$ %00 \r\n'
BODY = {"filter": {"owner": "$currentUser.emailAddress", "text": "$userInput", "both": "[$issue.key] $userInput"},
        "limit": 50, "exact": True, "tags": ["static", "$issue.project"], "none": None, "cost": "$$5"}


def options(client, item_id, q=None, issue="DEMO-1", headers=ALICE):
    query = f"issue={issue}" + (f"&q={quote(q, safe='')}" if q is not None else "")
    return client.get(f"/plugins/connect/api/items/{item_id}/options?{query}", headers=headers)


@pytest.fixture
def echo(people, upstream):
    upstream.route("/api/search", Json(ROWS))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), headers=[{"name": "X-Tenant", "value": "acme"},
                                                                 {"name": "X-Version", "value": "2"}])
    return client, ds, upstream


def post_item(client, ds, **fields):
    return make_item(client, ds["id"], editor="autocomplete", query="/search", method="POST",
                     options={"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}"}, **fields)


def test_the_body_arrives_as_written_with_hostile_values_inside_their_strings(echo):
    client, ds, upstream = echo
    item = post_item(client, ds, body=BODY)
    assert item["method"] == "POST" and item["body"] == BODY and item["uses_user_input"] is True
    response = options(client, item["id"], q=HOSTILE)
    assert response.status_code == 200, response.json
    arrived = upstream.requests[-1]
    assert arrived.method == "POST" and arrived.path == "/api/search"
    assert arrived.header("content-type") == "application/json"
    assert json.loads(arrived.body.decode("utf-8")) == {
        "filter": {"owner": "alice@example.com", "text": HOSTILE, "both": f"[DEMO-1] {HOSTILE}"},
        "limit": 50, "exact": True, "tags": ["static", "DEMO"], "none": None, "cost": "$5"}
    assert arrived.header("x-tenant") == "acme", "the datasource's headers come along"


@pytest.mark.parametrize("value", ['"', "}", "\\", "\n", "\u2028", '"}]}', "\\\"", "\x00"])
def test_no_value_changes_the_structure(echo, value):
    client, ds, upstream = echo
    item = post_item(client, ds, body={"q": "$userInput", "n": 1})
    assert options(client, item["id"], q=value).status_code == 200
    document = json.loads(upstream.requests[-1].body)
    assert set(document) == {"q", "n"} and document["n"] == 1
    assert document["q"] == value


def test_item_headers_arrive_with_their_variables(echo):
    client, ds, upstream = echo
    item = post_item(client, ds, body={"q": "$userInput"}, headers=[
        {"name": "X-User", "value": "$currentUser.emailAddress"},
        {"name": "X-Issue", "value": "${issue.key}/$issue.project"},
        {"name": "X-Search", "value": "q=$userInput"},
        {"name": "x-version", "value": "3"}])
    assert options(client, item["id"], q="caf\u00e9 \u4e2d \"quoted\" \\").status_code == 200
    arrived = upstream.requests[-1]
    assert arrived.header("x-user") == "alice@example.com"
    assert arrived.header("x-issue") == "DEMO-1/DEMO"
    # Non-ASCII goes as UTF-8 bytes (the test server reads header bytes as Latin-1).
    assert arrived.header("x-search").encode("latin-1").decode("utf-8") == "q=caf\u00e9 \u4e2d \"quoted\" \\"
    assert arrived.header("x-version") == "3", "an item header replaces the datasource's"
    assert arrived.header("x-tenant") == "acme"


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x00b"])
def test_a_line_break_substituted_into_a_header_fails_the_call_with_a_400(echo, value):
    client, ds, upstream = echo
    item = make_item(client, ds["id"], query="/search", editor="autocomplete",
                     headers=[{"name": "X-Ok", "value": "1"}, {"name": "X-Search", "value": "$userInput"}])
    before = len(upstream.requests)
    response = options(client, item["id"], q=value)
    assert response.status_code == 400
    assert "X-Search" in response.json["error"] and "line break" in response.json["error"]
    assert "headers[1].value" in response.json["fields"]
    assert len(upstream.requests) == before, "nothing was sent"
    assert options(client, item["id"], q="fine").status_code == 200


def test_the_evaluated_body_is_part_of_the_cache_key(people, echo):
    client, ds, upstream = echo
    assert client.post("/rest/api/2/issue", headers=ALICE, json={
        "fields": {"project": {"key": "DEMO"}, "summary": "Second"}}).status_code == 201
    item = make_item(client, ds["id"], query="/search", method="POST", body={"issue": "$issue.key"})
    first = options(client, item["id"], issue="DEMO-1")
    second = options(client, item["id"], issue="DEMO-2")
    again = options(client, item["id"], issue="DEMO-1")
    assert (first.json["cached"], second.json["cached"], again.json["cached"]) == (False, False, True)
    assert [json.loads(r.body) for r in upstream.requests] == [{"issue": "DEMO-1"}, {"issue": "DEMO-2"}]


def test_item_headers_are_part_of_the_cache_key(people, echo):
    client, ds, upstream = echo
    assert client.post("/rest/api/2/issue", headers=ALICE, json={
        "fields": {"project": {"key": "DEMO"}, "summary": "Second"}}).status_code == 201
    item = make_item(client, ds["id"], query="/search", headers=[{"name": "X-Issue", "value": "$issue.key"}])
    assert options(client, item["id"], issue="DEMO-1").json["cached"] is False
    assert options(client, item["id"], issue="DEMO-2").json["cached"] is False
    assert options(client, item["id"], issue="DEMO-2").json["cached"] is True
    assert [r.header("x-issue") for r in upstream.requests] == ["DEMO-1", "DEMO-2"]


def test_the_tester_shows_the_evaluated_body_and_headers(echo):
    client, ds, upstream = echo
    item = post_item(client, ds, body={"q": "$userInput", "who": "$currentUser.displayName"},
                     headers=[{"name": "X-User", "value": "$currentUser.accountId"}])
    result = client.post(f"/plugins/connect/api/items/{item['id']}/test", headers=ADMIN,
                         json={"q": 'mac "pro"'}).json
    assert result["ok"] is True, result
    assert result["request"]["method"] == "POST"
    assert json.loads(result["request"]["body"]) == {"q": 'mac "pro"', "who": "Ada Admin"}
    assert result["request"]["headers"] == {"X-User": "admin"}
    assert json.loads(upstream.requests[-1].body) == {"q": 'mac "pro"', "who": "Ada Admin"}


def test_a_post_body_is_not_sent_to_another_origin(echo, ca):
    client, ds, upstream = echo
    with HTTPSServer(ca, {"/elsewhere": Json(ROWS)}) as other:
        upstream.route("/api/search", Redirect(other.url("/elsewhere"), 307))
        item = post_item(client, ds, body={"q": "$userInput"})
        response = options(client, item["id"], q="mac")
        assert response.status_code == 502
        assert other.requests == []


def test_get_items_stay_as_they_were(echo):
    client, ds, upstream = echo
    item = make_item(client, ds["id"], query="/search")
    assert item["method"] == "GET" and item["body"] is None and item["headers"] == []
    assert options(client, item["id"]).status_code == 200
    arrived = upstream.requests[-1]
    assert arrived.method == "GET" and arrived.body == b"" and arrived.header("content-type") is None


@pytest.mark.parametrize("fields, field, message", [
    ({"method": "POST", "body": "{not json"}, "body", "not valid JSON"),
    ({"method": "POST", "body": '{"a": 1,}'}, "body", "not valid JSON"),
    ({"method": "POST", "body": {"q": "$issue.nope"}}, "body", "Unknown variable $issue.nope"),
    ({"method": "POST", "body": {"deep": [{"q": "${userinput}"}]}}, "body", "$.deep[0].q"),
    ({"method": "POST", "body": {"q": "50$"}}, "body", "lone $"),
    ({"method": "GET", "body": {"q": 1}}, "body", "A GET request has no body"),
    ({"method": "PUT"}, "method", "GET, POST"),
    ({"method": "POST", "body": "[" * 5000 + "]" * 5000}, "body", "nested more than 32 levels"),
    ({"method": "POST", "body": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}},
     "body", "nested more than 32 levels"),
    ({"headers": [{"name": "X-A", "value": "$currentUser.password"}]}, "headers[0].value", "Unknown variable"),
    ({"headers": [{"name": "Bad Name", "value": "1"}]}, "headers[0].name", "not a valid header name"),
    ({"headers": [{"name": "Host", "value": "evil"}]}, "headers[0].name", "set by the HTTP client"),
    ({"headers": [{"name": "Content-Length", "value": "5"}]}, "headers[0].name", "set by the HTTP client"),
    ({"headers": [{"name": "X-A", "value": "a\r\nb"}]}, "headers[0].value", "line break"),
    ({"headers": [{"name": "X-A", "value": "1", "secret": True}]}, "headers[0]", "no setting secret"),
    ({"headers": "X-A: 1"}, "headers", "must be a list"),
])
def test_bad_bodies_and_headers_are_refused_when_saved(echo, fields, field, message):
    client, ds, _upstream = echo
    response = client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "Bad", "datasource_id": ds["id"], "editor": "select", "query": "/search", **fields})
    assert response.status_code == 400, response.json
    assert message in response.json["fields"][field], response.json


def test_the_auth_header_cannot_be_an_item_header(people, upstream):
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), auth={"mode": "bearer", "token": "Item-tok-91c3"})
    response = client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "Bad", "datasource_id": ds["id"], "editor": "select", "query": "/search",
        "headers": [{"name": "authorization", "value": "Bearer $userInput"}]})
    assert response.status_code == 400
    assert "set by the authentication" in response.json["fields"]["headers[0].name"]


def test_a_body_given_as_text_is_stored_as_json_and_patch_keeps_it(echo):
    client, ds, _upstream = echo
    item = post_item(client, ds, body='{"q": "$userInput", "n": [1, 2]}')
    assert item["body"] == {"q": "$userInput", "n": [1, 2]}
    url = f"/plugins/connect/api/items/{item['id']}"
    renamed = client.patch(url, headers=ADMIN, json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json["body"] == item["body"]
    to_get = client.patch(url, headers=ADMIN, json={"method": "GET", "body": None})
    assert to_get.status_code == 200 and to_get.json["body"] is None and to_get.json["method"] == "GET"


def test_a_body_variable_on_another_item_is_a_dependency(echo):
    client, ds, _upstream = echo
    other = make_item(client, ds["id"], name="Other", query="/search")
    item = post_item(client, ds, name="Dependent", body={"other": f"$issue.connected_item_{other['id']}"})
    assert item["depends_on"] == [other["id"]]
    missing = options(client, item["id"]).json
    assert missing["missing"] == other["field_key"] and "Other" in missing["message"]
    refused = client.delete(f"/plugins/connect/api/items/{other['id']}", headers=ADMIN)
    assert refused.status_code == 409
    unknown = client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "Unknown dep", "datasource_id": ds["id"], "editor": "select", "query": "/search",
        "method": "POST", "body": {"x": "$issue.connected_item_999"}})
    assert unknown.status_code == 400 and "names no existing connected item" in unknown.json["fields"]["body"]


def test_a_non_ascii_name_given_twice_is_refused_not_a_500(echo):
    """Found by the fuzzer once items had more fields: SQLite's lower() folds ASCII only."""
    client, ds, _upstream = echo
    make_item(client, ds["id"], name="Ïtem Ünïcode")
    again = client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "Ïtem Ünïcode", "datasource_id": ds["id"], "editor": "select", "query": "/search"})
    assert again.status_code == 400 and "already exists" in again.json["fields"]["name"]
