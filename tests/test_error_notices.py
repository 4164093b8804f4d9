"""An upstream's failure in detail for admins, a generic sentence with a reference
for everyone else (issue 13, rule 3): the answer's excerpt, the host it came from
and the address it resolved to describe the admin's configuration and network."""

from __future__ import annotations

import logging
import re

import pytest

from tests.conftest import ADMIN, ALICE, make_datasource, make_item
from tests.support.https_servers import Reply, Sleep

INTERNAL = "db-primary.corp.internal:5432 stack trace: psycopg.OperationalError"


@pytest.fixture
def failing(people, upstream):
    upstream.route("/api/assets", Reply(500, {"Content-Type": "text/plain"}, INTERNAL))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    item = make_item(client, ds["id"])
    return client, item, upstream


def reference_in(text: str) -> str:
    match = re.search(r"reference ([0-9A-F]{8})", text)
    assert match, text
    return match.group(1)


def test_an_end_user_gets_a_generic_error_and_the_log_has_the_detail(failing, caplog):
    client, item, upstream = failing
    with caplog.at_level(logging.WARNING, logger="connect_plugin.upstream"):
        response = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=ALICE)
    assert response.status_code == 502
    body = response.json
    assert "db-primary" not in response.get_data(as_text=True)
    assert "500" not in body["error"] and "127.0.0.1" not in body["error"]
    assert body["error"].startswith("The external system did not give a usable answer")
    ref = reference_in(body["error"])
    assert body["reference"] == ref
    logged = [r.getMessage() for r in caplog.records if ref in r.getMessage()]
    assert logged and "db-primary.corp.internal" in logged[0] and "500" in logged[0]


def test_an_admin_gets_the_detail_with_the_same_kind_of_reference(failing):
    client, item, _ = failing
    response = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=ADMIN)
    assert response.status_code == 502
    assert "500" in response.json["error"] and "db-primary.corp.internal" in response.json["error"]
    assert re.fullmatch(r"[0-9A-F]{8}", response.json["reference"])


def test_a_timeout_is_named_for_the_end_user_without_the_host(people, upstream):
    upstream.route("/api/slow", Sleep(3.0))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), timeout_seconds=1)
    item = make_item(client, ds["id"], query="/slow")
    response = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=ALICE)
    assert response.status_code == 504
    assert response.json["error"].startswith("The external system did not answer in time")
    assert "Assets API" not in response.json["error"]


def test_the_hosts_issue_api_hides_the_detail_from_end_users(failing):
    client, item, _ = failing
    field = f"connected_item_{item['id']}"
    response = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {field: "A-1"}})
    assert response.status_code == 502
    assert "db-primary" not in response.get_data(as_text=True)
    reference_in(response.json["error"])
    admin = client.put("/rest/api/2/issue/DEMO-1", headers=ADMIN, json={"fields": {field: "A-1"}})
    assert admin.status_code == 502 and "db-primary.corp.internal" in admin.json["error"]
