"""An admin clicks Connect on a datasource page in chromium, allows access on a
loopback OAuth2 provider's page (HTTPS, the test CA) and comes back connected;
the connected item then reads the API with the token, and Disconnect shows Connect."""

from __future__ import annotations

import pytest

from tests.browser.conftest import LiveServer, login, playwright_expect
from tests.conftest import ADMIN, build_app, dispose, make_datasource, make_item, seed_people
from tests.support.oauth_provider import CLIENT_ID, CLIENT_SECRET, OAuthProvider

pytestmark = pytest.mark.browser
expect = playwright_expect()


@pytest.fixture
def live(tmp_path, ca_bundle, upstream):
    app = build_app(tmp_path, ca_bundle)
    seed_people(app)
    provider = OAuthProvider(upstream)
    client = app.test_client()
    ds = make_datasource(client, upstream.url("/api"), name="Provider API", cache_ttl_seconds=0, auth={
        "mode": "oauth2_authorization_code", "authorize_url": provider.authorize_url,
        "token_url": provider.token_url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    item = make_item(client, ds["id"])
    server = LiveServer(app).start()
    yield server, client, provider, ds, item
    server.stop()
    dispose(app)


def test_connect_through_the_provider_in_the_browser(browser, live):
    server, client, provider, ds, item = live
    # The provider's page is on another origin with a certificate from the test CA.
    context = browser.new_context(base_url=server.url, ignore_https_errors=True)
    page = context.new_page()
    try:
        login(page, server.url, "admin", "admin-pw")
        page.goto(f"/plugins/connect/admin/datasources/{ds['id']}")
        expect(page.locator("[data-connection]")).to_contain_text("Not connected yet")
        page.get_by_role("button", name="Connect", exact=True).click()
        expect(page.get_by_role("heading", name="Allow Connect?")).to_be_visible()
        assert page.url.startswith(provider.authorize_url)
        page.get_by_role("link", name="Allow").click()
        expect(page.get_by_text("Provider API is connected.")).to_be_visible()
        expect(page.locator("[data-connection]")).to_contain_text("Connected")
        assert provider.grants == ["authorization_code"]
        options = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=ADMIN)
        assert options.status_code == 200 and options.json["options"][0]["label"] == "token 1"

        page.get_by_role("button", name="Disconnect").click()
        expect(page.get_by_text("Provider API is disconnected")).to_be_visible()
        expect(page.get_by_role("button", name="Connect", exact=True)).to_be_visible()
    finally:
        context.close()
