"""The datasource wizard's server-details step and the datasource page offer custom
headers, with a Secret checkbox: a secret value is never shown again, a blank one
keeps it, and an error is shown next to the header it names. No network."""

from __future__ import annotations

import re

from tests.test_admin_pages import ADMIN, admin, app, configure_data, field_error, load, post, text  # noqa: F401

SECRET = "Page-hdr-secret-4c2e"


def rows(**headers) -> dict:
    """``header-<i>-name/value/secret`` form fields, in order."""
    data = {}
    for index, (name, value) in enumerate(headers.items()):
        secret = isinstance(value, tuple)
        data[f"header-{index}-name"] = name.replace("_", "-")
        data[f"header-{index}-value"] = value[0] if secret else value
        if secret:
            data[f"header-{index}-secret"] = "1"
    return data


def test_the_wizard_saves_headers_and_the_page_never_shows_the_secret(app, admin):
    response = post(admin, f"{ADMIN}/datasources/new/rest", {"step": "name", "name": "Assets"})
    html = text(response)
    assert '<legend>Headers</legend>' in html and 'name="header-0-name"' in html
    assert '<label for="header-0-secret">Secret</label>' in html

    created = post(admin, f"{ADMIN}/datasources/new/rest",
                   configure_data(**rows(X_Tenant="acme", X_Auth=(SECRET,))))
    assert created.status_code == 302, text(created)
    ds_id = int(created.headers["Location"].rsplit("/", 1)[1])
    data, secrets = load(app, ds_id)
    assert data["config"]["headers"] == [{"name": "X-Tenant", "value": "acme"},
                                         {"name": "X-Auth", "secret": True, "value_set": True}]
    assert secrets == {"header:x-auth": SECRET}

    url = f"{ADMIN}/datasources/{ds_id}"
    html = text(admin.get(url))
    assert SECRET not in html
    assert 'value="X-Tenant"' in html and 'value="acme"' in html and 'value="X-Auth"' in html
    assert re.search(r'id="header-1-value"[^>]*value=""', html)
    assert "Set — leave blank to keep" in html

    # Saving the page with the secret left blank keeps it; a plain value changes.
    edit = configure_data(**rows(X_Tenant="globex", X_Auth=("",)), **{"header-1-set": "1"})
    del edit["step"]
    saved = post(admin, url, edit)
    assert saved.status_code == 302, text(saved)
    data, secrets = load(app, ds_id)
    assert data["config"]["headers"][0] == {"name": "X-Tenant", "value": "globex"}
    assert secrets == {"header:x-auth": SECRET}

    # A refused save shows the error on its header and never the secret.
    bad = configure_data(**rows(X_Tenant="globex", X_Auth=("Typed-secret-91aa",), Host="evil.example"))
    del bad["step"]
    refused = post(admin, url, bad)
    html = text(refused)
    assert refused.status_code == 400
    assert "Host is set by the HTTP client" in field_error(html, "header-2-name")
    assert "Typed-secret-91aa" not in html and SECRET not in html
    assert load(app, ds_id)[1] == {"header:x-auth": SECRET}


def test_the_page_reports_a_bad_header_value_on_its_row(app, admin):
    response = post(admin, f"{ADMIN}/datasources/new/rest",
                    configure_data(**{"header-0-name": "X-Tenant", "header-0-value": "a\r\nX-Injected: 1"}))
    html = text(response)
    assert response.status_code == 400
    assert "line break" in field_error(html, "header-0-value")


def test_the_item_page_offers_method_headers_and_body(app, admin):
    from tests.test_admin_pages import item_data, make_datasource

    ds = make_datasource(app)
    html = text(admin.get(f"{ADMIN}/items/new"))
    for label in ("Method", "Headers", "Body (JSON)"):
        assert re.search(rf"<label for=\"[^\"]+\">{re.escape(label)}</label>", html), label
    assert ">POST</option>" in html

    body = '{"filter": {"name": "$userInput"}, "limit": 5}'
    created = post(admin, f"{ADMIN}/items/new", item_data(
        ds, method="POST", body=body, headers="X-User: $currentUser.emailAddress\nX-Mode:  fast "))
    assert created.status_code == 302, text(created)
    html = text(admin.get(created.headers["Location"]))
    assert '<option selected value="POST">' in html
    assert "X-User: $currentUser.emailAddress\nX-Mode: fast" in html
    assert "&#34;filter&#34;: {" in html and "&#34;$userInput&#34;" in html

    refused = post(admin, f"{ADMIN}/items/new", item_data(ds, name="Bad", method="POST", body='{"a": ',
                                                          headers="Bad Name: 1"))
    html = text(refused)
    assert refused.status_code == 400
    assert "not valid JSON" in field_error(html, "body")
    assert "not a valid header name" in field_error(html, "headers")
    assert "{&#34;a&#34;: " in html, "what was typed comes back"
