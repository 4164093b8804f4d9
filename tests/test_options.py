"""Connected items against a real HTTPS API on loopback: variables, injection
attempts, dependencies, mapping, paging, search, caching and permissions."""

from __future__ import annotations

import threading
import time
from urllib.parse import unquote

import pytest

from tests.conftest import ADMIN, ALICE, BOB, CAROL, make_datasource, make_item
from tests.support.https_servers import Json

ASSETS = [
    {"id": "A-1", "name": "MacBook Pro", "serial": "C02", "owner": {"email": "alice@example.com"}},
    {"id": "A-2", "name": "ThinkPad X1", "serial": "PF3", "owner": {"email": "bob@example.com"}},
    {"id": "A-3", "name": "Dell Monitor", "serial": "CN0"},
    {"id": "A-1", "name": "Duplicate of A-1", "serial": "dup"},
]


def options(client, item_id, headers=ALICE, **params):
    """The item's options for ``issue=`` when given, else on a create screen of DEMO."""
    if "issue" not in params and "project" not in params:
        params = {"project": "DEMO", **params}
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"/plugins/connect/api/items/{item_id}/options?{query}", headers=headers)


@pytest.fixture
def api(people, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    return client, ds, upstream


def test_options_map_rows_dedupe_and_keep_order(api):
    client, ds, upstream = api
    item = make_item(client, ds["id"], options={"path": "$.items[*]", "value": "${row.id}",
                                                "label": "${row.name} (${row.serial}) ${row.owner.email}"})
    body = options(client, item["id"], issue="DEMO-1").json
    assert body["total"] == 3 and body["cached"] is False
    assert body["options"] == [
        {"value": "A-1", "label": "MacBook Pro (C02) alice@example.com"},
        {"value": "A-2", "label": "ThinkPad X1 (PF3) bob@example.com"},
        {"value": "A-3", "label": "Dell Monitor (CN0) "},
    ]


def test_every_variable_kind_reaches_the_upstream(api):
    client, ds, upstream = api
    continent = make_item(client, ds["id"], name="Continent", query="/continents")
    query = ("/assets/$issue.project/${issue.key}?s=$issue.summary&d=$issue.description&r=$issue.reporter"
             f"&c=$issue.connected_item_{continent['id']}&id=$currentUser.accountId&n=$currentUser.displayName"
             "&e=$currentUser.emailAddress&q=$userInput")
    upstream.route("/api/assets/DEMO/DEMO-1", Json({"items": ASSETS}))
    item = make_item(client, ds["id"], name="Everything", query=query)
    response = options(client, item["id"], issue="DEMO-1", q="mac", **{f"deps.connected_item_{continent['id']}": "EU"})
    assert response.status_code == 200, response.json
    seen = upstream.requests[-1]
    assert seen.path == "/api/assets/DEMO/DEMO-1"
    assert {k: v[0] for k, v in seen.query.items()} == {
        "s": "Laptop for Alice", "d": "", "r": "alice", "c": "EU", "id": "alice", "n": "Alice Doe",
        "e": "alice@example.com", "q": "mac"}


@pytest.mark.parametrize("evil", [
    "../../admin", "a/b", "x?admin=1", "x&owner=root", "x#frag", "%2F..%2Fadmin", "line\r\nX-Injected: 1",
    "Ünïcødé 名前 🚀", "..", ".", "@evil.example:443", "\\..\\secret", "x=1;y=2", "+plus+",
])
def test_injected_values_never_change_host_path_or_parameters(api, evil):
    client, ds, upstream = api
    upstream.route("/api/assets/find", Json({"items": ASSETS}))
    item = make_item(client, ds["id"], name="Injected", query="/assets/find?owner=alice&q=$userInput")
    path_item = make_item(client, ds["id"], name="InPath", query="/assets/$userInput/info")
    response = options(client, item["id"], q=evil.replace("%", "%25").replace("&", "%26").replace("#", "%23")
                       .replace("+", "%2B").replace("\r", "%0D").replace("\n", "%0A").replace("?", "%3F"))
    assert response.status_code == 200, response.json
    seen = upstream.requests[-1]
    assert seen.path == "/api/assets/find"
    assert set(seen.query) == {"owner", "q"}
    assert seen.query["owner"] == ["alice"]
    assert seen.query["q"] == [evil]

    # In a path segment the value stays one segment, however it is spelled.
    upstream.route("/api/assets", Json({"items": []}))
    before = len(upstream.requests)
    options(client, path_item["id"], q=evil.replace("%", "%25").replace("&", "%26").replace("#", "%23")
            .replace("+", "%2B").replace("\r", "%0D").replace("\n", "%0A").replace("?", "%3F"))
    seen = upstream.requests[before:]
    assert len(seen) == 1
    raw_path = seen[0].path
    assert raw_path.startswith("/api/assets/") and raw_path.endswith("/info")
    assert raw_path.count("/") == 4, raw_path
    assert unquote(raw_path.split("/")[3]) == evil


def test_a_chain_of_dependent_items(api):
    client, ds, upstream = api
    upstream.route("/api/continents", Json([{"code": "EU", "name": "Europe"}, {"code": "AS", "name": "Asia"}]))
    upstream.route("/api/countries", lambda r: Json({"countries": {
        "EU": [{"code": "FR", "name": "France"}, {"code": "DE", "name": "Germany"}],
        "AS": [{"code": "JP", "name": "Japan"}]}[r.param("continent")]}))
    upstream.route("/api/cities", lambda r: Json([{"id": f"{r.param('country')}-1", "name": "Capital"}]))
    continent = make_item(client, ds["id"], name="Continent", query="/continents",
                          options={"path": "$[*]", "value": "${row.code}", "label": "${row.name}"})
    country = make_item(client, ds["id"], name="Country",
                        query=f"/countries?continent=$issue.connected_item_{continent['id']}",
                        options={"path": "$.countries", "value": "${row.code}", "label": "${row.name}"})
    city = make_item(client, ds["id"], name="City", query=f"/cities?country=$issue.connected_item_{country['id']}",
                     options={"path": "$", "value": "${row.id}", "label": "${row.name}"})
    assert country["depends_on"] == [continent["id"]]

    calls = len(upstream.requests)
    waiting = options(client, country["id"], issue="DEMO-1").json
    assert waiting["options"] == [] and waiting["message"] == "Fill in Continent first."
    assert waiting["missing"] == f"connected_item_{continent['id']}"
    assert len(upstream.requests) == calls, "no call while a dependency is empty"

    europe = options(client, country["id"], issue="DEMO-1", **{f"deps.connected_item_{continent['id']}": "EU"}).json
    assert [o["value"] for o in europe["options"]] == ["FR", "DE"]

    # Store the chain on the issue; then the stored values feed the next item.
    assert client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {
        f"connected_item_{continent['id']}": "AS", f"connected_item_{country['id']}": "JP"}}).status_code == 204
    stored = client.get("/rest/api/2/issue/DEMO-1", headers=ALICE).json["fields"]
    assert stored[f"connected_item_{continent['id']}"] == {"value": "AS", "label": "Asia"}
    assert stored[f"connected_item_{country['id']}"] == {"value": "JP", "label": "Japan"}
    assert options(client, city["id"], issue="DEMO-1").json["options"] == [{"value": "JP-1", "label": "Capital"}]
    # A value being edited wins over the stored one.
    edited = options(client, city["id"], issue="DEMO-1", **{f"deps.connected_item_{country['id']}": "FR"}).json
    assert edited["options"][0]["value"] == "FR-1"

    # Cycles and self-references are refused when saved.
    cycle = client.patch(f"/plugins/connect/api/items/{continent['id']}", headers=ADMIN,
                         json={"query": f"/continents?x=$issue.connected_item_{city['id']}"})
    assert cycle.status_code == 400 and "cycle" in cycle.json["fields"]["query"]
    in_use = client.delete(f"/plugins/connect/api/items/{continent['id']}", headers=ADMIN)
    assert in_use.status_code == 409 and "Country" in in_use.json["error"]


def test_mapping_of_nested_and_missing_keys_and_scalars(api):
    client, ds, upstream = api
    upstream.route("/api/nested", Json({"data": {"results": [
        {"id": 1, "attrs": {"name": "One", "tags": ["a", "b"]}, "active": True},
        {"id": 2.5, "attrs": {}, "active": None},
        {"attrs": {"name": "no id"}},
    ]}}))
    item = make_item(client, ds["id"], name="Nested", query="/nested",
                     options={"path": "$.data.results[*]", "value": "${row.id}",
                              "label": "${row.attrs.name}|${row.attrs.tags[1]}|${row.active}"})
    body = options(client, item["id"]).json
    assert body["options"] == [{"value": "1", "label": "One|b|true"}, {"value": "2.5", "label": "||"}]


def test_paging_and_search(api):
    client, ds, upstream = api
    rows = [{"id": str(i), "name": f"Asset {i:03d}" if i % 2 else f"Laptop {i:03d}"} for i in range(250)]
    upstream.route("/api/many", Json(rows))
    upstream.route("/api/search", lambda r: Json([row for row in rows if r.param("q", "") in row["name"]][:3]))
    item = make_item(client, ds["id"], name="Many", query="/many", options={"path": "$", "value": "${row.id}",
                                                                            "label": "${row.name}"})
    first = options(client, item["id"]).json
    assert first["total"] == 250 and len(first["options"]) == 50
    page = options(client, item["id"], limit=200, offset=240).json
    assert [o["value"] for o in page["options"]] == [str(i) for i in range(240, 250)]
    assert options(client, item["id"], limit=201).status_code == 400
    assert options(client, item["id"], limit=0).status_code == 400
    # No $userInput in the query: q filters labels, case-insensitive, contains.
    laptops = options(client, item["id"], q="LAPTOP 01", limit=200).json
    assert laptops["total"] == 5 and all("Laptop 01" in o["label"] for o in laptops["options"])
    assert laptops["cached"] is True
    # With $userInput the upstream searches, and its answer is not filtered again.
    search = make_item(client, ds["id"], name="Search", editor="autocomplete", query="/search?q=$userInput",
                       options={"path": "$", "value": "${row.id}", "label": "${row.name}"})
    found = options(client, search["id"], q="Asset").json
    assert upstream.requests[-1].query["q"] == ["Asset"] and found["total"] == 3


def test_cache_rules(api, people):
    client, ds, upstream = api
    count = {"n": 0}

    def counted(request):
        count["n"] += 1
        if request.param("fail"):
            return 500, {"Content-Type": "application/json"}, b'{"message":"boom"}'
        return Json({"items": [{"id": request.param("owner") or "none", "name": f"call {count['n']}"}]})

    upstream.route("/api/counted", counted)
    item = make_item(client, ds["id"], name="Counted", query="/counted?owner=$currentUser.accountId")
    first = options(client, item["id"]).json
    second = options(client, item["id"]).json
    assert (first["cached"], second["cached"], count["n"]) == (False, True, 1)
    assert second["options"] == first["options"]

    options(client, item["id"], headers=BOB)
    assert count["n"] == 2, "another evaluated query is another key"

    # Invalidation on edit of the item and of the datasource.
    client.patch(f"/plugins/connect/api/items/{item['id']}", headers=ADMIN, json={"name": "Counted 2"})
    assert options(client, item["id"]).json["cached"] is False and count["n"] == 3
    client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN, json={"config": {"timeout_seconds": 30}})
    assert options(client, item["id"]).json["cached"] is False and count["n"] == 4

    # Clear.
    assert client.post(f"/plugins/connect/api/datasources/{ds['id']}/cache/clear", headers=ADMIN).json == {"ok": True}
    assert options(client, item["id"]).json["cached"] is False and count["n"] == 5
    result = people.test_cli_runner().invoke(args=["cache", "clear", "--datasource", str(ds["id"])])
    assert result.exit_code == 0
    assert options(client, item["id"]).json["cached"] is False and count["n"] == 6

    # Failures are not cached.
    failing = make_item(client, ds["id"], name="Failing", query="/counted?fail=1")
    for expected in (7, 8):
        response = options(client, failing["id"], headers=ADMIN)  # admins read the upstream's detail
        assert response.status_code == 502 and "500" in response.json["error"] and count["n"] == expected

    # Expiry after cache_ttl_seconds; 0 disables caching.
    client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN, json={"config": {"cache_ttl_seconds": 1}})
    options(client, item["id"])
    assert options(client, item["id"]).json["cached"] is True
    time.sleep(1.2)
    assert options(client, item["id"]).json["cached"] is False
    client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN, json={"config": {"cache_ttl_seconds": 0}})
    before = count["n"]
    options(client, item["id"])
    options(client, item["id"])
    assert count["n"] == before + 2


def test_concurrent_misses_make_one_upstream_call(api):
    client, ds, upstream = api
    calls = []

    def slow(request):
        calls.append(1)
        time.sleep(0.5)
        return Json({"items": ASSETS})

    upstream.route("/api/slow", slow)
    # Room for every caller: this is about single flight, not the in-flight limit
    # (waiters take a slot too; tests/services covers that side).
    client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                 json={"config": {"max_concurrent_calls": 16}})
    item = make_item(client, ds["id"], name="Slow", query="/slow")
    results = []

    def fetch():
        results.append(options(client.application.test_client(), item["id"]).json)

    threads = [threading.Thread(target=fetch) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 12 and all(r["total"] == 3 for r in results)
    assert sum(1 for r in results if r["cached"] is False) == 1


def test_permission_on_the_issue(api):
    client, ds, upstream = api
    item = make_item(client, ds["id"])
    assert options(client, item["id"], headers={}, issue="DEMO-1").status_code == 401
    assert options(client, item["id"], headers=CAROL, issue="DEMO-1").status_code == 403
    assert options(client, item["id"], headers=CAROL, issue="NOPE-9").status_code == 404
    assert options(client, item["id"], headers=BOB, issue="DEMO-1").status_code == 200
    assert options(client, 999, headers=BOB).status_code == 404
    # Admin APIs stay closed to members.
    assert client.get("/plugins/connect/api/items", headers=BOB).status_code == 403


def test_put_checks_values_against_current_options(api):
    client, ds, upstream = api
    item = make_item(client, ds["id"])
    multi = make_item(client, ds["id"], name="Many assets", editor="multiselect")
    key = f"connected_item_{item['id']}"
    bad = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {key: "A-999"}})
    assert bad.status_code == 400 and "A-999" in bad.json["fields"][key]
    ok = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {
        key: "A-2", f"connected_item_{multi['id']}": ["A-3", "A-1"], "summary": "Renamed"}})
    assert ok.status_code == 204
    fields = client.get("/rest/api/2/issue/DEMO-1", headers=ALICE).json["fields"]
    assert fields[key] == {"value": "A-2", "label": "ThinkPad X1"}
    assert fields[f"connected_item_{multi['id']}"] == [{"value": "A-3", "label": "Dell Monitor"},
                                                      {"value": "A-1", "label": "MacBook Pro"}]
    assert client.put("/rest/api/2/issue/DEMO-1", headers=ALICE,
                      json={"fields": {key: ["A-1", "A-2"]}}).status_code == 400

    # An upstream failure during the check changes nothing, not even plain fields.
    upstream.route("/api/assets", lambda r: (503, {}, b"down"))
    client.post(f"/plugins/connect/api/datasources/{ds['id']}/cache/clear", headers=ADMIN)
    failed = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {key: "A-1", "summary": "Lost?"}})
    assert failed.status_code == 502 and failed.json["reference"] in failed.json["error"]
    fields = client.get("/rest/api/2/issue/DEMO-1", headers=ALICE).json["fields"]
    assert fields["summary"] == "Renamed" and fields[key]["value"] == "A-2"


def test_put_with_dependency_in_the_same_request(api):
    client, ds, upstream = api
    upstream.route("/api/by-summary", lambda r: Json([{"id": r.param("s"), "name": f"about {r.param('s')}"}]))
    item = make_item(client, ds["id"], name="About", query="/by-summary?s=$issue.summary",
                     options={"path": "$", "value": "${row.id}", "label": "${row.name}"})
    key = f"connected_item_{item['id']}"
    assert client.put("/rest/api/2/issue/DEMO-1", headers=ALICE,
                      json={"fields": {"summary": "Printer", key: "Printer"}}).status_code == 204
    assert client.get("/rest/api/2/issue/DEMO-1", headers=ALICE).json["fields"][key]["label"] == "about Printer"


def test_autocomplete_value_is_checked_with_the_value_as_user_input(api):
    client, ds, upstream = api
    upstream.route("/api/find", lambda r: Json([a for a in ASSETS[:3] if a["id"] == r.param("q")]))
    item = make_item(client, ds["id"], name="Find", editor="autocomplete", query="/find?q=$userInput",
                     options={"path": "$", "value": "${row.id}", "label": "${row.name}"})
    key = f"connected_item_{item['id']}"
    assert client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {key: "A-3"}}).status_code == 204
    assert upstream.requests[-1].query["q"] == ["A-3"]


def test_item_validation_names_fields(api):
    client, ds, upstream = api
    bad = client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "", "datasource_id": 999, "editor": "radio", "query": "https://evil.example/x",
        "options": {"path": "$[", "value": "${row.", "label": "ok"}})
    assert bad.status_code == 400
    assert set(bad.json["fields"]) >= {"name", "datasource_id", "editor", "query", "options.path"}
    unknown = client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "X", "datasource_id": ds["id"], "editor": "select", "query": "/x?u=$currentUser.password",
        "options": {"path": "$", "value": "${row.id}", "label": "${row.name}"}})
    assert unknown.status_code == 400 and "$currentUser.password" in unknown.json["fields"]["query"]


def test_projects_limit_where_an_item_applies(api):
    client, ds, upstream = api
    item = make_item(client, ds["id"], projects=["OPS"])
    key = f"connected_item_{item['id']}"
    refused = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {key: "A-1"}})
    assert refused.status_code == 400 and "DEMO" in refused.json["fields"][key]


def test_upstream_errors_on_options_are_clear(api):
    client, ds, upstream = api
    upstream.route("/api/html", lambda r: (200, {"Content-Type": "text/html"}, b"<!doctype html><p>login</p>"))
    upstream.route("/api/slow", lambda r: time.sleep(3) or Json({}))
    client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN, json={"config": {"timeout_seconds": 1}})
    html = make_item(client, ds["id"], name="Html", query="/html")
    slow = make_item(client, ds["id"], name="Slow", query="/slow")
    response = options(client, html["id"], headers=ADMIN)  # admins read the upstream's detail
    assert response.status_code == 502 and "JSON" in response.json["error"]
    started = time.monotonic()
    response = options(client, slow["id"], headers=ADMIN)
    assert response.status_code == 504 and time.monotonic() - started < 2.5
    assert "Assets API" in response.json["error"]


def test_issue_page_keeps_what_was_picked_when_a_save_is_refused(api):
    from tests.conftest import csrf_from, login

    client, ds, upstream = api
    item = make_item(client, ds["id"])
    key = f"connected_item_{item['id']}"
    login(client, "alice", "alice-pw")
    page = client.get("/browse/DEMO-1").get_data(as_text=True)
    refused = client.post("/browse/DEMO-1", data={
        "csrf_token": csrf_from(page), "summary": "Edited summary", "description": "", key: "A-404",
        f"{key}__present": "1"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "A-404" in html and "is not one of the options of Asset" in html
    assert 'value="Edited summary"' in html, "the typed summary is kept"
    assert client.get("/rest/api/2/issue/DEMO-1", headers=ALICE).json["fields"]["summary"] == "Laptop for Alice"


def test_a_busy_datasource_answers_503_with_retry_after(api):
    client, ds, upstream = api
    arrived, release = threading.Event(), threading.Event()

    def slow(_request):  # holds the only slot until the test has asked twice
        arrived.set()
        release.wait(10)
        return Json({"items": ASSETS})

    upstream.route("/api/slow", slow)
    client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                 json={"config": {"max_concurrent_calls": 1}})
    item = make_item(client, ds["id"], name="Slow", query="/slow?who=$currentUser.accountId")
    first = threading.Thread(target=lambda: options(client.application.test_client(), item["id"], headers=BOB))
    first.start()
    try:
        assert arrived.wait(10), "the first call never reached the upstream"
        busy = options(client, item["id"])  # another evaluated query, while the only slot is taken
        told_admin = options(client, item["id"], headers=ADMIN)
    finally:
        release.set()
        first.join()
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert busy.json["error"].startswith("The external system is busy. Try again in a moment")
    assert told_admin.status_code == 503 and told_admin.json["error"].startswith("Assets API is busy")
