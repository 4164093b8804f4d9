"""Configuration as data into a fresh PostgreSQL instance: the import is one
PostgreSQL transaction (a bad last entry leaves nothing), and the round trip and
the options served are as on SQLite (tests/test_config_io.py)."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import ADMIN, seed_people
from tests.test_config_io import (  # noqa: F401 - fixtures
    export, give_password, item_named, options, post, routes, source,
)

pytestmark = pytest.mark.services


def test_a_config_imports_into_a_fresh_postgresql_instance_in_one_transaction(source, new_app, tmp_path,
                                                                              ca_bundle, postgres_url):
    from tests.conftest import host_config

    app = new_app(host_config(tmp_path / "pg", ca_bundle, DATABASE_URL=postgres_url), migrate=True)
    assert app.extensions["connect"].db.engine.dialect.name == "postgresql"
    seed_people(app)
    target = app.test_client()
    document = export(source)

    broken = copy.deepcopy(document)
    broken["items"][-1]["editor"] = "radio"
    response = post(target, broken)
    assert response.status_code == 400 and "editor" in response.json["error"]
    assert export(target) == {"version": 1, "datasources": [], "items": []}
    assert post(target, document, dry_run=True).status_code == 200
    assert export(target)["datasources"] == []

    answer = post(target, document).json
    assert len(answer["created"]) == 5
    assert answer["secrets_needed"] == [{"datasource": "Geo", "fields": ["password"]}]
    assert export(target) == document
    give_password(target)
    here, there = item_named(target, "Continent"), item_named(source, "Continent")
    assert options(target, "Country", **{here["field_key"]: "EU"}) == \
        options(source, "Country", **{there["field_key"]: "EU"})
    assert target.get("/plugins/connect/admin/audit", headers=ADMIN).get_data(as_text=True).count(
        "config imported") == 1
