"""The refresh of stored values (issue 15; CONTRACT sections 1 and 5): through the
API, the CLI and the item page, against a real HTTPS API on loopback whose labels
change between runs."""

from __future__ import annotations

import pytest

from connect_plugin.connected_items import refresh as refresh_module
from tests.conftest import ADMIN, ALICE, BOB, csrf_from, login, make_datasource, make_item
from tests.support.https_servers import Json, Reply

LINE = "checked {}, changed {}, not offered {}, failed {}"


class Assets:
    """The upstream's records, changed by the tests between runs; ``down_after`` makes
    every call after that many fail with a 500."""

    def __init__(self):
        self.names = {"A-1": "MacBook Pro", "A-2": "ThinkPad X1", "A-3": "Dell Monitor"}
        self.serials = {"A-1": "C02", "A-2": "PF3", "A-3": "CN0"}
        self.calls = 0
        self.down_after: int | None = None
        self.failing_issue: str | None = None

    def __call__(self, request):
        self.calls += 1
        if (self.down_after is not None and self.calls > self.down_after) or \
                (self.failing_issue and request.param("issue") == self.failing_issue):
            return Reply(500, body=b'{"error": "down"}')
        return Json({"items": [{"id": k, "name": v, "serial": self.serials.get(k, "")}
                               for k, v in self.names.items()]})


@pytest.fixture
def world(people, upstream):
    assets = Assets()
    upstream.route("/api/assets", assets)
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), cache_ttl_seconds=0)
    return client, ds, assets, upstream


def new_issues(client, count: int) -> list[str]:
    keys = []
    for n in range(count):
        response = client.post("/rest/api/2/issue", headers=ALICE,
                               json={"fields": {"project": {"key": "DEMO"}, "summary": f"Issue {n}"}})
        assert response.status_code == 201, response.json
        keys.append(response.json["key"])
    return keys


def put(client, key, **fields):
    response = client.put(f"/rest/api/2/issue/{key}", headers=ALICE, json={"fields": fields})
    assert response.status_code == 204, response.json


def stored(client, key, item):
    return client.get(f"/rest/api/2/issue/{key}", headers=ADMIN).json["fields"].get(item["field_key"])


def refresh(client, item, headers=ADMIN, **params):
    return client.post(f"/plugins/connect/api/items/{item['id']}/refresh", headers=headers, query_string=params)


def test_labels_changed_upstream_follow_into_the_snapshots_run_after_run(world):
    client, ds, assets, _ = world
    item = make_item(client, ds["id"])
    put(client, "DEMO-1", **{item["field_key"]: "A-1"})
    new_issues(client, 1)
    put(client, "DEMO-2", **{item["field_key"]: "A-2"})

    assets.names["A-1"] = "MacBook Pro 14"
    first = refresh(client, item)
    assert first.status_code == 200 and first.json == {"checked": 2, "changed": 1, "not_offered": 0, "failed": 0}
    assert stored(client, "DEMO-1", item) == {"value": "A-1", "label": "MacBook Pro 14"}
    assert stored(client, "DEMO-2", item) == {"value": "A-2", "label": "ThinkPad X1"}

    assets.names.update({"A-1": "MacBook Pro 16", "A-2": "ThinkPad X1 Carbon"})
    assert refresh(client, item).json == {"checked": 2, "changed": 2, "not_offered": 0, "failed": 0}
    assert stored(client, "DEMO-1", item)["label"] == "MacBook Pro 16"
    assert stored(client, "DEMO-2", item)["label"] == "ThinkPad X1 Carbon"
    assert refresh(client, item).json["changed"] == 0, "nothing changed upstream since"


def test_details_follow_with_the_label_the_whole_snapshot_is_rebuilt(world):
    client, ds, assets, _ = world
    item = make_item(client, ds["id"], options={"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}",
                                                "details": [{"name": "Serial", "template": "${row.serial}"}]})
    put(client, "DEMO-1", **{item["field_key"]: "A-1"})
    assert stored(client, "DEMO-1", item) == {"value": "A-1", "label": "MacBook Pro", "details": {"Serial": "C02"}}
    assets.serials["A-1"] = "C02-NEW"
    assert refresh(client, item).json == {"checked": 1, "changed": 1, "not_offered": 0, "failed": 0}
    assert stored(client, "DEMO-1", item) == {"value": "A-1", "label": "MacBook Pro",
                                              "details": {"Serial": "C02-NEW"}}


def test_a_value_no_longer_offered_is_kept_and_counted(world):
    client, ds, assets, _ = world
    item = make_item(client, ds["id"], name="Assets", editor="multiselect")
    put(client, "DEMO-1", **{item["field_key"]: ["A-1", "A-2"]})
    del assets.names["A-2"]
    assets.names["A-1"] = "MacBook Air"
    assert refresh(client, item).json == {"checked": 2, "changed": 1, "not_offered": 1, "failed": 0}
    assert stored(client, "DEMO-1", item) == [{"value": "A-1", "label": "MacBook Air"},
                                              {"value": "A-2", "label": "ThinkPad X1"}]


def test_a_value_whose_dependency_was_emptied_is_kept_and_counted_as_failed(world):
    client, ds, _assets, _ = world
    kind = make_item(client, ds["id"], name="Kind")
    item = make_item(client, ds["id"], name="Model", query=f"/assets?kind=$issue.connected_item_{kind['id']}")
    put(client, "DEMO-1", **{kind["field_key"]: "A-1"})
    put(client, "DEMO-1", **{item["field_key"]: "A-2"})
    put(client, "DEMO-1", **{kind["field_key"]: None})
    assert refresh(client, item).json == {"checked": 1, "changed": 0, "not_offered": 0, "failed": 1}
    assert stored(client, "DEMO-1", item) == {"value": "A-2", "label": "ThinkPad X1"}


def test_the_dry_run_counts_and_writes_nothing(world):
    client, ds, assets, _ = world
    item = make_item(client, ds["id"])
    put(client, "DEMO-1", **{item["field_key"]: "A-1"})
    assets.names["A-1"] = "Renamed"
    assert refresh(client, item, dry_run="1").json == {"checked": 1, "changed": 1, "not_offered": 0, "failed": 0}
    assert stored(client, "DEMO-1", item)["label"] == "MacBook Pro"
    audit = client.get("/plugins/connect/admin/audit", headers=ADMIN).get_data(as_text=True)
    assert "refreshed values" not in audit
    bad = refresh(client, item, dry_run="maybe")
    assert bad.status_code == 400 and "dry_run" in bad.json["fields"]


def test_a_refresh_that_changed_snapshots_is_audited_with_who_and_counts(world):
    client, ds, assets, _ = world
    item = make_item(client, ds["id"])
    put(client, "DEMO-1", **{item["field_key"]: "A-1"})
    assert refresh(client, item).json["changed"] == 0
    audit = client.get("/plugins/connect/admin/audit", headers=ADMIN).get_data(as_text=True)
    assert "refreshed values" not in audit, "a refresh that changed nothing is not a change"
    assets.names["A-1"] = "Renamed"
    refresh(client, item)
    audit = client.get("/plugins/connect/admin/audit", headers=ADMIN).get_data(as_text=True)
    row = audit[audit.index("refreshed values") - 200:audit.index("refreshed values") + 400]
    assert "admin" in row and "checked 1, changed 1, not offered 0, failed 0" in row


def test_an_upstream_outage_midway_keeps_earlier_batches_written_and_later_ones_untouched(world, monkeypatch):
    client, ds, assets, _ = world
    monkeypatch.setattr(refresh_module, "BATCH_SIZE", 2)
    item = make_item(client, ds["id"], query="/assets?issue=$issue.key")  # one call per issue
    keys = ["DEMO-1", *new_issues(client, 4)]
    for key in keys:
        put(client, key, **{item["field_key"]: "A-1"})
    assets.names["A-1"] = "Renamed"
    assets.calls, assets.down_after = 0, 2  # the API goes down after the first batch
    assert refresh(client, item).json == {"checked": 5, "changed": 2, "not_offered": 0, "failed": 3}
    labels = [stored(client, key, item)["label"] for key in keys]
    assert labels == ["Renamed", "Renamed", "MacBook Pro", "MacBook Pro", "MacBook Pro"]


def test_one_failing_value_stops_nothing_else(world, monkeypatch):
    client, ds, assets, _ = world
    monkeypatch.setattr(refresh_module, "BATCH_SIZE", 2)
    item = make_item(client, ds["id"], query="/assets?issue=$issue.key")
    keys = ["DEMO-1", *new_issues(client, 3)]
    for key in keys:
        put(client, key, **{item["field_key"]: "A-1"})
    assets.names["A-1"] = "Renamed"
    assets.failing_issue = "DEMO-2"
    assert refresh(client, item).json == {"checked": 4, "changed": 3, "not_offered": 0, "failed": 1}
    assert [stored(client, key, item)["label"] for key in keys] == ["Renamed", "MacBook Pro", "Renamed", "Renamed"]


def test_values_are_checked_as_the_issues_reporter_through_the_cache(people, upstream):
    """Like PUT: the same options for that issue, with $currentUser the reporter; issues
    whose query evaluates alike share one (cached) answer."""
    assets = Assets()
    upstream.route("/api/assets", assets)
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))  # default cache: 300 s
    item = make_item(client, ds["id"], query="/assets?owner=$currentUser.emailAddress")
    put(client, "DEMO-1", **{item["field_key"]: "A-1"})  # DEMO-1's reporter is alice
    bobs = client.post("/rest/api/2/issue", headers=BOB, json={"fields": {"project": {"key": "DEMO"},
                                                                          "summary": "Bob's"}}).json["key"]
    for key in ("DEMO-1", bobs):
        put(client, key, **{item["field_key"]: "A-2"})
    third = client.post("/rest/api/2/issue", headers=BOB, json={"fields": {"project": {"key": "DEMO"},
                                                                           "summary": "Bob's too"}}).json["key"]
    put(client, third, **{item["field_key"]: "A-3"})
    before = len(upstream.requests)
    assert refresh(client, item).json == {"checked": 3, "changed": 0, "not_offered": 0, "failed": 0}
    # DEMO-1 (alice's) reuses the answer alice's PUTs cached; bob's two issues share one call.
    assert [request.param("owner") for request in upstream.requests[before:]] == ["bob@example.com"]


def test_the_api_is_for_admins_and_session_calls_need_the_csrf_header(world):
    client, ds, _assets, _ = world
    item = make_item(client, ds["id"])
    anonymous, people_client = client.application.test_client(), client.application.test_client()
    assert refresh(anonymous, item, headers={}).status_code == 401
    assert refresh(client, item, headers=ALICE).status_code == 403
    assert refresh(client, {"id": 999}).status_code == 404
    login(people_client, "admin", "admin-pw")
    assert refresh(people_client, item, headers={}).status_code == 400, "no CSRF token"
    token = csrf_from(people_client.get("/").get_data(as_text=True))
    answer = refresh(people_client, item, headers={"X-CSRFToken": token})
    assert answer.status_code == 200 and answer.json == {"checked": 0, "changed": 0, "not_offered": 0, "failed": 0}


def test_the_cli_shows_progress_and_ends_with_the_summary_line(world):
    client, ds, assets, _ = world
    item = make_item(client, ds["id"])
    other = make_item(client, ds["id"], name="Second asset")
    put(client, "DEMO-1", **{item["field_key"]: "A-1", other["field_key"]: "A-2"})
    runner = client.application.test_cli_runner()
    assets.names.update({"A-1": "Renamed", "A-2": "Gone soon"})
    del assets.names["A-2"]

    dry = runner.invoke(args=["items", "refresh", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[-1] == LINE.format(2, 1, 1, 0)
    assert stored(client, "DEMO-1", item)["label"] == "MacBook Pro"

    one = runner.invoke(args=["items", "refresh", "--item", str(item["id"])])
    assert one.exit_code == 0, one.output
    assert one.stdout.splitlines()[-1] == LINE.format(1, 1, 0, 0)
    assert "Asset" in one.stderr, "the progress names the item"
    assert stored(client, "DEMO-1", item)["label"] == "Renamed"
    assert stored(client, "DEMO-1", other) == {"value": "A-2", "label": "ThinkPad X1"}

    everything = runner.invoke(args=["items", "refresh"])
    assert everything.stdout.splitlines()[-1] == LINE.format(2, 0, 1, 0)
    unknown = runner.invoke(args=["items", "refresh", "--item", "999"])
    assert unknown.exit_code != 0 and "999" in unknown.output


def test_the_item_page_has_a_refresh_button_that_shows_the_summary(world):
    client, ds, assets, _ = world
    item = make_item(client, ds["id"])
    put(client, "DEMO-1", **{item["field_key"]: "A-1"})
    assets.names["A-1"] = "Renamed"
    browser = client.application.test_client()
    login(browser, "admin", "admin-pw")
    page = browser.get(f"/plugins/connect/admin/items/{item['id']}").get_data(as_text=True)
    action = f'action="/plugins/connect/admin/items/{item["id"]}/refresh"'
    assert action in page and "Refresh stored values" in page
    form = page[page.index(action):]
    form = form[:form.index("</form>")]
    assert 'name="csrf_token"' in form
    token = csrf_from(form)

    refused = browser.post(f"/plugins/connect/admin/items/{item['id']}/refresh", data={})
    assert refused.status_code == 400 and stored(client, "DEMO-1", item)["label"] == "MacBook Pro"
    done = browser.post(f"/plugins/connect/admin/items/{item['id']}/refresh", data={"csrf_token": token})
    assert done.status_code == 200
    assert LINE.format(1, 1, 0, 0) in done.get_data(as_text=True)
    assert stored(client, "DEMO-1", item)["label"] == "Renamed"


def check_host_batches(app) -> None:
    """The reference host's side of the refresh on the app's database: every stored
    shape that holds no value (no key, JSON null, "", []) is left out in SQL, batches
    page by key, and a write happens only where the value is still the one read
    (someone who set a value while a refresh ran wins)."""
    from plugin_host.db import session
    from plugin_host.models import Issue

    client = app.test_client()
    keys = ["DEMO-1", *new_issues(client, 6)]
    one, many = {"value": "A-1", "label": "Old"}, [{"value": "A-2", "label": "Old"}]
    shapes = {"DEMO-1": one, "DEMO-2": None, "DEMO-3": "", "DEMO-4": [], "DEMO-5": many, "DEMO-7": one}
    adapter = app.extensions["connect"].host
    with app.app_context():
        for issue in session().query(Issue).filter(Issue.key.in_(keys)):
            if issue.key in shapes:
                issue.custom_fields = {"connected_item_7": shapes[issue.key], "connected_item_8": one}
        session().commit()
        first = adapter.issues_with_connected_value(7, after=None, limit=2)
        assert [i.key for i in first] == ["DEMO-1", "DEMO-5"]
        assert first[1].fields["connected_item_7"] == many
        assert [i.key for i in adapter.issues_with_connected_value(7, after="DEMO-5", limit=2)] == ["DEMO-7"]
        assert adapter.issues_with_connected_value(7, after="DEMO-7", limit=2) == []
        assert adapter.issues_with_connected_value(9, after=None, limit=2) == []
        fresh = {"value": "A-1", "label": "Fresh"}
        written = adapter.store_refreshed_values(7, [("DEMO-1", {"value": "A-1", "label": "Read earlier"}, fresh),
                                                     ("DEMO-7", one, fresh)])
        assert written == {"DEMO-7"}
        assert adapter.get_issue("DEMO-1").fields["connected_item_7"] == one
        written_fields = adapter.get_issue("DEMO-7").fields
        assert (written_fields["connected_item_7"], written_fields["connected_item_8"]) == (fresh, one)


def test_the_host_reads_batches_in_sql_and_writes_only_unchanged_values(people):
    check_host_batches(people)
