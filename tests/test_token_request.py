"""The ``token_request`` auth mode against a real HTTPS login endpoint on loopback:
the login posted as JSON or as a form, the token sent in its header with its
prefix, reused until it expires, fetched again once after a 401, and a login
answer without a token failing clearly with nothing kept."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import pytest

from tests.conftest import ADMIN, ALICE, make_datasource, make_item
from tests.support.https_servers import Json

PASSWORD = "Login-pw-3f9a-secret"


class LoginAPI:
    """/login hands out a new token per good login; /api/assets answers only a
    token it issued (in the header the test expects) that is still valid."""

    def __init__(self, upstream, *, header="authorization", prefix="Bearer ", body=None):
        self.issued: list[str] = []
        self.logins: list[dict] = []
        self.revoked: set[str] = set()
        self.header, self.prefix = header, prefix
        self.body = body or (lambda token: {"token": token})
        upstream.route("/login", self.login)
        upstream.route("/api/assets", self.assets)

    def login(self, request):
        if request.header("content-type", "").startswith("application/json"):
            sent = json.loads(request.body)
        else:
            sent = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        self.logins.append({"format": request.header("content-type"), **sent})
        if sent.get("username") != "svc" or sent.get("password") != PASSWORD:
            return 401, {"Content-Type": "application/json"}, b'{"error": "bad login"}'
        self.issued.append(f"login-token-{len(self.issued) + 1}-d41c")
        return Json(self.body(self.issued[-1]))

    def assets(self, request):
        seen = request.header(self.header) or ""
        if not seen.startswith(self.prefix) or seen[len(self.prefix):] not in self.issued \
                or seen[len(self.prefix):] in self.revoked:
            return 401, {"Content-Type": "application/json"}, b'{"message": "token refused"}'
        # Which token it saw, by number: an answer never echoes a token.
        return Json({"items": [{"id": "A-1", "name": f"token {self.issued.index(seen[len(self.prefix):]) + 1}"}]})


def _auth(upstream, **extra):
    return {"mode": "token_request", "token_url": upstream.url("/login"), "username": "svc", "password": PASSWORD,
            **extra}


def _setup(people, upstream, **auth):
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), auth=_auth(upstream, **auth), cache_ttl_seconds=0)
    item = make_item(client, ds["id"])
    return client, ds, item


def options(client, item, headers=ADMIN):
    """The item's options on DEMO-1; as an admin, a failure's answer carries its detail."""
    return client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=headers)


def labels(response):
    assert response.status_code == 200, response.json
    return [o["label"] for o in response.json["options"]]


def test_json_login_token_in_a_custom_header_and_reused_until_it_expires(people, upstream):
    api = LoginAPI(upstream, header="x-auth-token", prefix="",
                   body=lambda token: {"data": {"session": token, "ttl": 1.5}})
    client, ds, item = _setup(people, upstream, token_path="$.data.session", expires_in_path="$.data.ttl",
                              header="X-Auth-Token", prefix="")
    assert ds["auth"]["password_set"] is True and "password" not in ds["auth"]
    assert ds["auth"]["prefix"] == "" and ds["auth"]["header"] == "X-Auth-Token"
    assert labels(options(client, item)) == ["token 1"]
    assert labels(options(client, item)) == ["token 1"]
    assert api.logins == [{"format": "application/json", "username": "svc", "password": PASSWORD}]
    from connect_plugin.outbound.redact import known_secrets

    assert PASSWORD in known_secrets() and "login-token-1-d41c" in known_secrets()  # watched by the leak guard
    time.sleep(1.5)  # the token has expired: the next call logs in again
    assert labels(options(client, item)) == ["token 2"]
    assert len(api.logins) == 2


def test_form_login_with_the_default_header_and_prefix(people, upstream):
    api = LoginAPI(upstream)
    client, ds, item = _setup(people, upstream, request_format="form")
    assert ds["auth"]["token_path"] == "$.token" and ds["auth"]["prefix"] == "Bearer "
    assert labels(options(client, item)) == ["token 1"]
    assert api.logins[0]["format"] == "application/x-www-form-urlencoded"
    assert api.logins[0]["password"] == PASSWORD
    # A PATCH of another setting keeps the form format and the password.
    patched = client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                           json={"auth": {"mode": "token_request", "token_path": "$.token"}})
    assert patched.status_code == 200 and patched.json["auth"]["request_format"] == "form"
    assert patched.json["auth"]["prefix"] == "Bearer "


def test_a_refused_token_is_fetched_again_once(people, upstream):
    api = LoginAPI(upstream)
    client, ds, item = _setup(people, upstream)
    assert labels(options(client, item)) == ["token 1"]
    api.revoked.add("login-token-1-d41c")  # the API ends the session early
    assert labels(options(client, item)) == ["token 2"]
    assert len(api.logins) == 2

    upstream.route("/api/assets", lambda r: (401, {"Content-Type": "application/json"}, b"{}"))
    failed = options(client, item)
    assert failed.status_code == 502 and "401" in failed.json["error"]
    assert len(api.logins) == 3, "one new login after the 401, not a loop"


@pytest.mark.parametrize("answer, expected", [
    (Json({"user": "svc"}), "no token at $.token"),
    (Json({"token": ""}), "no token at $.token"),
    ((200, {"Content-Type": "text/html"}, b"<html>Welcome</html>"), "not JSON"),
    ((403, {"Content-Type": "application/json"}, b'{"error": "locked"}'), "403"),
])
def test_a_login_answer_without_a_token_is_a_clear_502_and_nothing_is_kept(people, upstream, answer, expected):
    api = LoginAPI(upstream)
    client, ds, item = _setup(people, upstream)
    upstream.route("/login", lambda r: answer)
    failed = options(client, item)
    assert failed.status_code == 502, failed.json
    assert "login" in failed.json["error"] and expected in failed.json["error"]
    assert expected not in options(client, item, headers=ALICE).json["error"]  # end users: a generic error
    tested = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json
    assert tested["ok"] is False and expected in tested["error"] and "login" in tested["error"]
    upstream.route("/login", api.login)  # the login works again: nothing bad was kept
    assert labels(options(client, item)) == ["token 1"]


def test_the_login_follows_no_redirect(people, upstream):
    LoginAPI(upstream)
    client, ds, item = _setup(people, upstream)
    upstream.route("/login", lambda r: (307, {"Location": upstream.url("/elsewhere")}, b""))
    failed = options(client, item)
    assert failed.status_code == 502 and "redirect" in failed.json["error"]
    assert not [r for r in upstream.requests if r.path == "/elsewhere"]


@pytest.mark.parametrize("auth, field, text", [
    ({"token_url": "http://127.0.0.1/login"}, "auth.token_url", "HTTPS"),
    ({"token_url": "https://10.1.2.3/login"}, "auth.token_url", "10.1.2.3"),
    ({"token_path": "$.[["}, "auth.token_path", "JSONPath"),
    ({"expires_in_path": "$..(("}, "auth.expires_in_path", "JSONPath"),
    ({"header": "X Token"}, "auth.header", "Header name"),
    ({"header": "Content-Length"}, "auth.header", "HTTP client"),
    ({"prefix": "Bearer\r\nX-Injected: 1 "}, "auth.prefix", "line breaks"),
    ({"request_format": "xml"}, "auth.request_format", "json, form"),
    ({"password": None}, "auth.password", "required"),
])
def test_bad_settings_are_refused_when_saved(people, upstream, auth, field, text):
    body = {"name": "Login", "type": "rest", "config": {"base_url": upstream.url("/api")},
            "auth": {k: v for k, v in {**_auth(upstream), **auth}.items() if v is not None}}
    response = people.test_client().post("/plugins/connect/api/datasources", headers=ADMIN, json=body)
    assert response.status_code == 400, response.json
    assert text in response.json["fields"][field]


def test_moving_the_login_url_to_another_host_needs_the_password_again(people, upstream):
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), auth=_auth(upstream))
    url = f"/plugins/connect/api/datasources/{ds['id']}"
    moved = client.patch(url, headers=ADMIN, json={"auth": {"mode": "token_request",
                                                            "token_url": upstream.url("/login", host="localhost")}})
    assert moved.status_code == 400 and "again" in moved.json["fields"]["auth.password"]


def test_the_wizard_offers_the_mode_with_its_fields(people, upstream):
    from tests.conftest import csrf_from, login

    client = people.test_client()
    login(client, "admin", "admin-pw")
    page = client.get("/plugins/connect/admin/datasources/new/rest").get_data(as_text=True)
    configure = client.post("/plugins/connect/admin/datasources/new/rest",
                            data={"step": "name", "name": "Wizard login", "csrf_token": csrf_from(page)})
    html = configure.get_data(as_text=True)
    assert "Login token request" in html
    for name in ("token_url", "username", "password", "request_format", "token_path", "expires_in_path",
                 "header", "prefix"):
        assert f'name="auth_token_request_{name}"' in html
    api = LoginAPI(upstream)
    created = client.post("/plugins/connect/admin/datasources/new/rest", follow_redirects=True, data={
        "step": "configure", "name": "Wizard login", "csrf_token": csrf_from(html),
        "config_base_url": upstream.url("/api"), "config_cache_ttl_seconds": "0", "config_timeout_seconds": "10",
        "config_max_concurrent_calls": "8", "auth_mode": "token_request",
        "auth_token_request_token_url": upstream.url("/login"), "auth_token_request_username": "svc",
        "auth_token_request_password": PASSWORD, "auth_token_request_request_format": "json",
        "auth_token_request_token_path": "$.token", "auth_token_request_header": "Authorization",
        "auth_token_request_prefix": "Bearer "})
    assert created.status_code == 200 and "Datasource Wizard login created" in created.get_data(as_text=True)
    ds = next(d for d in client.get("/plugins/connect/api/datasources", headers=ADMIN).json if d["name"] == "Wizard login")
    assert ds["auth"]["prefix"] == "Bearer " and ds["auth"]["password_set"] is True
    item = make_item(client, ds["id"])
    assert labels(options(client, item)) == ["token 1"]
    assert api.logins[0]["password"] == PASSWORD
