"""The ``oauth2_authorization_code`` auth mode, driven through the datasource page
with the Flask test client against a small OAuth2 provider on loopback HTTPS:
Connect with state and PKCE S256, a state that is used twice, comes from another
session or has expired is refused, tokens refresh when they expire and once after a
401, a revoked refresh token shows "Connect again", and Disconnect drops them."""

from __future__ import annotations

import json
import re
import threading
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ADMIN, create_user, csrf_from, login, make_datasource, make_item
from tests.support.oauth_provider import CLIENT_ID, CLIENT_SECRET, OAuthProvider
from tests.test_token_request import labels, options

CALLBACK = "/plugins/connect/admin/oauth/callback"


@pytest.fixture
def provider(upstream):
    return OAuthProvider(upstream)


@pytest.fixture
def setup(people, upstream, provider):
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"), cache_ttl_seconds=0, auth={
        "mode": "oauth2_authorization_code", "authorize_url": provider.authorize_url,
        "token_url": provider.token_url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "scope": "assets.read offline_access"})
    item = make_item(client, ds["id"])
    login(client, "admin", "admin-pw")
    return client, ds, item


def page(client, ds):
    return client.get(f"/plugins/connect/admin/datasources/{ds['id']}").get_data(as_text=True)


def start(client, ds) -> str:
    """Click Connect; return where the browser is sent (the provider's page)."""
    html = page(client, ds)
    response = client.post(f"/plugins/connect/admin/datasources/{ds['id']}/oauth/connect",
                           data={"csrf_token": csrf_from(html)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    found = re.search(r'href="([^"]+)" data-oauth-continue', html)
    assert found and f'content="0; url={found.group(1)}"' in html
    return unescape(found.group(1))


def callback(client, back_to: str):
    parts = urlsplit(back_to)
    assert parts.path == CALLBACK
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=True)


def connect(client, ds, provider):
    done = callback(client, provider.approve(start(client, ds)))
    assert f"{ds['name']} is connected." in done.get_data(as_text=True)
    return done


def api_auth(client, ds):
    return client.get(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN).json["auth"]


def test_connect_runs_the_code_flow_with_state_and_pkce(setup, provider):
    client, ds, item = setup
    assert ds["auth"]["connected"] is False and ds["auth"]["client_secret_set"] is True
    html = page(client, ds)
    assert ">Connect</button>" in html and "Not connected yet" in html
    failed = options(client, item)
    assert failed.status_code == 502 and "not connected" in failed.json["error"]

    location = start(client, ds)
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["assets.read offline_access"]
    assert query["redirect_uri"] == [f"http://localhost{CALLBACK}"]
    assert "code_verifier" not in location
    done = callback(client, provider.approve(location))
    html = done.get_data(as_text=True)
    assert "is connected." in html and ">Disconnect</button>" in html
    assert provider.grants == ["authorization_code"]  # the provider checked the PKCE verifier
    auth = api_auth(client, ds)
    assert auth["connected"] is True
    assert not {"refresh_token", "access_token", "refresh_token_set", "access_token_set"} & set(auth)
    assert labels(options(client, item)) == ["token 1"]
    assert labels(options(client, item)) == ["token 1"]  # the stored access token is reused
    assert provider.grants == ["authorization_code"]
    entries = client.get("/plugins/connect/admin/audit").get_data(as_text=True)
    assert "connected" in entries
    from connect_plugin.outbound.redact import known_secrets

    assert all(token in known_secrets() for token in provider.issued)  # the leak guard watches each one


def test_a_state_used_twice_or_from_another_session_is_refused(setup, provider, people):
    client, ds, item = setup
    back_to = provider.approve(start(client, ds))
    create_user(people, "root2", "root2-pw", admin=True)
    other = people.test_client()
    login(other, "root2", "root2-pw")
    refused = callback(other, back_to)  # another admin's session never started this flow
    assert "not valid" in refused.get_data(as_text=True)
    assert api_auth(client, ds)["connected"] is False and provider.grants == []

    connect_page = callback(client, back_to)
    assert "is connected." in connect_page.get_data(as_text=True)
    again = callback(client, back_to)  # the same answer once more
    assert "not valid" in again.get_data(as_text=True)
    assert provider.grants == ["authorization_code"]


def test_a_state_replayed_with_an_old_copy_of_the_session_cookie_is_refused(setup, provider, upstream):
    """The flow is kept on the server: a copy of the session cookie taken before the
    callback (it still holds all the session held then) cannot use the state again."""
    client, ds, _item = setup
    back_to = provider.approve(start(client, ds))
    name = client.application.config["SESSION_COOKIE_NAME"]
    before = client.get_cookie(name).value
    assert "is connected." in callback(client, back_to).get_data(as_text=True)
    client.set_cookie(name, before)
    again = callback(client, back_to)
    assert "not valid" in again.get_data(as_text=True)
    assert [r.path for r in upstream.requests].count("/token") == 1  # no second exchange was tried


def test_flows_are_bounded_per_session_and_expired_ones_are_deleted(setup, provider):
    from connect_plugin.auth_modes import connect_flows
    from connect_plugin.models import OAuthFlow

    client, ds, _item = setup
    started = [start(client, ds) for _ in range(connect_flows.MAX_PENDING + 3)]
    app = client.application
    with app.app_context():
        db = app.extensions["connect"].db.session()
        assert db.query(OAuthFlow).count() == connect_flows.MAX_PENDING
        assert connect_flows.finish(db, "any", "binding", now=0) is None
        connect_flows.begin(db, ds["id"], "another session", now=time.time() + connect_flows.STATE_SECONDS + 1)
        assert db.query(OAuthFlow).count() == 1  # the expired ones went when a flow began
        db.rollback()
    oldest, newest = started[0], started[-1]
    assert "not valid" in callback(client, provider.approve(oldest)).get_data(as_text=True)
    assert "is connected." in callback(client, provider.approve(newest)).get_data(as_text=True)


def test_an_expired_state_is_refused(setup, provider, monkeypatch):
    from connect_plugin.auth_modes import connect_flows

    client, ds, _item = setup
    monkeypatch.setattr(connect_flows, "STATE_SECONDS", 0.2)
    back_to = provider.approve(start(client, ds))
    time.sleep(0.3)
    assert "not valid" in callback(client, back_to).get_data(as_text=True)
    assert provider.grants == [] and api_auth(client, ds)["connected"] is False


def test_a_refused_grant_at_the_callback_keeps_the_datasource_disconnected(setup, provider):
    client, ds, _item = setup
    location = start(client, ds)
    state = parse_qs(urlsplit(location).query)["state"][0]
    denied = client.get(f"{CALLBACK}?error=access_denied&state={state}", follow_redirects=True)
    assert "did not grant access" in denied.get_data(as_text=True)
    back_to = provider.approve(start(client, ds))
    provider.codes.clear()  # the provider forgot the code: the exchange fails
    failed = callback(client, back_to).get_data(as_text=True)
    assert "Connecting" in failed and "invalid_grant" in failed
    assert api_auth(client, ds)["connected"] is False


def test_an_expired_access_token_is_refreshed_and_a_refused_one_once(setup, provider):
    client, ds, item = setup
    provider.expires_in = 1
    connect(client, ds, provider)
    assert labels(options(client, item)) == ["token 1"]
    time.sleep(1.05)
    assert labels(options(client, item)) == ["token 3"]  # tokens 1 and 2 came with Connect
    assert provider.grants == ["authorization_code", "refresh_token"]

    provider.expires_in = 3600
    time.sleep(1.05)
    assert labels(options(client, item)) == ["token 4"]
    provider.expire_access_tokens()  # the API refuses it before its time: 401, one refresh, one retry
    assert labels(options(client, item)) == ["token 5"]
    assert provider.grants == ["authorization_code", "refresh_token", "refresh_token", "refresh_token"]


def test_a_revoked_refresh_token_shows_connect_again(setup, provider):
    client, ds, item = setup
    connect(client, ds, provider)
    provider.revoke_refresh_tokens()
    provider.expire_access_tokens()
    failed = options(client, item)
    assert failed.status_code == 502 and "connect again" in failed.json["error"]
    auth = api_auth(client, ds)
    assert auth["connected"] is False and "refused the refresh token" in auth["connection_lost"]
    html = page(client, ds)
    assert ">Connect again</button>" in html and "refused the refresh token" in html
    audit = client.get("/plugins/connect/admin/audit").get_data(as_text=True)
    assert "the provider refused the tokens" in audit and "auth.connection_lost" in audit
    # An edit saved meanwhile (what the datasource page sends) keeps the warning.
    url = f"/plugins/connect/api/datasources/{ds['id']}"
    shown = {k: v for k, v in api_auth(client, ds).items() if k not in ("connected", "connection_lost")}
    saved = client.patch(url, headers=ADMIN, json={"config": {"timeout_seconds": 25}, "auth": shown})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert "refused the refresh token" in saved.json["auth"]["connection_lost"]
    assert ">Connect again</button>" in page(client, ds)
    connect(client, ds, provider)  # connecting again works, and the warning is gone
    assert labels(options(client, item)) == ["token 3"]
    assert "connection_lost" not in api_auth(client, ds)


def _connector(app, datasource_id):
    """What one request's call builds (each worker reads the stored tokens like this)."""
    from connect_plugin.datasources.connector import Connector
    from connect_plugin.models import Datasource

    state = app.extensions["connect"]
    return Connector.for_datasource(state, state.db.session().get(Datasource, datasource_id))


def test_tokens_another_worker_refreshed_are_taken_not_refused(setup, provider, upstream):
    """Two calls read the tokens before either refreshes (as two workers do); the
    provider rotates refresh tokens. The first refreshes; the second takes what the
    first stored instead of presenting the old refresh token, which would be refused
    and leave the datasource disconnected."""
    client, ds, item = setup
    provider.rotate_refresh = True
    connect(client, ds, provider)  # access token 1, refresh token 2
    provider.expire_access_tokens()
    url = upstream.url("/api/assets")
    app = client.application
    with app.app_context():
        first, second = _connector(app, ds["id"]), _connector(app, ds["id"])
        assert first.get(url).json()["items"][0]["name"] == "token 3"  # refreshed: access 3, refresh 4
        assert second.get(url).json()["items"][0]["name"] == "token 3"
    assert provider.grants == ["authorization_code", "refresh_token"]
    assert api_auth(client, ds)["connected"] is True


def test_a_refresh_refused_because_another_worker_just_rotated_it_takes_that_workers_tokens(
        setup, provider, upstream):
    """The other worker's refresh lands between this call's read of the stored tokens
    and its own refresh: the provider refuses the old refresh token, the call reads the
    stored tokens again and uses the other worker's instead of disconnecting."""
    from connect_plugin.datasources.secrets import ObtainedSecrets

    client, ds, item = setup
    provider.rotate_refresh = True
    connect(client, ds, provider)
    provider.expire_access_tokens()
    app = client.application
    state = app.extensions["connect"]
    answer_token = provider.token
    raced = []

    def token(request):
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") == "refresh_token" and not raced:
            raced.append(True)  # first the other worker's refresh, with the same refresh token
            other = json.loads(answer_token(request).body)
            ObtainedSecrets(state.db, state.box, ds["id"]).keep({
                "refresh_token": other["refresh_token"],
                "access_token": json.dumps({"token": other["access_token"], "expires_at": time.time() + 600})})
        return answer_token(request)  # this call's: the old refresh token, now refused

    upstream.route("/token", token)
    with app.app_context():
        assert _connector(app, ds["id"]).get(upstream.url("/api/assets")).json()["items"][0]["name"] == "token 3"
    assert raced and provider.grants == ["authorization_code", "refresh_token"]
    assert api_auth(client, ds)["connected"] is True and "connection_lost" not in api_auth(client, ds)


def test_waiting_for_another_calls_refresh_counts_against_the_calls_own_time(setup, provider):
    """While another call of the process refreshes (here: holds the datasource's turn),
    a call that needs a refresh waits at most its own time limit, then answers 504."""
    from connect_plugin.auth_modes import oauth2_code

    client, ds, item = setup
    connect(client, ds, provider)
    assert client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                        json={"config": {"timeout_seconds": 1}}).status_code == 200
    provider.expire_access_tokens()
    turn = oauth2_code._turn(ds["id"])
    held, done = threading.Event(), threading.Event()

    def other_refresh():  # another call's refresh, taking 8 s at most
        with turn:
            held.set()
            done.wait(8)

    other = threading.Thread(target=other_refresh)
    other.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        waited = options(client, item)
        elapsed = time.monotonic() - started
    finally:
        done.set()
        other.join()
    assert waited.status_code == 504 and "refreshing its access token" in waited.json["error"]
    assert elapsed < 5, elapsed
    assert labels(options(client, item)) == ["token 3"]  # the turn is free again: refreshed
    assert api_auth(client, ds)["connected"] is True


def test_another_datasources_refresh_does_not_hold_this_ones(setup, provider):
    """Each datasource has its own turn: a refresh that hangs elsewhere (any id) does
    not make this one's calls wait."""
    from connect_plugin.auth_modes import oauth2_code

    client, ds, item = setup
    connect(client, ds, provider)
    assert client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                        json={"config": {"timeout_seconds": 1}}).status_code == 200
    provider.expire_access_tokens()
    others = [oauth2_code._turn(ds["id"] + offset) for offset in (1, 64, 1024)]
    for turn in others:
        turn.acquire()
    try:
        assert labels(options(client, item)) == ["token 3"]
    finally:
        for turn in others:
            turn.release()


def test_disconnect_drops_the_tokens_and_an_edit_keeps_them(setup, provider):
    client, ds, item = setup
    connect(client, ds, provider)
    url = f"/plugins/connect/api/datasources/{ds['id']}"
    shown = api_auth(client, ds)  # what GET answers goes back unchanged (config export and import do so)
    kept = client.patch(url, headers=ADMIN, json={"config": {"timeout_seconds": 20}, "auth": shown})
    assert kept.status_code == 200 and kept.json["auth"]["connected"] is True
    changed = client.patch(url, headers=ADMIN, json={"auth": {"mode": "oauth2_authorization_code",
                                                              "scope": "assets.write"}})
    assert changed.json["auth"]["connected"] is False, "new settings need a new Connect"
    connect(client, ds, provider)
    html = page(client, ds)
    done = client.post(f"/plugins/connect/admin/datasources/{ds['id']}/oauth/disconnect",
                       data={"csrf_token": csrf_from(html)}, follow_redirects=True)
    assert "is disconnected" in done.get_data(as_text=True)
    assert api_auth(client, ds)["connected"] is False
    assert options(client, item).status_code == 502
    audit = client.get("/plugins/connect/admin/audit").get_data(as_text=True)
    assert "disconnected" in audit


def test_connect_needs_the_page_csrf_token(setup):
    client, ds, _item = setup
    refused = client.post(f"/plugins/connect/admin/datasources/{ds['id']}/oauth/connect")
    assert refused.status_code in (400, 403)
