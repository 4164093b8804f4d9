"""Issue 13 rule 2: an OAuth2 token belongs to one credential, in one app. It is kept
in the app's own state, keyed by what defines the credential and the API it is for,
and dropped when its datasource is edited or deleted."""

from __future__ import annotations

import time

import pytest

from connect_plugin.auth_modes.tokens import TokenCache
from tests.conftest import ADMIN, make_datasource, seed_people
from tests.support.https_servers import Json

AUTH = {"mode": "oauth2_client_credentials", "client_id": "connect-app", "client_secret": "cs-first-secret",
        "scope": "assets.read", "client_auth": "client_secret_post"}


@pytest.fixture
def token_api(upstream):
    """Hands out a new token per fetch, naming the secret it was given; /health
    answers 200 for any token it issued and tells which one it saw."""
    issued: list[tuple[str, str]] = []  # (token, client secret)

    def token(request):
        form = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))
        issued.append((f"tok-{len(issued) + 1}", form.get("client_secret", "")))
        return Json({"access_token": issued[-1][0], "token_type": "bearer", "expires_in": 3600})

    def health(request):
        seen = (request.header("authorization") or "").removeprefix("Bearer ")
        if seen not in {t for t, _ in issued}:
            return 401, {"Content-Type": "application/json"}, b"{}"
        return Json({"token": seen})

    upstream.route("/token", token)
    upstream.route("/health", health)
    return issued


def _datasource(client, upstream, **auth):
    return make_datasource(client, upstream.url("/api"), health_check_url=upstream.url("/health"),
                           auth={**AUTH, "token_url": upstream.url("/token"), **auth})


def _test(client, ds_id):
    return client.post(f"/plugins/connect/api/datasources/{ds_id}/test", headers=ADMIN).json


def test_a_recreated_datasource_with_a_reused_id_never_gets_the_old_token(people, upstream, token_api):
    client = people.test_client()
    first = _datasource(client, upstream)
    assert _test(client, first["id"])["ok"] is True
    assert client.delete(f"/plugins/connect/api/datasources/{first['id']}", headers=ADMIN).status_code == 204
    second = _datasource(client, upstream, client_secret="cs-second-secret")
    assert second["id"] == first["id"]  # SQLite reuses the id
    assert _test(client, second["id"])["ok"] is True
    assert token_api == [("tok-1", "cs-first-secret"), ("tok-2", "cs-second-secret")]


def test_two_apps_in_one_process_keep_their_own_tokens(make_app, upstream, token_api):
    one, two = make_app(), make_app()
    seed_people(one)
    ds = _datasource(one.test_client(), upstream)
    assert _test(one.test_client(), ds["id"])["ok"] is True
    assert _test(two.test_client(), ds["id"])["ok"] is True  # the same database, another app
    assert [t for t, _ in token_api] == ["tok-1", "tok-2"]
    assert len(one.extensions["connect"].tokens) == 1 and len(two.extensions["connect"].tokens) == 1


def test_editing_a_datasource_drops_its_token(people, upstream, token_api):
    client = people.test_client()
    ds = _datasource(client, upstream)
    assert _test(client, ds["id"])["ok"] is True
    assert client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                        json={"config": {"timeout_seconds": 30}}).status_code == 200
    assert _test(client, ds["id"])["ok"] is True
    assert [t for t, _ in token_api] == ["tok-1", "tok-2"]
    assert _test(client, ds["id"])["ok"] is True  # and kept while nothing changes
    assert len(token_api) == 2


def test_the_key_names_the_credential_and_the_api():
    from connect_plugin.auth_modes.base import AuthContext
    from connect_plugin.auth_modes.oauth2 import OAuth2ClientCredentials

    def key(api="https://a.example", **plain):
        ctx = AuthContext(client=None, source="s", timeout_seconds=1, tokens=TokenCache(), datasource_id=1,
                          api_origin=api)
        base = {"token_url": "https://idp.example/token", "client_id": "c", "scope": "r"}
        return OAuth2ClientCredentials.token_key({**base, **plain}, {"client_secret": plain.pop("secret", "s1")},
                                                 ctx)

    reference = key()
    assert key() == reference
    for other in (key(api="https://b.example"), key(token_url="https://idp.example/other"), key(client_id="d"),
                  key(scope="w"), key(secret="s2"), key(client_auth="client_secret_post")):
        assert other != reference
    assert "s1" not in repr(reference)  # the secret only as a hash


def test_the_cache_drops_expired_tokens_and_stays_bounded():
    cache = TokenCache(max_tokens=3)
    cache.put(("a",), "t-a", 0.05, datasource_id=1)
    time.sleep(0.06)
    cache.put(("b",), "t-b", 60, datasource_id=2)
    assert cache.get(("a",)) is None and len(cache) == 1
    for name in "cdef":
        cache.put((name,), f"t-{name}", 60, datasource_id=3)
    assert len(cache) == 3 and cache.get(("b",)) is None and cache.get(("f",)) == "t-f"
    cache.drop_datasource(3)
    assert len(cache) == 0


def test_the_token_fetch_and_the_call_share_one_time_limit(people, upstream):
    """Issue 13 rule 13: each step used to get the whole limit (2 s + 2 s here)."""
    from tests.support.https_servers import Sleep

    upstream.route("/token", Sleep(1.3, Json({"access_token": "slow-token", "token_type": "bearer",
                                              "expires_in": 600})))
    upstream.route("/health", Sleep(1.3, Json({"ok": True})))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), health_check_url=upstream.url("/health"), timeout_seconds=2,
                         auth={**AUTH, "token_url": upstream.url("/token")})
    result = _test(client, ds["id"])
    assert result["ok"] is False
    assert result["error"] == "Assets API did not answer within 2 s"
    assert result["elapsed_ms"] < 2600  # one limit for the whole request, not one per step
