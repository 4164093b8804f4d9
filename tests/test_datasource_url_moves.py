"""Where a datasource points, and what its secrets may follow (issue 13 rules 5 and 6).

Rule 5: a PATCH (API or the admin page's Save) that points ``base_url``,
``health_check_url`` or ``token_url`` at another origin must give the stored
secrets again, else 400 naming each secret and nothing is written.
Rule 6: ``token_url`` passes the same save-time address rules as ``base_url``.
The same rules called on the service directly: tests/unit/test_datasource_service.py.

No upstream is ever called here: the URLs are saved, not contacted, and the
address decisions are pure functions (no DNS, no sockets).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connect_plugin.auth_modes.base import AuthMode, auth_field
from connect_plugin.datasources import destinations
from connect_plugin.datasources.rest import RestDatasource
from connect_plugin.errors import ValidationError
from connect_plugin.outbound.urls import origin
from tests.conftest import ADMIN

API = "/plugins/connect/api/datasources"
PASSWORD = "Moves-pw-7e41c0"
CLIENT_SECRET = "Moves-client-secret-2d95"
BASIC = {"mode": "basic", "username": "svc", "password": PASSWORD}
OAUTH2 = {"mode": "oauth2_client_credentials", "token_url": "https://login.example.com/oauth/token",
          "client_id": "connect", "client_secret": CLIENT_SECRET}
TOKEN_MOVES = "Enter the client secret again: the token URL moves to another host."


def create(client, auth, **config):
    response = client.post(API, headers=ADMIN, json={
        "name": "Assets", "type": "rest",
        "config": {"base_url": "https://assets.example.com/api", **config}, "auth": auth})
    assert response.status_code == 201, response.json
    return response.json


def patch(client, ds, body):
    return client.patch(f"{API}/{ds['id']}", headers=ADMIN, json=body)


def stored(client, ds):
    return client.get(f"{API}/{ds['id']}", headers=ADMIN).json


# --- rule 5 through the API ------------------------------------------------------------


@pytest.mark.parametrize("new_base", [
    "https://evil.example.net/api",          # another host
    "https://assets.example.com:8443/api",   # another port
    "https://sub.assets.example.com/api",    # a subdomain is another host
])
def test_moving_the_base_url_without_the_secret_is_refused_and_changes_nothing(people, new_base):
    client = people.test_client()
    ds = create(client, BASIC)
    response = patch(client, ds, {"config": {"base_url": new_base, "timeout_seconds": 5}})
    assert response.status_code == 400
    assert response.json["fields"] == {
        "auth.password": "Enter the password again: the API Base Url moves to another host."}
    after = stored(client, ds)
    assert after["config"]["base_url"] == "https://assets.example.com/api"
    assert after["config"]["timeout_seconds"] == 60, "nothing of the refused change is written"
    assert after["version"] == ds["version"]
    assert PASSWORD not in response.get_data(as_text=True)


@pytest.mark.parametrize("auth, flags", [
    ({"mode": "basic", "password": "Moves-new-pw-91ab"}, {"mode": "basic", "username": "svc", "password_set": True}),
    # A change of mode needs its own secrets anyway: nothing more is asked.
    ({"mode": "bearer", "token": "Moves-bearer-e07d"}, {"mode": "bearer", "token_set": True}),
])
def test_moving_the_base_url_with_the_secrets_given_again_is_saved(people, auth, flags):
    client = people.test_client()
    ds = create(client, BASIC)
    response = patch(client, ds, {"config": {"base_url": "https://new.example.net/api"}, "auth": auth})
    assert response.status_code == 200, response.json
    assert response.json["config"]["base_url"] == "https://new.example.net/api"
    assert response.json["auth"] == flags


@pytest.mark.parametrize("same_origin", [
    "https://assets.example.com/v2",              # another path
    "https://ASSETS.example.com/api?x=1",         # host case, a query
    "https://assets.example.com:443/api",         # the default port spelled out
    "https://assets.example.com./api",            # a trailing dot
])
def test_a_move_within_the_same_origin_keeps_the_secret(people, same_origin):
    client = people.test_client()
    ds = create(client, BASIC)
    response = patch(client, ds, {"config": {"base_url": same_origin}})
    assert response.status_code == 200, response.json
    assert response.json["auth"]["password_set"] is True


def test_a_datasource_without_secrets_moves_freely(people):
    client = people.test_client()
    ds = create(client, {"mode": "none"})
    response = patch(client, ds, {"config": {"base_url": "https://other.example.net/api",
                                             "health_check_url": "https://status.example.org/ping"}})
    assert response.status_code == 200, response.json


def test_a_new_health_check_host_needs_the_secret_but_one_on_the_api_host_does_not(people):
    client = people.test_client()
    ds = create(client, {"mode": "bearer", "token": "Moves-bearer-5c3a"})
    elsewhere = patch(client, ds, {"config": {"health_check_url": "https://status.example.org/ping"}})
    assert elsewhere.status_code == 400
    assert elsewhere.json["fields"] == {
        "auth.token": "Enter the token again: the health check URL moves to another host."}
    assert "health_check_url" not in stored(client, ds)["config"]
    same_host = patch(client, ds, {"config": {"health_check_url": "https://assets.example.com/health"}})
    assert same_host.status_code == 200, same_host.json


def test_moving_the_token_url_needs_the_client_secret(people):
    client = people.test_client()
    ds = create(client, OAUTH2)
    response = patch(client, ds, {"auth": {"mode": "oauth2_client_credentials",
                                           "token_url": "https://idp.example.net/token"}})
    assert response.status_code == 400
    assert response.json["fields"] == {"auth.client_secret": TOKEN_MOVES}
    assert stored(client, ds)["auth"]["token_url"] == OAUTH2["token_url"]
    # Onto the API's own host is still another host for the client secret.
    onto_api = patch(client, ds, {"auth": {"token_url": "https://assets.example.com/token"}})
    assert onto_api.status_code == 400 and onto_api.json["fields"] == {"auth.client_secret": TOKEN_MOVES}
    given = patch(client, ds, {"auth": {"token_url": "https://idp.example.net/token",
                                        "client_secret": "Moves-client-secret-new-8f"}})
    assert given.status_code == 200, given.json
    assert given.json["auth"]["token_url"] == "https://idp.example.net/token"


def test_moving_the_api_of_an_oauth2_datasource_needs_the_client_secret(people):
    """The API host gets the token the client secret buys: it must not change unasked."""
    client = people.test_client()
    ds = create(client, OAUTH2)
    response = patch(client, ds, {"config": {"base_url": "https://evil.example.net/api"},
                                  "auth": {"token_url": "https://idp.example.net/token"}})
    assert response.status_code == 400
    assert response.json["fields"] == {"auth.client_secret": (
        "Enter the client secret again: the API Base Url and the token URL move to other hosts.")}


# --- rule 5 through the admin page -------------------------------------------------------


def test_the_admin_page_save_refuses_a_move_without_the_password(people):
    from tests.test_admin_pages import configure_data, field_error

    client = people.test_client()
    ds = create(client, BASIC)
    from tests.conftest import csrf_from, login

    login(client, "admin", "admin-pw")
    url = f"/plugins/connect/admin/datasources/{ds['id']}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    edit = configure_data(config_base_url="https://evil.example.net/api", auth_mode="basic",
                          auth_basic_username="svc", auth_basic_password="", csrf_token=token)
    del edit["step"]
    response = client.post(url, data=edit)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_error(html, "auth_basic_password") == (
        "Enter the password again: the API Base Url moves to another host.")
    assert PASSWORD not in html
    assert stored(client, ds)["config"]["base_url"] == "https://assets.example.com/api"
    saved = client.post(url, data={**edit, "auth_basic_password": "Moves-page-pw-33c1"})
    assert saved.status_code == 302
    assert stored(client, ds)["config"]["base_url"] == "https://evil.example.net/api"


# --- rule 6 through the API --------------------------------------------------------------


@pytest.mark.parametrize("token_url", ["https://127.0.0.1/token", "https://10.0.0.7/token",
                                       "https://[::1]/token", "https://169.254.169.254/latest",
                                       "https://localhost/token", "https://0x7f.1/token"])
def test_a_private_token_url_is_refused_when_saved(make_app, token_url):
    app = make_app(CONNECT_ALLOWED_HOSTS="")
    from tests.conftest import seed_people

    seed_people(app)
    client = app.test_client()
    response = client.post(API, headers=ADMIN, json={
        "name": "IdP", "type": "rest", "config": {"base_url": "https://assets.example.com/api"},
        "auth": {**OAUTH2, "token_url": token_url}})
    assert response.status_code == 400
    assert set(response.json["fields"]) == {"auth.token_url"}
    assert "CONNECT_ALLOWED_HOSTS" in response.json["fields"]["auth.token_url"]
    # PATCH too, with the secret given (so only the address is wrong).
    ds = create(client, OAUTH2)
    moved = patch(client, ds, {"auth": {"token_url": token_url, "client_secret": "Moves-cs-4411"}})
    assert moved.status_code == 400 and set(moved.json["fields"]) == {"auth.token_url"}


def test_an_allowed_private_token_url_is_accepted(make_app):
    app = make_app(CONNECT_ALLOWED_HOSTS="10.0.0.0/24")
    from tests.conftest import seed_people

    seed_people(app)
    ds = create(app.test_client(), {**OAUTH2, "token_url": "https://10.0.0.7/token"})
    assert ds["auth"]["token_url"] == "https://10.0.0.7/token"


# --- pure functions -------------------------------------------------------------------------


class _Portal(AuthMode):
    """A mode invented here: any https_url auth field gets the save-time URL rule."""

    mode = "portal"
    label = "Portal"
    fields = (auth_field("portal_url", "Portal URL", kind="https_url"), auth_field("key", "Key", secret=True))


def test_every_https_url_auth_field_passes_the_url_rule():
    seen = []

    def rule(url, field):
        seen.append((url, field))
        if "10.1.2.3" in url:
            raise ValidationError("refused", {field: "This URL: 10.1.2.3 is private."})

    plain, secrets = _Portal().validate({"portal_url": " https://portal.example.com/x "}, {"key": "k"},
                                        url_check=rule)
    assert plain == {"portal_url": "https://portal.example.com/x"} and seen == [
        ("https://portal.example.com/x", "auth.portal_url")]
    with pytest.raises(ValidationError) as refused:
        _Portal().validate({"portal_url": "https://10.1.2.3/"}, {"key": "k"}, url_check=rule)
    assert refused.value.fields == {"auth.portal_url": "This URL: 10.1.2.3 is private."}


@pytest.mark.parametrize("a, b, same", [
    ("https://API.example.com/x", "https://api.example.com./y", True),
    ("https://api.example.com/", "https://api.example.com:443/", True),
    ("https://127.1/", "https://127.0.0.1/", True),
    ("https://bücher.example/", "https://xn--bcher-kva.example/", True),
    ("https://[::1]/", "https://[0:0::1]:443/", True),
    ("https://api.example.com/", "https://api.example.com:8443/", False),
    ("https://api.example.com/", "http://api.example.com/", False),
    ("https://api.example.com/", "https://api.example.com.evil.net/", False),
])
def test_origins_compare_scheme_normalised_host_and_port(a, b, same):
    assert (origin(a) == origin(b)) is same


def test_moved_urls_compares_the_api_and_the_token_endpoint_apart():
    config = RestDatasource.config_fields
    auth = RestDatasource.auth_mode("oauth2_client_credentials").fields
    old_config = {"base_url": "https://api.example.com", "health_check_url": "https://status.example.com"}
    old_auth = {"token_url": "https://idp.example.com/token"}
    # Base URL and health check swap hosts: no host the API did not reach already.
    swapped = {"base_url": "https://status.example.com", "health_check_url": "https://api.example.com/h"}
    assert destinations.moved_urls(config, old_config, swapped, auth, old_auth, old_auth) == []
    # The health check left out falls back to the base URL: no new host either.
    assert destinations.moved_urls(config, old_config, {"base_url": "https://api.example.com"},
                                   auth, old_auth, old_auth) == []
    # The token URL onto the API's host is a new host for the client secret.
    onto_api = {"token_url": "https://api.example.com/token"}
    assert [k for k, _ in destinations.moved_urls(config, old_config, old_config, auth, old_auth, onto_api)] == [
        "auth.token_url"]


_label = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
_hosts = st.lists(_label, min_size=2, max_size=4).map(".".join)
_paths = st.from_regex(r"(/[a-z0-9]{0,8}){0,3}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(host=_hosts, other=_hosts, path=_paths, new_path=_paths, port=st.sampled_from(["", ":443", ":8443"]))
def test_a_secret_is_asked_for_exactly_when_the_host_or_port_changes(host, other, path, new_path, port):
    """Invented URLs reach only the pure comparison (nothing here resolves or connects)."""
    config = RestDatasource.config_fields
    before = {"base_url": f"https://{host}{path}"}
    respelled = {"base_url": f"https://{host.upper()}.{':443' if port == ':443' else ''}{new_path}"}
    assert destinations.moved_urls(config, before, respelled, (), {}, {}) == []
    after = {"base_url": f"https://{other}{port}{new_path}"}
    moved = destinations.moved_urls(config, before, after, (), {}, {})
    assert bool(moved) is (other != host or port == ":8443")
