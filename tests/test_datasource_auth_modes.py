"""Each authentication mode reaching a real HTTPS endpoint on loopback that checks its
credentials, and wrong credentials failing the test connection with a clear reason."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import ADMIN, make_datasource
from tests.support.https_servers import Json

GOOD = {
    "none": {"mode": "none"},
    "basic": {"mode": "basic", "username": "elements", "password": "connect"},
    "api_key_header": {"mode": "api_key", "location": "header", "key": "X-Api-Key", "value": "k-123-secret"},
    "api_key_query": {"mode": "api_key", "location": "query", "key": "api_key", "value": "q-456-secret"},
    "bearer": {"mode": "bearer", "token": "tok-789-secret"},
    "oauth2": {"mode": "oauth2_client_credentials", "client_id": "connect-app", "client_secret": "cs-000-secret",
               "scope": "assets.read"},
}
WRONG = {
    "basic": {"password": "wrong"},
    "api_key_header": {"value": "wrong-key"},
    "api_key_query": {"value": "wrong-key"},
    "bearer": {"token": "wrong-token"},
    "oauth2": {"client_secret": "wrong-secret"},
}


def checking_api(upstream):
    """Routes that answer 200 only for the GOOD credentials of each mode."""
    issued = []

    def denied():
        return 401, {"Content-Type": "application/json", "WWW-Authenticate": "Basic"}, b'{"message":"bad credentials"}'

    def token(request):
        expected = "Basic " + base64.b64encode(b"connect-app:cs-000-secret").decode()
        form = request.body.decode()
        if request.header("authorization") != expected or "grant_type=client_credentials" not in form:
            return 401, {"Content-Type": "application/json"}, b'{"error":"invalid_client"}'
        issued.append(f"access-{len(issued) + 1}")
        return Json({"access_token": issued[-1], "token_type": "Bearer", "expires_in": 3600})

    def health(request):
        auth = request.header("authorization")
        mode = request.param("mode")
        ok = {
            "none": True,
            "basic": auth == "Basic ZWxlbWVudHM6Y29ubmVjdA==",  # elements:connect, the seed's example
            "api_key_header": request.header("x-api-key") == "k-123-secret",
            "api_key_query": request.param("api_key") == "q-456-secret",
            "bearer": auth == "Bearer tok-789-secret",
            "oauth2": bool(issued) and auth == f"Bearer {issued[-1]}",
        }[mode]
        return Json({"status": "ok"}) if ok else denied()

    upstream.route("/token", token)
    upstream.route("/health", health)
    return issued


@pytest.mark.parametrize("case", list(GOOD))
def test_mode_reaches_an_endpoint_that_checks_credentials(people, upstream, case):
    checking_api(upstream)
    client = people.test_client()
    auth = dict(GOOD[case])
    if case == "oauth2":
        auth["token_url"] = upstream.url("/token")
    ds = make_datasource(client, upstream.url("/api"), name=f"API {case}", auth=auth,
                         health_check_url=upstream.url(f"/health?mode={case}"))
    result = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json
    assert result["ok"] is True, result
    assert result["status"] == 200 and result["elapsed_ms"] >= 0

    if case == "none":
        return
    client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                 json={"auth": {"mode": auth["mode"], **WRONG[case]}})
    result = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json
    assert result["ok"] is False
    assert result["status"] == 401
    assert "401" in result["error"] and f"API {case}" in result["error"]
    for secret in ("wrong", "connect", "k-123-secret", "q-456-secret", "tok-789-secret", "cs-000-secret"):
        assert secret not in result["error"]


def test_api_key_in_query_is_sent_once_and_replaces_the_same_parameter(people, upstream):
    checking_api(upstream)
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), auth=GOOD["api_key_query"],
                         health_check_url=upstream.url("/health?mode=api_key_query&api_key=typed-by-admin"))
    assert client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json["ok"] is True
    assert upstream.requests[-1].query["api_key"] == ["q-456-secret"]


def test_basic_example_from_the_seed_is_encoded_per_rfc_7617(people, upstream):
    checking_api(upstream)
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), auth=GOOD["basic"],
                         health_check_url=upstream.url("/health?mode=basic"))
    client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN)
    assert upstream.requests[-1].header("authorization") == "Basic ZWxlbWVudHM6Y29ubmVjdA=="


def test_oauth2_token_is_reused_then_fetched_again_once_after_a_401(people, upstream):
    issued = checking_api(upstream)
    client = people.test_client()
    auth = dict(GOOD["oauth2"], token_url=upstream.url("/token"))
    ds = make_datasource(client, upstream.url("/api"), auth=auth, health_check_url=upstream.url("/health?mode=oauth2"))
    url = f"/plugins/connect/api/datasources/{ds['id']}/test"
    assert client.post(url, headers=ADMIN).json["ok"] is True
    assert client.post(url, headers=ADMIN).json["ok"] is True
    assert issued == ["access-1"], "the token is cached until it expires"

    # The API revokes the token: the next call gets 401, fetches a new token once, succeeds.
    issued.append("revoked-elsewhere")
    assert client.post(url, headers=ADMIN).json["ok"] is True
    token_calls = [r for r in upstream.requests if r.path == "/token"]
    assert len(token_calls) == 2 and issued[-1] == "access-3"


def test_oauth2_client_secret_post_sends_credentials_in_the_body(people, upstream):
    seen = []

    def token(request):
        seen.append((request.header("authorization"), request.body.decode()))
        return Json({"access_token": "abc", "token_type": "bearer", "expires_in": 60})

    upstream.route("/token", token)
    upstream.route("/health", lambda r: Json({}) if r.header("authorization") == "Bearer abc" else (401, {}, b""))
    client = people.test_client()
    auth = dict(GOOD["oauth2"], token_url=upstream.url("/token"), client_auth="client_secret_post")
    ds = make_datasource(client, upstream.url("/api"), auth=auth, health_check_url=upstream.url("/health"))
    assert client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json["ok"] is True
    authorization, body = seen[0]
    assert authorization is None
    assert "client_id=connect-app" in body and "client_secret=cs-000-secret" in body and "scope=assets.read" in body


@pytest.mark.parametrize("status", [302, 307, 308])
def test_oauth2_token_endpoint_redirects_are_never_followed(people, upstream, status):
    """A 307/308 would re-send the client_secret_post form to wherever it points."""
    from tests.support.https_servers import HTTPSServer, Reply

    with HTTPSServer(upstream.ca, {"/steal": Json({"access_token": "stolen", "token_type": "bearer"})}) as thief:
        upstream.route("/token", Reply(status, {"Location": thief.url("/steal")}))
        client = people.test_client()
        auth = dict(GOOD["oauth2"], token_url=upstream.url("/token"), client_auth="client_secret_post")
        ds = make_datasource(client, upstream.url("/api"), auth=auth, health_check_url=upstream.url("/health"))
        result = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json
        assert thief.requests == []
    assert result["ok"] is False
    assert result["error"] == (f"Assets API (token endpoint): the answer is a redirect ({status}) to "
                               f"{thief.url('/steal')}, which is not followed here")


def test_oauth2_token_endpoint_refusal_is_a_clear_failure(people, upstream):
    checking_api(upstream)
    client = people.test_client()
    auth = dict(GOOD["oauth2"], token_url=upstream.url("/token"), client_secret="not-the-secret")
    ds = make_datasource(client, upstream.url("/api"), auth=auth, health_check_url=upstream.url("/health?mode=oauth2"))
    result = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json
    assert result["ok"] is False and result["status"] == 401
    assert "token endpoint" in result["error"] and "not-the-secret" not in result["error"]


def test_untrusted_certificate_fails_the_test_with_its_reason(people, upstream, make_app):
    from tests.support.https_servers import HTTPSServer, make_ca

    client = people.test_client()
    with HTTPSServer(make_ca(), {"/health": Json({})}) as stranger:
        ds = make_datasource(client, stranger.url("/api"), health_check_url=stranger.url("/health"))
        result = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json
    assert result["ok"] is False and "status" not in result
    assert "certificate" in result["error"].lower() and "Assets API" in result["error"]


def test_health_check_url_defaults_to_the_base_url(people, upstream):
    upstream.route("/api", Json({"hello": "world"}))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    assert client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json["ok"] is True
    assert upstream.requests[-1].path == "/api"


def test_non_2xx_health_answer_is_not_ok(people, upstream):
    upstream.route("/health", lambda r: (503, {"Content-Type": "text/plain"}, b"maintenance"))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), health_check_url=upstream.url("/health"))
    result = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json
    assert result == {"ok": False, "status": 503, "error": result["error"], "elapsed_ms": result["elapsed_ms"]}
    assert "503" in result["error"] and "maintenance" in result["error"]
