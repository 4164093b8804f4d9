"""Pagination against real HTTPS servers on loopback: one paging server per mode
(a GitHub-shaped Link-header API among them), next links that leave the origin or
loop, a page that is not JSON, max_pages, a failing page, the shared size cap and
deadline, and the settings' validation."""

from __future__ import annotations

import pickle
import time

import pytest

from tests.conftest import ADMIN, make_datasource, make_item
from tests.support.https_servers import HTTPSServer, Json, Reply, Sleep

ROWS = [{"id": f"R-{n:02d}", "name": f"Row {n}"} for n in range(1, 11)]  # 10 rows
ITEM_OPTIONS = {"path": "$[*]", "value": "${row.id}", "label": "${row.name}"}


def options(client, item_id, **params):
    query = "&".join(f"{k}={v}" for k, v in {"issue": "DEMO-1", **params}.items())
    return client.get(f"/plugins/connect/api/items/{item_id}/options?{query}", headers=ADMIN)


def values(body) -> list[str]:
    return [option["value"] for option in body["options"]]


def all_values() -> list[str]:
    return [row["id"] for row in ROWS]


def github_issues(server, per_page=3):
    """GitHub's shape: a bare array, ``Link: <…?page=2&per_page=3>; rel="next", <…>; rel="last"``."""

    def handler(request):
        page = int(request.param("page", "1"))
        size = int(request.param("per_page", str(per_page)))
        chunk = ROWS[(page - 1) * size: page * size]
        last = (len(ROWS) + size - 1) // size
        links = []
        if page < last:
            links.append(f'<{server.url("/api/issues")}?page={page + 1}&per_page={size}>; rel="next"')
        links.append(f'<{server.url("/api/issues")}?page={last}&per_page={size}>; rel="last"')
        if page > 1:
            links.append(f'<{server.url("/api/issues")}?page=1&per_page={size}>; rel="first"')
        return Json(chunk, headers={"Link": ", ".join(links)})

    return handler


@pytest.fixture
def api(people, upstream):
    return people.test_client(), upstream


def paged_datasource(client, upstream, pagination, **config):
    return make_datasource(client, upstream.url("/api"), pagination=pagination, **config)


# --- one server per mode --------------------------------------------------------------------


def test_link_header_reads_every_page_of_a_github_shaped_api_and_caches_them_as_one(api):
    client, upstream = api
    upstream.route("/api/issues", github_issues(upstream))
    ds = paged_datasource(client, upstream, {"mode": "link_header"})
    item = make_item(client, ds["id"], query="/issues", options=ITEM_OPTIONS)

    body = options(client, item["id"]).json
    assert values(body) == all_values() and body["total"] == 10 and body["cached"] is False
    assert "truncated" not in body
    assert [r.param("page") for r in upstream.requests] == [None, "2", "3", "4"]

    again = options(client, item["id"], q="row 1").json
    assert again["cached"] is True and values(again) == ["R-01", "R-10"]
    assert len(upstream.requests) == 4


def test_next_url_follows_relative_and_absolute_links_at_a_jsonpath(api):
    client, upstream = api

    def handler(request):
        page = int(request.param("p", "1"))
        following = {1: "things?p=2", 2: upstream.url("/api/things?p=3"), 3: None}[page]
        return Json({"results": ROWS[(page - 1) * 4: page * 4], "links": {"next": following}})

    upstream.route("/api/things", handler)
    ds = paged_datasource(client, upstream, {"mode": "next_url", "next_path": "$.links.next"})
    item = make_item(client, ds["id"], query="/things", options={**ITEM_OPTIONS, "path": "$.results[*]"})
    body = options(client, item["id"]).json
    assert values(body) == all_values()
    assert [r.raw_query for r in upstream.requests] == ["", "p=2", "p=3"]


def test_cursor_mode_sends_each_cursor_until_there_is_none(api):
    client, upstream = api
    cursors = {None: ("c1", ROWS[:4]), "c1": ("c2", ROWS[4:8]), "c2": (None, ROWS[8:])}

    def handler(request):
        following, chunk = cursors[request.param("after")]
        return Json({"data": chunk, "meta": {"next_cursor": following}})

    upstream.route("/api/assets", handler)
    ds = paged_datasource(client, upstream, {"mode": "cursor", "cursor_path": "$.meta.next_cursor",
                                             "cursor_param": "after"})
    item = make_item(client, ds["id"], query="/assets?kind=laptop", options={**ITEM_OPTIONS, "path": "$.data"})
    assert values(options(client, item["id"]).json) == all_values()
    assert [r.param("after") for r in upstream.requests] == [None, "c1", "c2"]
    assert all(r.param("kind") == "laptop" for r in upstream.requests)


def offset_handler(request):
    offset, limit = int(request.param("start")), int(request.param("count"))
    return Json(ROWS[offset: offset + limit])


def test_offset_mode_stops_at_a_short_page(api):
    client, upstream = api
    upstream.route("/api/rows", offset_handler)
    ds = paged_datasource(client, upstream, {"mode": "offset", "offset_param": "start", "limit_param": "count",
                                             "page_size": 4})
    item = make_item(client, ds["id"], query="/rows", options=ITEM_OPTIONS)
    assert values(options(client, item["id"]).json) == all_values()
    assert [(r.param("start"), r.param("count")) for r in upstream.requests] == [("0", "4"), ("4", "4"),
                                                                                 ("8", "4")]


def test_page_mode_stops_at_an_empty_page_after_full_ones(api):
    client, upstream = api

    def handler(request):
        page, size = int(request.param("page")), int(request.param("size"))
        return Json({"items": ROWS[page * size: (page + 1) * size]})

    upstream.route("/api/rows", handler)
    ds = paged_datasource(client, upstream, {"mode": "page", "page_param": "page", "first_page": 0,
                                             "size_param": "size", "page_size": 5})
    item = make_item(client, ds["id"], query="/rows", options={**ITEM_OPTIONS, "path": "$.items"})
    assert values(options(client, item["id"]).json) == all_values()
    assert [r.param("page") for r in upstream.requests] == ["0", "1", "2"]


# --- what must never be followed ----------------------------------------------------------


def test_a_next_link_to_another_origin_is_an_error_and_never_followed(api, ca):
    client, upstream = api
    with HTTPSServer(ca, {"/api/issues": Json(ROWS)}) as other:  # another loopback port: another origin
        upstream.route("/api/issues", Json(ROWS[:3], headers={"Link": f'<{other.url("/api/issues")}?page=2>; '
                                                                     'rel="next"'}))
        ds = paged_datasource(client, upstream, {"mode": "link_header"})
        item = make_item(client, ds["id"], query="/issues", options=ITEM_OPTIONS)
        response = options(client, item["id"])
        assert response.status_code == 502
        error = response.json["error"]
        assert error.startswith("page 1: ") and "another origin" in error and str(other.port) in error
        assert other.requests == []


def test_a_next_link_to_plain_http_is_an_error_and_never_followed(api):
    client, upstream = api
    plain = upstream.url("/api/issues?page=2").replace("https://", "http://")
    upstream.route("/api/issues", Json(ROWS[:3], headers={"Link": f'<{plain}>; rel="next"'}))
    ds = paged_datasource(client, upstream, {"mode": "link_header"})
    item = make_item(client, ds["id"], query="/issues", options=ITEM_OPTIONS)
    response = options(client, item["id"])
    assert response.status_code == 502 and "is not https://" in response.json["error"]
    assert len(upstream.requests) == 1


def test_a_loop_of_next_links_is_an_error(api):
    client, upstream = api

    def handler(request):
        page = request.param("p", "1")
        return Json({"items": ROWS[:2], "next": "loop?p=2" if page == "1" else "loop?p=1"})

    upstream.route("/api/loop", handler)
    ds = paged_datasource(client, upstream, {"mode": "next_url", "next_path": "$.next"})
    item = make_item(client, ds["id"], query="/loop?p=1", options={**ITEM_OPTIONS, "path": "$.items"})
    response = options(client, item["id"])
    assert response.status_code == 502
    assert response.json["error"].startswith("page 2: ") and "the pages loop" in response.json["error"]
    assert len(upstream.requests) == 2


def test_a_cursor_that_does_not_change_is_an_error(api):
    client, upstream = api
    upstream.route("/api/assets", Json({"data": ROWS[:2], "cursor": "same"}))
    ds = paged_datasource(client, upstream, {"mode": "cursor", "cursor_path": "$.cursor", "cursor_param": "c"})
    item = make_item(client, ds["id"], query="/assets", options={**ITEM_OPTIONS, "path": "$.data"})
    response = options(client, item["id"])
    assert response.status_code == 502
    assert response.json["error"].startswith("page 2: ") and "did not change" in response.json["error"]


# --- failures name the page and cache nothing ----------------------------------------------


def test_a_page_that_is_not_json_fails_naming_it_and_nothing_is_cached(api):
    client, upstream = api
    broken = {"yes": True}

    def handler(request):
        page, size = int(request.param("page")), 3
        if page == 2 and broken["yes"]:
            return Reply(200, {"Content-Type": "text/html"}, b"<html>maintenance</html>")
        return Json(ROWS[(page - 1) * size: page * size])

    upstream.route("/api/rows", handler)
    ds = paged_datasource(client, upstream, {"mode": "page", "page_param": "page", "page_size": 3})
    item = make_item(client, ds["id"], query="/rows", options=ITEM_OPTIONS)
    response = options(client, item["id"])
    assert response.status_code == 502
    assert response.json["error"].startswith("page 2: ") and "not valid JSON" in response.json["error"]

    broken["yes"] = False
    body = options(client, item["id"]).json
    assert body["cached"] is False and values(body) == all_values()


def test_a_failure_on_page_three_caches_nothing(api):
    client, upstream = api
    failing = {"yes": True}

    def handler(request):
        offset = int(request.param("offset"))
        if offset == 6 and failing["yes"]:
            return Json({"message": "boom"}, status=500)
        return Json(ROWS[offset: offset + 3])

    upstream.route("/api/rows", handler)
    ds = paged_datasource(client, upstream, {"mode": "offset", "offset_param": "offset", "limit_param": "limit",
                                             "page_size": 3})
    item = make_item(client, ds["id"], query="/rows", options=ITEM_OPTIONS)
    response = options(client, item["id"])
    assert response.status_code == 502 and response.json["error"].startswith("page 3: ")
    assert "500" in response.json["error"]
    failing["yes"] = False
    body = options(client, item["id"]).json
    assert body["cached"] is False and values(body) == all_values()
    assert options(client, item["id"]).json["cached"] is True


def test_pages_map_as_one_answer_a_value_repeated_on_a_later_page_keeps_its_first_label(api):
    client, upstream = api
    pages = {1: [{"id": "A", "name": "Alpha"}, {"id": "B", "name": "Beta"}, {"id": "", "name": "no id"}],
             2: [{"id": "B", "name": "Beta again"}, {"id": "C", "name": ""}, {"id": "D", "name": "Delta"}],
             3: [{"id": "A", "name": "Alpha again"}]}
    upstream.route("/api/rows", lambda request: Json(pages.get(int(request.param("page")), [])))
    ds = paged_datasource(client, upstream, {"mode": "page", "page_param": "page", "page_size": 3})
    item = make_item(client, ds["id"], query="/rows", options=ITEM_OPTIONS)
    body = options(client, item["id"]).json
    assert [(o["value"], o["label"]) for o in body["options"]] == [("A", "Alpha"), ("B", "Beta"), ("C", "C"),
                                                                   ("D", "Delta")]
    assert body["total"] == 4 and len(upstream.requests) == 3


def test_a_value_template_that_fits_no_row_of_any_page_names_the_row_counted_across_pages(api):
    client, upstream = api
    pages = {1: [{"id": None}] * 3, 2: [{"id": "text"}, {"id": None}]}
    upstream.route("/api/rows", lambda request: Json(pages.get(int(request.param("page")), [])))
    ds = paged_datasource(client, upstream, {"mode": "page", "page_param": "page", "page_size": 3})
    item = make_item(client, ds["id"], query="/rows", options={"path": "$[*]", "value": "${row.id.code}"})
    response = options(client, item["id"])
    assert response.status_code == 502
    assert "${row.id.code} cannot be read from row 4 of the path $[*]" in response.json["error"]


def test_reaching_max_pages_is_not_an_error_but_truncated_and_cached_so(api):
    client, upstream = api
    upstream.route("/api/issues", github_issues(upstream, per_page=2))
    ds = paged_datasource(client, upstream, {"mode": "link_header", "max_pages": 2})
    item = make_item(client, ds["id"], query="/issues", options=ITEM_OPTIONS)
    body = options(client, item["id"]).json
    assert body["truncated"] is True and values(body) == all_values()[:4]
    assert len(upstream.requests) == 2
    again = options(client, item["id"]).json
    assert again["cached"] is True and again["truncated"] is True


def test_the_size_cap_counts_every_page(make_app, upstream):
    from tests.conftest import seed_people

    app = make_app(CONNECT_MAX_RESPONSE_BYTES=1000)
    seed_people(app)
    client = app.test_client()
    filler = "x" * 250
    upstream.route("/api/rows", lambda request: Json([{"id": f"{request.param('page')}-{n}", "name": filler}
                                                      for n in range(1)]))
    ds = paged_datasource(client, upstream, {"mode": "page", "page_param": "page", "page_size": 1,
                                             "max_pages": 10})
    item = make_item(client, ds["id"], query="/rows", options=ITEM_OPTIONS)
    response = options(client, item["id"])
    assert response.status_code == 502, response.json
    assert "the pages together are larger than" in response.json["error"]
    assert response.json["error"].startswith("page 4: ")  # 3 pages of ~280 bytes fit in 1000


def test_all_pages_share_the_one_time_limit(api):
    client, upstream = api

    def handler(request):
        page = int(request.param("page"))
        return Sleep(0.4, Json(ROWS[(page - 1) * 2: page * 2]))

    upstream.route("/api/slow", handler)
    ds = paged_datasource(client, upstream, {"mode": "page", "page_param": "page", "page_size": 2},
                          timeout_seconds=1)
    item = make_item(client, ds["id"], query="/slow", options=ITEM_OPTIONS)
    started = time.monotonic()
    response = options(client, item["id"])
    assert response.status_code == 504, response.json
    assert response.json["error"].startswith("page 3: ")
    assert time.monotonic() - started < 2.0


# --- datasource default, item override ----------------------------------------------------


def test_an_item_overrides_its_datasource_pagination(api):
    client, upstream = api
    upstream.route("/api/issues", github_issues(upstream))
    ds = paged_datasource(client, upstream, {"mode": "link_header"})
    paged = make_item(client, ds["id"], name="Paged", query="/issues", options=ITEM_OPTIONS)
    single = make_item(client, ds["id"], name="Single", query="/issues", options=ITEM_OPTIONS,
                       pagination={"mode": "none"})
    assert single["pagination"] == {"mode": "none"} and paged["pagination"] is None
    assert values(options(client, single["id"]).json) == all_values()[:3]
    assert len(options(client, paged["id"]).json["options"]) == 10

    patched = client.patch(f"/plugins/connect/api/items/{single['id']}", headers=ADMIN,
                           json={"pagination": {"mode": "link_header", "max_pages": 2}})
    assert patched.status_code == 200 and patched.json["pagination"] == {"mode": "link_header", "max_pages": 2}
    assert options(client, single["id"]).json["truncated"] is True


# --- the tester shows each page -------------------------------------------------------------


def test_the_tester_shows_each_page_with_the_key_masked(api):
    client, upstream = api
    key = "pg-secret-key-9f8e7d"

    def handler(request):
        page = int(request.param("page", "1"))
        if request.param("api_key") != key:
            return Json({"message": "no key"}, status=401)
        following = f'<{upstream.url("/api/issues")}?page={page + 1}&api_key={key}>; rel="next"'
        return Json(ROWS[(page - 1) * 4: page * 4], headers={"Link": following} if page < 3 else None)

    upstream.route("/api/issues", handler)
    ds = make_datasource(client, upstream.url("/api"), pagination={"mode": "link_header"},
                         auth={"mode": "api_key", "location": "query", "key": "api_key", "value": key})
    item = make_item(client, ds["id"], query="/issues", options=ITEM_OPTIONS)
    result = client.post(f"/plugins/connect/api/items/{item['id']}/test", headers=ADMIN, json={}).json
    assert result["ok"] is True and result["total"] == 10 and result["truncated"] is False
    assert [(p["page"], p["status"], p["rows"]) for p in result["pages"]] == [(1, 200, 4), (2, 200, 4),
                                                                            (3, 200, 2)]
    assert "page=2" in result["pages"][1]["url"]
    assert all(key not in p["url"] for p in result["pages"])


def test_the_tester_shows_the_pages_read_before_the_one_that_failed(api):
    client, upstream = api

    def handler(request):
        page = int(request.param("page"))
        return Json(ROWS[:2]) if page < 3 else Json({"message": "down"}, status=503)

    upstream.route("/api/rows", handler)
    ds = paged_datasource(client, upstream, {"mode": "page", "page_param": "page", "page_size": 2})
    item = make_item(client, ds["id"], query="/rows", options=ITEM_OPTIONS)
    result = client.post(f"/plugins/connect/api/items/{item['id']}/test", headers=ADMIN, json={}).json
    assert result["ok"] is False and result["error"].startswith("page 3: ")
    assert [(p["page"], p.get("status"), p.get("rows")) for p in result["pages"]] == [(1, 200, 2), (2, 200, 2),
                                                                                   (3, None, None)]


def test_the_page_that_failed_shows_its_url_with_the_key_masked(api):
    client, upstream = api
    key = "pg-secret-key-failed-41c7"

    def handler(request):
        page = int(request.param("page", "1"))
        if page == 2:
            return Json({"message": "down"}, status=503)
        following = f'<{upstream.url("/api/issues")}?page=2&api_key={key}>; rel="next"'
        return Json(ROWS[:4], headers={"Link": following})

    upstream.route("/api/issues", handler)
    ds = make_datasource(client, upstream.url("/api"), pagination={"mode": "link_header"},
                         auth={"mode": "api_key", "location": "query", "key": "api_key", "value": key})
    item = make_item(client, ds["id"], query="/issues", options=ITEM_OPTIONS)
    result = client.post(f"/plugins/connect/api/items/{item['id']}/test", headers=ADMIN, json={}).json
    assert result["ok"] is False and result["error"].startswith("page 2: ")
    failed = result["pages"][1]
    assert failed["page"] == 2 and failed.get("status") is None and "page=2" in failed["url"]
    assert key not in failed["url"] and key not in result["error"]


# --- validation when saved ----------------------------------------------------------------


@pytest.mark.parametrize("pagination, field", [
    ({"mode": "next_url"}, "next_path"),
    ({"mode": "next_url", "next_path": "$.[["}, "next_path"),
    ({"mode": "cursor", "cursor_path": "$.next"}, "cursor_param"),
    ({"mode": "offset", "offset_param": "offset"}, "limit_param"),
    ({"mode": "page", "page_param": " "}, "page_param"),
    ({"mode": "link_header", "max_pages": 0}, "max_pages"),
    ({"mode": "link_header", "max_pages": 101}, "max_pages"),
    ({"mode": "link_header", "max_pages": "many"}, "max_pages"),
    ({"mode": "scroll"}, "mode"),
    ({"mode": "link_header", "next_path": "$.next"}, "next_path"),
])
def test_bad_pagination_is_refused_naming_the_field(people, pagination, field):
    client = people.test_client()
    response = client.post("/plugins/connect/api/datasources", headers=ADMIN, json={
        "name": "Paged", "type": "rest", "config": {"base_url": "https://api.example.com", "pagination": pagination}})
    assert response.status_code == 400 and f"config.pagination.{field}" in response.json["fields"], response.json

    ds = make_datasource(client, "https://api.example.com")
    response = client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "Asset", "datasource_id": ds["id"], "editor": "select", "query": "/assets",
        "options": ITEM_OPTIONS, "pagination": pagination})
    assert response.status_code == 400 and f"pagination.{field}" in response.json["fields"], response.json


def test_a_datasource_stores_its_pagination_with_defaults(people):
    client = people.test_client()
    ds = make_datasource(client, "https://api.example.com",
                         pagination={"mode": "offset", "offset_param": "offset", "limit_param": "limit"})
    assert ds["config"]["pagination"] == {"mode": "offset", "offset_param": "offset", "limit_param": "limit",
                                          "page_size": 100, "max_pages": 10}


def test_truncated_survives_the_pickled_form_the_shared_cache_stores():
    from connect_plugin.caching.answer import CachedAnswer

    answer = pickle.loads(pickle.dumps(CachedAnswer([("1", "One")], 5.0, truncated=True)))
    assert answer.truncated is True and answer.options == [("1", "One")]
    assert pickle.loads(pickle.dumps(CachedAnswer([("1", "One")], 5.0))).truncated is False
