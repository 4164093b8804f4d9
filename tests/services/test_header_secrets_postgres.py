"""A secret header's value is stored on PostgreSQL under ``header:<name>`` whatever
the name's length (names up to 100 characters; the column is sized for them)."""

from __future__ import annotations

from tests.conftest import ADMIN, seed_people

LONG_NAME = "X-" + "Vendor-Subscription-Key-" * 4  # 98 characters


def test_a_long_secret_header_name_is_stored_and_kept_on_postgresql(make_app, postgres_url):
    app = make_app(DATABASE_URL=postgres_url)
    seed_people(app)
    client = app.test_client()
    created = client.post("/plugins/connect/api/datasources", headers=ADMIN, json={
        "name": "Long", "type": "rest", "config": {"base_url": "https://127.0.0.1:9/api", "headers": [
            {"name": LONG_NAME, "value": "Long-hdr-secret-6d1e", "secret": True}]}})
    assert created.status_code == 201, created.json
    assert created.json["config"]["headers"] == [{"name": LONG_NAME, "secret": True, "value_set": True}]
    kept = client.patch(f"/plugins/connect/api/datasources/{created.json['id']}", headers=ADMIN,
                        json={"config": {"headers": [{"name": LONG_NAME, "secret": True}], "timeout_seconds": 9}})
    assert kept.status_code == 200, kept.json
    assert kept.json["config"]["headers"][0]["value_set"] is True
