"""An admin walks the whole wizard in chromium: datasources list, "Create datasource",
the REST API tile, the name, the configuration (every authentication mode's fields
appear alone, an http:// URL is refused next to its field), Save, Test connection
(success with HTTP 200, then a wrong key's 401 and its reason), a connected item
made in the UI and the configuration tester run on DEMO-1 as alice, with the key
masked in the URL it shows."""

from __future__ import annotations

import re

import pytest

from plugin_host.demo import upstream as sample_api
from tests.browser.conftest import playwright_expect

pytestmark = pytest.mark.browser
expect = playwright_expect()

KEY = sample_api.API_KEY  # demo-key-123: must never reach a page
KEY_PARAM = "api_key"

# Fields each mode shows (labels, as admins read them); every other mode's are hidden.
MODE_FIELDS = {
    "No auth": [],
    "Basic auth": ["Username", "Password"],
    "API Key": ["Send the key in", "Header or parameter name", "Key value"],
    "Bearer token": ["Token"],
    "OAuth2 client credentials": ["Token URL", "Client ID", "Client secret", "Scope", "Client authentication"],
    "Login token request": ["Login URL", "Username", "Password", "Send the login as", "Token path (JSONPath)",
                            "Expiry path (JSONPath, seconds)", "Send the token in header", "Before the token"],
    "OAuth2 authorization code (Connect)": ["Authorization URL", "Token URL", "Client ID", "Client secret", "Scope",
                                            "Client authentication"],
}
MODE_VALUES = {"No auth": "none", "Basic auth": "basic", "API Key": "api_key", "Bearer token": "bearer",
               "OAuth2 client credentials": "oauth2_client_credentials", "Login token request": "token_request",
               "OAuth2 authorization code (Connect)": "oauth2_authorization_code"}


@pytest.fixture
def keyed_api(monkeypatch, demo):
    """The sample API's assets behind a key sent as a query parameter (the demo's own
    route wants it in a header), so the tester has a secret in its URL to mask."""

    def keyed_assets(args):
        if args.get(KEY_PARAM) != KEY:
            return 401, {"error": f"Send a valid API key in the {KEY_PARAM} parameter."}
        return sample_api.ROUTES["/api/assets"](args)

    monkeypatch.setitem(sample_api.ROUTES, "/api/keyed/assets", keyed_assets)
    return f"{demo.upstream.origin}/api/keyed"


def auth_field(page, mode_label: str, label: str):
    return page.locator(f"#auth-mode-{MODE_VALUES[mode_label]}").get_by_label(label, exact=True)


def test_admin_walks_the_wizard_tests_the_connection_and_an_item(page, demo, as_user, shot, keyed_api):
    as_user("admin")
    page.goto("/plugins/connect/admin/datasources")
    expect(page.get_by_role("heading", name="Datasources")).to_be_visible()
    expect(page.get_by_role("link", name="Demo Assets API")).to_be_visible()

    # Step 1: the type.
    page.get_by_role("button", name="Create datasource").click()
    expect(page.locator(".connect-steps [aria-current=step]")).to_contain_text("Type")
    shot("1-type")
    page.get_by_role("link", name=re.compile("REST API")).click()

    # Step 2: the name.
    expect(page.locator(".connect-steps [aria-current=step]")).to_contain_text("Name")
    page.get_by_label("Name").fill("Inventory API")
    page.get_by_role("button", name="Create").click()

    # Step 3: the configuration; each authentication mode shows its own fields only.
    steps = page.locator(".connect-steps [aria-current=step]")
    expect(steps).to_contain_text("Configure")
    expect(page.get_by_role("heading", name="Configure Inventory API")).to_be_visible()
    mode = page.get_by_label("Authentication", exact=True)
    expect(mode).to_have_value("none")
    for label in MODE_FIELDS:
        mode.select_option(label=label)
        for other, other_fields in MODE_FIELDS.items():
            fieldset = page.locator(f"#auth-mode-{MODE_VALUES[other]}")
            if other == label:
                expect(fieldset).to_be_visible()
                for name in other_fields:
                    expect(auth_field(page, other, name)).to_be_visible()
            else:
                expect(fieldset).to_be_hidden()
                for name in other_fields:
                    expect(auth_field(page, other, name)).to_be_hidden()
        if label == "No auth":
            expect(page.get_by_text("Requests are sent without credentials.")).to_be_visible()
    for label in ("API Base Url", "API Documentation", "Health check URL", "Cache duration (seconds)",
                  "Timeout (seconds)", "Calls in flight at most"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()

    # An http:// base URL: nothing is saved, the message sits next to the field.
    mode.select_option(label="API Key")
    auth_field(page, "API Key", "Send the key in").select_option(label="Query parameter")
    auth_field(page, "API Key", "Header or parameter name").fill(KEY_PARAM)
    auth_field(page, "API Key", "Key value").fill(KEY)
    base = page.get_by_label("API Base Url", exact=True)
    base.fill(keyed_api.replace("https://", "http://"))
    page.get_by_label("Health check URL", exact=True).fill(f"{keyed_api}/assets")
    shot("2-configure")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    base = page.get_by_label("API Base Url", exact=True)
    expect(base).to_have_attribute("aria-invalid", "true")
    error = page.locator("#config_base_url-error")
    expect(error).to_contain_text("Only HTTPS URLs are accepted")
    assert "config_base_url-error" in base.get_attribute("aria-describedby")
    # "next to": in the same field group, right under the input.
    same_group = error.evaluate("(e) => e.closest('.field') === document.getElementById('config_base_url')"
                                ".closest('.field')")
    assert same_group
    box_input, box_error = base.bounding_box(), error.bounding_box()
    assert 0 <= box_error["y"] - (box_input["y"] + box_input["height"]) < 60
    expect(base).to_have_value(keyed_api.replace("https://", "http://"))
    expect(steps).to_contain_text("Configure")
    expect(mode).to_have_value("api_key")
    expect(auth_field(page, "API Key", "Header or parameter name")).to_have_value(KEY_PARAM)
    shot("3-http-refused")

    # Corrected and saved: the secret is typed again (never sent back to the page).
    base.fill(keyed_api)
    expect(auth_field(page, "API Key", "Key value")).to_have_value("")
    auth_field(page, "API Key", "Key value").fill(KEY)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Datasource Inventory API created.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Inventory API"))).to_be_visible()
    expect(page.locator("#auth-mode-api_key")).to_contain_text("Set — leave blank to keep")
    expect(auth_field(page, "API Key", "Key value")).to_have_value("")

    # Test connection: a success banner with the status.
    result = page.locator("#test-result")
    page.get_by_role("button", name="Test connection").click()
    expect(result.locator(".banner-ok")).to_contain_text("Connection OK — HTTP 200")
    shot("4-test-ok")

    # A wrong key: saved, then the failure says why, with the status.
    auth_field(page, "API Key", "Key value").fill("wrong-key-456")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Datasource Inventory API saved.")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    failure = result.locator(".banner-error")
    expect(failure).to_contain_text("Connection failed")
    expect(failure).to_contain_text("401")
    expect(failure).to_contain_text("Inventory API")
    shot("5-test-401")
    assert "wrong-key-456" not in page.content()

    # Back to the right key (typed again), then a connected item made in the UI.
    auth_field(page, "API Key", "Key value").fill(KEY)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="saved")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    expect(result.locator(".banner-ok")).to_contain_text("HTTP 200")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Connected items").click()
    page.get_by_role("button", name="Create connected item").click()
    page.get_by_label("Name", exact=True).fill("Inventory asset")
    page.get_by_label("Datasource", exact=True).select_option(label="Inventory API")
    page.get_by_label("Editor", exact=True).select_option(label="Select list")
    page.get_by_label("Projects", exact=True).fill("DEMO")
    page.get_by_label("Query", exact=True).fill("/assets?owner=$currentUser.emailAddress")
    page.get_by_label("Rows (JSONPath)").fill("$.items[*]")
    page.get_by_label("Value template").fill("${row.id}")
    page.get_by_label("Label template").fill("${row.name} (${row.serial})")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status").filter(has_text="Connected item Inventory asset saved.")).to_be_visible()

    # The configuration tester: DEMO-1 as alice.
    page.get_by_label("Issue key").fill("DEMO-1")
    page.get_by_label("As user").fill("alice")
    page.get_by_role("button", name="Run test").click()
    tester = page.locator("#tester-result")
    expect(tester.locator(".banner-ok")).to_contain_text("The query worked: 8 options.")
    url = tester.locator("code.connect-url")
    expect(url).to_contain_text(f"{keyed_api}/assets?owner=alice%40example.com")
    expect(url).to_contain_text(f"{KEY_PARAM}=***")
    expect(tester.get_by_text("HTTP status")).to_be_visible()
    expect(tester.locator("dd").filter(has_text=re.compile(r"^200$"))).to_be_visible()
    options = tester.get_by_role("table")
    expect(options.get_by_role("row")).to_have_count(9)  # header + alice's 8 assets
    expect(options).to_contain_text("MacBook Pro 14 (C02XK1)")
    expect(options).to_contain_text("A-1001")
    shot("6-tester")
    assert KEY not in page.content()

    # The tester's own validation: an unknown issue is named next to its field.
    page.get_by_label("Issue key").fill("NOPE-9")
    page.get_by_role("button", name="Run test").click()
    expect(page.locator("#tester-issue-error")).to_be_visible()
    expect(page.get_by_label("Issue key")).to_have_attribute("aria-invalid", "true")

    # No page of the walk ever showed the key.
    for path in ("/plugins/connect/admin/datasources", "/plugins/connect/admin/audit"):
        page.goto(path)
        assert KEY not in page.content()
