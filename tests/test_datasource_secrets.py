"""Secrets go in encrypted and never come back out: API answers, pages, the database
file; PATCH keeps or drops them as the contract says; keys rotate end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from connect_plugin.secret_box import SecretKeyError
from tests.conftest import ADMIN, SECRET_KEYS, make_datasource
from tests.support.https_servers import Json

SECRETS = {
    "basic": ({"mode": "basic", "username": "svc", "password": "Pw-basic-51f0"}, "Pw-basic-51f0"),
    "api_key": ({"mode": "api_key", "location": "header", "key": "X-Key", "value": "Key-value-8c2d"}, "Key-value-8c2d"),
    "bearer": ({"mode": "bearer", "token": "Token-bearer-77ae"}, "Token-bearer-77ae"),
    "oauth2": ({"mode": "oauth2_client_credentials", "token_url": "https://127.0.0.1:9/token",
                "client_id": "cid", "client_secret": "Client-secret-3b9e"}, "Client-secret-3b9e"),
}


def db_bytes(app) -> bytes:
    url = app.config["DATABASE_URL"]
    path = Path(url.removeprefix("sqlite:///"))
    data = path.read_bytes()
    for extra in (Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        if extra.exists():
            data += extra.read_bytes()
    return data


@pytest.mark.parametrize("mode", list(SECRETS))
def test_a_full_cycle_never_shows_the_secret(people, upstream, mode):
    auth, secret = SECRETS[mode]
    upstream.route("/health", Json({"ok": True}))
    client = people.test_client()
    seen: list[bytes] = []

    def keep(response):
        seen.append(response.get_data())
        seen.append(str(response.headers).encode())
        return response

    created = client.post("/plugins/connect/api/datasources", headers=ADMIN, json={
        "name": f"DS {mode}", "type": "rest",
        "config": {"base_url": upstream.url("/api"), "health_check_url": upstream.url("/health")}, "auth": auth})
    assert created.status_code == 201
    keep(created)
    ds_id = created.json["id"]
    secret_field = {"basic": "password", "api_key": "value", "bearer": "token", "oauth2": "client_secret"}[mode]
    assert created.json["auth"][f"{secret_field}_set"] is True
    assert secret_field not in created.json["auth"]

    keep(client.get("/plugins/connect/api/datasources", headers=ADMIN))
    keep(client.get(f"/plugins/connect/api/datasources/{ds_id}", headers=ADMIN))
    keep(client.patch(f"/plugins/connect/api/datasources/{ds_id}", headers=ADMIN,
                      json={"config": {"cache_ttl_seconds": 60}}))
    keep(client.post(f"/plugins/connect/api/datasources/{ds_id}/test", headers=ADMIN))
    for page in ("/plugins/connect/admin/datasources", f"/plugins/connect/admin/datasources/{ds_id}"):
        keep(client.get(page, headers=ADMIN))
    keep(client.get("/plugins/connect/api/datasource-types", headers=ADMIN))

    assert all(secret.encode() not in blob for blob in seen)
    assert secret.encode() not in db_bytes(people)


def test_patch_without_secret_keeps_it_and_mode_change_drops_it(people, upstream):
    client = people.test_client()
    upstream.route("/health", lambda r: Json({}) if r.header("authorization") == "Bearer first-token" else (401, {}, b""))
    ds = make_datasource(client, upstream.url("/api"), auth={"mode": "bearer", "token": "first-token"},
                         health_check_url=upstream.url("/health"))
    url = f"/plugins/connect/api/datasources/{ds['id']}"

    kept = client.patch(url, headers=ADMIN, json={"auth": {"mode": "bearer"}, "config": {"timeout_seconds": 5}})
    assert kept.status_code == 200 and kept.json["auth"]["token_set"] is True
    assert kept.json["config"]["timeout_seconds"] == 5
    assert kept.json["config"]["base_url"] == upstream.url("/api"), "config merges key by key"
    assert client.post(url + "/test", headers=ADMIN).json["ok"] is True

    refused = client.patch(url, headers=ADMIN, json={"auth": {"mode": "basic", "username": "u"}})
    assert refused.status_code == 400
    assert refused.json["fields"] == {"auth.password": "Password is required."}
    assert client.get(url, headers=ADMIN).json["auth"] == {"mode": "bearer", "token_set": True}

    switched = client.patch(url, headers=ADMIN, json={"auth": {"mode": "basic", "username": "u", "password": "p-1"}})
    assert switched.json["auth"] == {"mode": "basic", "username": "u", "password_set": True}
    back = client.patch(url, headers=ADMIN, json={"auth": {"mode": "bearer"}})
    assert back.status_code == 400, "the old bearer token was dropped with the mode change"

    cleared = client.patch(url, headers=ADMIN, json={"auth": {"mode": "basic", "password": None}})
    assert cleared.status_code == 400 and "auth.password" in cleared.json["fields"]


@pytest.mark.parametrize("body, field, message", [
    ({"config": {"base_url": "http://api.example.com"}}, "config.base_url", "Only HTTPS URLs are accepted"),
    ({"config": {"base_url": "https://"}}, "config.base_url", "host"),
    ({"config": {"base_url": "not a url"}}, "config.base_url", ""),
    ({"name": "  "}, "name", "Name is required."),
    ({"auth": {"mode": "kerberos"}}, "auth.mode", "Unknown authentication mode"),
    ({"auth": {"mode": "basic", "username": "a:b", "password": "x"}}, "auth.username", "colon"),
    ({"auth": {"mode": "api_key", "location": "header", "key": "Bad Header", "value": "v"}}, "auth.key", "Header name"),
    ({"auth": {"mode": "api_key", "location": "header", "key": "X-K", "value": "a\r\nInjected: 1"}}, "auth.value",
     "line breaks"),
    ({"auth": {"mode": "oauth2_client_credentials", "token_url": "http://idp/token", "client_id": "c",
               "client_secret": "s"}}, "auth.token_url", "Only HTTPS URLs are accepted"),
    ({"config": {"health_check_url": "ftp://x/health"}}, "config.health_check_url", "Only HTTPS URLs are accepted"),
    ({"config": {"timeout_seconds": 0}}, "config.timeout_seconds", "between 1 and 300"),
    # Saved URLs whose host is written as a non-public address are refused at once
    # (nothing is contacted; names are judged at connect time by the client).
    ({"config": {"base_url": "https://10.0.0.5/api"}}, "config.base_url", "may not reach"),
    ({"config": {"health_check_url": "https://169.254.169.254/latest"}}, "config.health_check_url",
     "may not reach"),
    ({"config": {"base_url": "https://167772161/api"}}, "config.base_url", "may not reach"),
])
def test_validation_names_the_field(people, body, field, message):
    payload = {"name": "Assets", "type": "rest", "config": {"base_url": "https://127.0.0.1:9/api"},
               "auth": {"mode": "none"}}
    for key, value in body.items():
        payload[key] = {**payload[key], **value} if isinstance(value, dict) and key == "config" else value
    response = people.test_client().post("/plugins/connect/api/datasources", headers=ADMIN, json=payload)
    assert response.status_code == 400
    assert field in response.json["fields"], response.json
    assert message in response.json["fields"][field]
    assert response.json["error"]


def test_duplicate_name_and_delete_in_use(people, upstream):
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    again = client.post("/plugins/connect/api/datasources", headers=ADMIN,
                        json={"name": "assets api", "config": {"base_url": upstream.url("/api")}})
    assert again.status_code == 400 and "already exists" in again.json["fields"]["name"]
    client.post("/plugins/connect/api/items", headers=ADMIN, json={
        "name": "Laptop", "datasource_id": ds["id"], "editor": "select", "query": "/x",
        "options": {"path": "$[*]", "value": "${row.id}", "label": "${row.name}"}})
    refused = client.delete(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN)
    assert refused.status_code == 409 and "Laptop" in refused.json["error"]
    assert client.get(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN).status_code == 200


def test_key_rotation_end_to_end(make_app, upstream):
    from tests.conftest import create_user

    old_key, new_key = SECRET_KEYS, Fernet.generate_key().decode()
    upstream.route("/health", lambda r: Json({}) if r.header("authorization") == "Bearer rotate-me" else (401, {}, b""))
    app = make_app()
    create_user(app, "admin", "admin-pw", admin=True)
    ds = make_datasource(app.test_client(), upstream.url("/api"), auth={"mode": "bearer", "token": "rotate-me"},
                         health_check_url=upstream.url("/health"))
    before = db_bytes(app)

    both = make_app(CONNECT_SECRET_KEYS=f"{new_key},{old_key}")
    result = both.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0 and "Re-encrypted 1 secret" in result.output
    assert db_bytes(both) != before

    only_new = make_app(CONNECT_SECRET_KEYS=new_key)
    test = only_new.test_client().post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN)
    assert test.json["ok"] is True, "the secret still works with only the new key"

    only_old = make_app(CONNECT_SECRET_KEYS=old_key)
    client = only_old.test_client()
    shown = client.get(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN).json
    assert "stored secret cannot be read: re-enter it" in shown["secret_error"]
    failed = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json
    assert failed["ok"] is False and "re-enter it" in failed["error"]
    assert client.get("/plugins/connect/api/datasources", headers=ADMIN).status_code == 200
    # Re-entering the secret repairs the datasource without losing anything else.
    repaired = client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                            json={"auth": {"mode": "bearer", "token": "rotate-me"}})
    assert repaired.status_code == 200 and "secret_error" not in repaired.json


def test_bad_secret_key_setting_stops_start_up_clearly(make_app):
    with pytest.raises(SecretKeyError) as caught:
        make_app(CONNECT_SECRET_KEYS="not-a-fernet-key")
    assert "CONNECT_SECRET_KEYS" in str(caught.value) and "key number 1" in str(caught.value)
    assert str(caught.value) == ("CONNECT_SECRET_KEYS: key number 1 is not a Fernet key "
                                 "(32 url-safe base64-encoded bytes, as Fernet.generate_key() makes).")


WIZARD_AUTH = {
    "basic": {"auth_basic_username": "svc", "auth_basic_password": "Pw-wizard-1d4e"},
    "api_key": {"auth_api_key_location": "header", "auth_api_key_key": "X-Key",
                "auth_api_key_value": "Key-wizard-9a0b"},
    "bearer": {"auth_bearer_token": "Token-wizard-5c6f"},
    "oauth2_client_credentials": {
        "auth_oauth2_client_credentials_client_id": "cid",
        "auth_oauth2_client_credentials_client_secret": "Client-wizard-2e7a",
        "auth_oauth2_client_credentials_client_auth": "client_secret_basic"},
}


@pytest.mark.parametrize("mode", list(WIZARD_AUTH))
def test_the_wizard_pages_never_show_the_secret(people, upstream, mode):
    """Create through the wizard, open, save unchanged, test and list: no page and no
    byte of the database holds the secret in clear."""
    from tests.conftest import csrf_from, login

    upstream.route("/health", Json({"ok": True}))
    upstream.route("/token", Json({"access_token": "Access-wizard-4f4f", "token_type": "bearer"}))
    secret = next(v for k, v in WIZARD_AUTH[mode].items() if k.endswith(("password", "value", "token", "secret")))
    client = people.test_client()
    login(client, "admin", "admin-pw")
    pages: list[str] = []

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.get_data(as_text=True))
        return pages[-1]

    def post(url, data):
        data = {"csrf_token": csrf_from(pages[-1]), **data}
        response = client.post(url, data=data, follow_redirects=True)
        pages.append(response.get_data(as_text=True))
        return response

    get("/plugins/connect/admin/datasources")
    get("/plugins/connect/admin/datasources/new")
    get("/plugins/connect/admin/datasources/new/rest")
    post("/plugins/connect/admin/datasources/new/rest", {"step": "name", "name": f"Wizard {mode}"})
    auth = dict(WIZARD_AUTH[mode])
    if mode == "oauth2_client_credentials":
        auth["auth_oauth2_client_credentials_token_url"] = upstream.url("/token")
    config = {"name": f"Wizard {mode}", "config_base_url": upstream.url("/api"),
              "config_health_check_url": upstream.url("/health"), "config_cache_ttl_seconds": "300",
              "config_timeout_seconds": "10", "config_max_concurrent_calls": "8", "auth_mode": mode, **auth}
    created = post("/plugins/connect/admin/datasources/new/rest", {"step": "configure", **config})
    assert created.status_code == 200 and f"Wizard {mode}" in pages[-1]
    ds_id = client.get("/plugins/connect/api/datasources").json[0]["id"]
    detail = f"/plugins/connect/admin/datasources/{ds_id}"
    get(detail)
    blank = {k: ("" if v == secret else v) for k, v in config.items()}
    assert post(detail, blank).status_code == 200
    post(f"{detail}/test", {})
    assert "Connection OK" in pages[-1] or "HTTP 200" in pages[-1], pages[-1][:2000]
    assert re.search(r"Connection OK — HTTP 200 in \d+ ms", pages[-1]), pages[-1][:2000]
    get("/plugins/connect/admin/datasources")
    get("/plugins/connect/admin/audit")

    assert all(secret not in page for page in pages)
    assert "Access-wizard-4f4f" not in "".join(pages)
    assert secret.encode() not in db_bytes(people)
