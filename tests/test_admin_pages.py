"""The admin pages: server-rendered forms over the same services as the JSON API.

No network: nothing here calls a datasource (Test connection and the tester are
monkeypatched; the lead's HTTPS integration tests cover the real calls).
"""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet

ADMIN = "/plugins/connect/admin"
SECRET = "s3cr3t-Pa55"


@pytest.fixture
def app(make_app):
    app = make_app()
    runner = app.test_cli_runner()
    runner.invoke(args=["users", "create", "admin", "--password", "pw", "--admin"])
    runner.invoke(args=["users", "create", "bob", "--password", "pw"])
    return app


def login(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": "pw", "csrf_token": token})
    assert response.status_code == 302


def csrf(client) -> str:
    page = client.get(f"{ADMIN}/datasources").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.fixture
def admin(app):
    client = app.test_client()
    login(client, "admin")
    client.token = csrf(client)
    return client


def post(client, url: str, data: dict | None = None, **kw):
    return client.post(url, data={"csrf_token": client.token, **(data or {})}, **kw)


def make_datasource(app, name="Assets", auth=None) -> int:
    from connect_plugin.datasources import service
    from connect_plugin.state import session, state

    with app.test_request_context():
        ds = service.create(session(), {"name": name, "type": "rest",
                                        "config": {"base_url": "https://assets.example.com/api"},
                                        "auth": auth or {"mode": "none"}},
                            box=state().box, policy=state().policy, actor="test")
        session().commit()
        return ds.id


def make_item(app, datasource_id: int, name="Asset", query="/assets") -> int:
    from connect_plugin.connected_items import service as item_service
    from connect_plugin.state import session

    with app.test_request_context():
        item = item_service.create(session(), {"name": name, "datasource_id": datasource_id, "editor": "select",
                                               "query": query}, actor="test")
        session().commit()
        return item.id


def load(app, datasource_id: int):
    """(serialized datasource, decrypted secrets) as stored."""
    from connect_plugin.datasources import service
    from connect_plugin.datasources.secrets import decrypt_secrets
    from connect_plugin.state import session, state

    with app.test_request_context():
        ds = service.get(session(), datasource_id)
        return service.serialize(ds, state().box), decrypt_secrets(ds, state().box)


def count_datasources(app) -> int:
    from connect_plugin.datasources import service
    from connect_plugin.state import session

    with app.test_request_context():
        return len(service.list_all(session()))


def text(response) -> str:
    return response.get_data(as_text=True)


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error"[^>]*>(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


def configure_data(**overrides) -> dict:
    data = {"step": "configure", "name": "Assets", "config_base_url": "https://assets.example.com/api",
            "config_documentation_url": "", "config_health_check_url": "", "config_cache_ttl_seconds": "300",
            "config_timeout_seconds": "60", "config_max_concurrent_calls": "8", "auth_mode": "none"}
    data.update(overrides)
    return data


def assert_csp_safe(html: str) -> None:
    """No inline script, event handler or style attribute (the CSP forbids them)."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+\s*=", html, re.I)
    assert not re.search(r"\sstyle\s*=", html, re.I)
    assert "<style" not in html


# --- who may see the pages -----------------------------------------------------------


def page_urls(app) -> list[str]:
    ds = make_datasource(app)
    item = make_item(app, ds)
    return [f"{ADMIN}/datasources", f"{ADMIN}/datasources/new", f"{ADMIN}/datasources/new/rest",
            f"{ADMIN}/datasources/{ds}", f"{ADMIN}/datasources/{ds}/delete", f"{ADMIN}/items",
            f"{ADMIN}/items/new", f"{ADMIN}/items/{item}", f"{ADMIN}/items/{item}/delete", f"{ADMIN}/audit"]


def test_every_page_renders_for_an_admin(app, admin):
    for url in page_urls(app):
        response = admin.get(url)
        assert response.status_code == 200, url
        html = text(response)
        assert "connect/connect.css" in html and "connect/admin.js" in html
        assert_csp_safe(html)


def test_visitors_go_to_login_and_non_admins_get_403(app):
    urls = page_urls(app)
    anonymous = app.test_client()
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login")
    bob = app.test_client()
    login(bob, "bob")
    for url in urls:
        assert bob.get(url).status_code == 403, url
    before = count_datasources(app)
    token = re.search(r'name="csrf-token" content="([^"]+)"', text(bob.get("/"))).group(1)
    response = bob.post(f"{ADMIN}/datasources/new/rest", data={"csrf_token": token, **configure_data()})
    assert response.status_code == 403
    assert count_datasources(app) == before


def test_unknown_ids_and_types_are_404(admin):
    assert admin.get(f"{ADMIN}/datasources/999").status_code == 404
    assert admin.get(f"{ADMIN}/items/999").status_code == 404
    assert admin.get(f"{ADMIN}/datasources/new/soap").status_code == 404


# --- datasources list and wizard -----------------------------------------------------


def test_list_shows_empty_state_then_rows(app, admin):
    html = text(admin.get(f"{ADMIN}/datasources"))
    assert "Create datasource" in html and "No datasources yet." in html
    assert f'href="{ADMIN}/items"' in html
    ds = make_datasource(app, auth={"mode": "basic", "username": "u", "password": SECRET})
    make_item(app, ds)
    html = text(admin.get(f"{ADMIN}/datasources"))
    assert "No datasources yet." not in html
    row = re.search(r"<tbody>(.*)</tbody>", html, re.S).group(1)
    for cell in ("Assets", "REST API", "https://assets.example.com/api", "Basic auth", "<td>1</td>"):
        assert cell in row
    assert SECRET not in html


def test_wizard_steps_and_contract_labels(admin):
    html = text(admin.get(f"{ADMIN}/datasources/new"))
    assert 'aria-current="step"' in html and "REST API" in html
    assert 'href="/plugins/connect/admin/datasources/new/rest"' in html
    assert "connect/icon-rest.svg" in html
    html = text(admin.get(f"{ADMIN}/datasources/new/rest"))
    assert '<label for="name">Name</label>' in html and ">Create</button>" in html

    response = post(admin, f"{ADMIN}/datasources/new/rest", {"step": "name", "name": "Assets"})
    html = text(response)
    assert response.status_code == 200
    assert 'name="name" type="hidden" value="Assets"' in html
    for label in ("API Base Url", "API Documentation", "Health check URL", "Cache duration (seconds)",
                  "Timeout (seconds)", "Calls in flight at most", "Authentication", "Username", "Password",
                  "Send the key in", "Header or parameter name", "Key value", "Token", "Token URL", "Client ID",
                  "Client secret", "Scope", "Client authentication"):
        assert re.search(rf"<label for=\"[^\"]+\">{re.escape(label)}</label>", html), label
    for mode in ("No auth", "Basic auth", "API Key", "Bearer token", "OAuth2 client credentials"):
        assert f">{mode}</option>" in html and f"<legend>{mode}</legend>" in html
    assert 'value="300"' in html and 'value="60"' in html and 'value="8"' in html
    assert ">Save</button>" in html


def test_wizard_name_step_uses_the_service_rules(app, admin):
    response = post(admin, f"{ADMIN}/datasources/new/rest", {"step": "name", "name": "  "})
    assert response.status_code == 400
    assert field_error(text(response), "name") == "Name is required."
    make_datasource(app, "Assets")
    response = post(admin, f"{ADMIN}/datasources/new/rest", {"step": "name", "name": "assets"})
    assert response.status_code == 400
    assert "already exists" in field_error(text(response), "name")


def test_wizard_creates_a_datasource(app, admin):
    data = configure_data(auth_mode="basic", auth_basic_username="svc", auth_basic_password=SECRET,
                          config_health_check_url="https://assets.example.com/api/health")
    response = post(admin, f"{ADMIN}/datasources/new/rest", data)
    assert response.status_code == 302
    ds_id = int(response.headers["Location"].rsplit("/", 1)[1])
    data, secrets = load(app, ds_id)
    assert data["name"] == "Assets" and data["type"] == "rest"
    assert data["config"]["health_check_url"] == "https://assets.example.com/api/health"
    assert data["config"]["cache_ttl_seconds"] == 300
    assert data["auth"] == {"mode": "basic", "username": "svc", "password_set": True}
    assert secrets == {"password": SECRET}
    html = text(admin.get(response.headers["Location"]))
    assert "Datasource Assets created." in html
    assert "Test connection" in html and SECRET not in html


def test_wizard_shows_field_errors_and_keeps_what_was_typed(app, admin):
    data = configure_data(name="My <API>", config_base_url="http://assets.example.com/api",
                          config_timeout_seconds="abc", auth_mode="basic", auth_basic_username="svc",
                          auth_basic_password=SECRET)
    response = post(admin, f"{ADMIN}/datasources/new/rest", data)
    html = text(response)
    assert response.status_code == 400
    assert "Only HTTPS URLs are accepted" in field_error(html, "config_base_url")
    assert "whole number" in field_error(html, "config_timeout_seconds")
    assert 'value="http://assets.example.com/api"' in html
    assert 'value="abc"' in html and 'value="svc"' in html
    assert 'value="My &lt;API&gt;"' in html and "My <API>" not in html
    assert '<option selected value="basic">' in html
    assert SECRET not in html  # secrets are never echoed back
    assert count_datasources(app) == 0


def test_wizard_reports_missing_auth_fields_on_the_chosen_mode(admin):
    response = post(admin, f"{ADMIN}/datasources/new/rest", configure_data(auth_mode="api_key"))
    html = text(response)
    assert response.status_code == 400
    assert field_error(html, "auth_api_key_key") == "Header or parameter name is required."
    assert field_error(html, "auth_api_key_value") == "Key value is required."


def test_post_without_csrf_is_refused(app, admin):
    response = admin.post(f"{ADMIN}/datasources/new/rest", data=configure_data())
    assert response.status_code == 400
    assert count_datasources(app) == 0
    ds = make_datasource(app)
    assert admin.post(f"{ADMIN}/datasources/{ds}/delete").status_code == 400
    assert count_datasources(app) == 1


# --- the datasource page -------------------------------------------------------------


def test_secrets_are_never_shown_and_blank_keeps_them(app, admin, monkeypatch):
    from connect_plugin.views import admin_datasources

    monkeypatch.setattr(admin_datasources, "test_connection", lambda st, ds: {"ok": True, "status": 200, "elapsed_ms": 12})
    ds = make_datasource(app, auth={"mode": "basic", "username": "svc", "password": SECRET})
    item = make_item(app, ds)
    url = f"{ADMIN}/datasources/{ds}"
    pages = [admin.get(url), admin.get(f"{url}/delete"), admin.get(f"{ADMIN}/datasources"),
             admin.get(f"{ADMIN}/items/{item}"), admin.get(f"{ADMIN}/audit"), post(admin, f"{url}/test")]
    html = text(pages[0])
    assert "Set — leave blank to keep" in html and '<label for="auth_basic_password_clear">Clear</label>' in html
    assert 'name="auth_basic_password" type="password" value=""' in html

    # A blank password keeps the stored one; other fields change.
    edit = configure_data(name="Assets 2", auth_mode="basic", auth_basic_username="svc2", auth_basic_password="")
    del edit["step"]
    response = post(admin, url, edit)
    assert response.status_code == 302
    data, secrets = load(app, ds)
    assert data["name"] == "Assets 2" and data["auth"]["username"] == "svc2"
    assert secrets == {"password": SECRET}
    pages.append(admin.get(response.headers["Location"]))

    # A page re-rendered with errors does not contain it either.
    response = post(admin, url, {**edit, "config_base_url": "http://x.example.com"})
    assert response.status_code == 400
    pages.append(response)
    for page in pages:
        assert SECRET not in text(page)

    # A typed value replaces it.
    assert post(admin, url, {**edit, "auth_basic_password": "new-Pa55"}).status_code == 302
    assert load(app, ds)[1] == {"password": "new-Pa55"}


def test_clear_sends_null_for_the_secret(app, admin):
    ds = make_datasource(app, auth={"mode": "basic", "username": "svc", "password": SECRET})
    url = f"{ADMIN}/datasources/{ds}"
    edit = configure_data(auth_mode="basic", auth_basic_username="svc", auth_basic_password_clear="y")
    del edit["step"]
    # The password is required by Basic auth: clearing it alone is refused, nothing changes.
    response = post(admin, url, edit)
    assert response.status_code == 400
    assert field_error(text(response), "auth_basic_password") == "Password is required."
    assert load(app, ds)[1] == {"password": SECRET}
    # Switching to No auth drops the secret for good.
    assert post(admin, url, {**edit, "auth_mode": "none"}).status_code == 302
    data, secrets = load(app, ds)
    assert data["auth"] == {"mode": "none"} and secrets == {}


def test_clear_with_a_new_value_replaces(app, admin):
    ds = make_datasource(app, auth={"mode": "bearer", "token": SECRET})
    edit = configure_data(auth_mode="bearer", auth_bearer_token="tok-2", auth_bearer_token_clear="y")
    del edit["step"]
    assert post(admin, f"{ADMIN}/datasources/{ds}", edit).status_code == 302
    assert load(app, ds)[1] == {"token": "tok-2"}


def test_test_connection_banner(app, admin, monkeypatch):
    from connect_plugin.views import admin_datasources

    ds = make_datasource(app)
    html = text(admin.get(f"{ADMIN}/datasources/{ds}"))
    assert f'data-test-connection="/plugins/connect/api/datasources/{ds}/test"' in html
    monkeypatch.setattr(admin_datasources, "test_connection",
                        lambda st, d: {"ok": True, "status": 200, "elapsed_ms": 12})
    response = post(admin, f"{ADMIN}/datasources/{ds}/test")
    assert response.status_code == 200
    assert "Connection OK — HTTP 200 in 12 ms" in text(response)
    monkeypatch.setattr(admin_datasources, "test_connection",
                        lambda st, d: {"ok": False, "status": 401, "error": "Assets answered <401>.", "elapsed_ms": 3})
    html = text(post(admin, f"{ADMIN}/datasources/{ds}/test"))
    assert "Connection failed: Assets answered &lt;401&gt;. (HTTP 401)" in html


def test_clear_cache(app, admin):
    from connect_plugin.datasources import service
    from connect_plugin.state import session

    ds = make_datasource(app)
    response = post(admin, f"{ADMIN}/datasources/{ds}/cache/clear")
    assert response.status_code == 302
    with app.test_request_context():
        assert service.get(session(), ds).cache_generation == 1
    assert "Cached answers of Assets cleared." in text(admin.get(response.headers["Location"]))


def test_unreadable_secret_is_flagged(app, admin):
    from connect_plugin.state import session
    from connect_plugin.models import DatasourceSecret

    ds = make_datasource(app, auth={"mode": "bearer", "token": SECRET})
    with app.test_request_context():
        session().get(DatasourceSecret, (ds, "token")).ciphertext = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
        session().commit()
    assert "Secret unreadable" in text(admin.get(f"{ADMIN}/datasources"))
    assert "stored secret cannot be read: re-enter it" in text(admin.get(f"{ADMIN}/datasources/{ds}"))


def test_delete_is_refused_while_items_use_it(app, admin):
    ds = make_datasource(app)
    item = make_item(app, ds, name="Laptop")
    html = text(admin.get(f"{ADMIN}/datasources/{ds}/delete"))
    assert "Delete datasource Assets?" in html and ">Delete</button>" in html
    response = post(admin, f"{ADMIN}/datasources/{ds}/delete")
    assert response.status_code == 409
    assert "Assets is used by connected items: Laptop." in text(response)
    assert count_datasources(app) == 1
    assert post(admin, f"{ADMIN}/items/{item}/delete").status_code == 302
    response = post(admin, f"{ADMIN}/datasources/{ds}/delete")
    assert response.status_code == 302 and response.headers["Location"] == f"{ADMIN}/datasources"
    assert count_datasources(app) == 0


def test_names_are_escaped(app, admin):
    evil = "<script>alert(1)</script>"
    ds = make_datasource(app, name=evil)
    make_item(app, ds, name=f"Item {evil}")
    for url in (f"{ADMIN}/datasources", f"{ADMIN}/datasources/{ds}", f"{ADMIN}/datasources/{ds}/delete",
                f"{ADMIN}/items", f"{ADMIN}/items/new", f"{ADMIN}/audit"):
        html = text(admin.get(url))
        assert evil not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


# --- connected items -----------------------------------------------------------------


def item_data(ds: int, **overrides) -> dict:
    data = {"name": "Asset", "datasource_id": str(ds), "editor": "select",
            "query": "/assets?owner=$currentUser.emailAddress", "options_path": "$.items[*]",
            "value_template": "${row.id}", "label_template": "${row.name}", "projects": ""}
    data.update(overrides)
    return data


def test_item_form_needs_a_datasource_first(admin):
    html = text(admin.get(f"{ADMIN}/items/new"))
    assert "There is no datasource yet." in html
    assert "Create connected item" in text(admin.get(f"{ADMIN}/items"))


def test_item_form_creates_and_edits_an_item(app, admin):
    ds = make_datasource(app)
    html = text(admin.get(f"{ADMIN}/items/new"))
    for label in ("Name", "Datasource", "Editor", "Query", "Rows (JSONPath)", "Value template", "Label template",
                  "Projects"):
        assert re.search(rf"<label for=\"[^\"]+\">{re.escape(label)}</label>", html), label
    for editor in ("Select list", "Multi-select list", "Autocomplete", "Read-only"):
        assert f">{editor}</option>" in html
    for variable in ("$issue.key", "$issue.summary", "$issue.description", "$issue.project", "$issue.reporter",
                     "$issue.connected_item_&lt;id&gt;", "$currentUser.accountId", "$currentUser.displayName",
                     "$currentUser.emailAddress", "$userInput"):
        assert f"<code>{variable}</code>" in html, variable
    assert ">Create</button>" in html

    response = post(admin, f"{ADMIN}/items/new", item_data(ds, projects="demo, ops"))
    assert response.status_code == 302
    item_url = response.headers["Location"]
    html = text(admin.get(item_url))
    assert "Connected item Asset saved." in html
    assert 'value="DEMO, OPS"' in html and ">Save</button>" in html
    assert "Configuration tester" in html

    response = post(admin, item_url, item_data(ds, name="Asset 2", editor="autocomplete", projects=""))
    assert response.status_code == 302
    html = text(admin.get(f"{ADMIN}/items"))
    assert "Asset 2" in html and "Autocomplete" in html and "All projects" in html


def test_item_form_shows_errors_next_to_fields(app, admin):
    ds = make_datasource(app)
    response = post(admin, f"{ADMIN}/items/new",
                    item_data(ds, name="", query="/assets?q=$issue.bogus", datasource_id="", options_path="$[",
                              value_template="${row.id"))
    html = text(response)
    assert response.status_code == 400
    assert "Unknown variable $issue.bogus" in field_error(html, "query")
    assert field_error(html, "name") == "Name is required."
    assert field_error(html, "datasource_id") == "Choose an existing datasource."
    assert 'aria-invalid="true"' in html
    assert "/assets?q=$issue.bogus" in html  # what was typed is kept


def test_item_delete_is_refused_while_others_depend_on_it(app, admin):
    ds = make_datasource(app)
    continent = make_item(app, ds, name="Continent")
    make_item(app, ds, name="Country", query=f"/countries?c=$issue.connected_item_{continent}")
    response = post(admin, f"{ADMIN}/items/{continent}/delete")
    assert response.status_code == 409
    assert "Continent is used by the queries of: Country." in text(response)
    assert admin.get(f"{ADMIN}/items/{continent}").status_code == 200


def test_tester_without_javascript(app, admin, monkeypatch):
    from connect_plugin.connected_items import tester

    ds = make_datasource(app)
    continent = make_item(app, ds, name="Continent")
    country = make_item(app, ds, name="Country", query=f"/countries?c=$issue.connected_item_{continent}&q=$userInput")
    html = text(admin.get(f"{ADMIN}/items/{country}"))
    for label in ("Issue key", "As user", "Search text ($userInput)"):
        assert f">{label}</label>" in html
    assert f'name="deps.connected_item_{continent}"' in html
    assert f'data-item-tester="/plugins/connect/api/items/{country}/test"' in html

    seen = {}

    def fake_trace(state, db, item, *, issue, user, deps, query_text):
        seen.update(item=item.id, issue=issue, user=user.account_id, deps=deps, q=query_text)
        return {"ok": True, "url": "https://assets.example.com/api/countries?c=EU&q=fr", "status": 200,
                "elapsed_ms": 7, "excerpt": '[{"id": "FR", "name": "<France>"}]', "total": 1,
                "options": [{"value": "FR", "label": "<France>"}]}

    monkeypatch.setattr(tester, "trace", fake_trace)
    response = post(admin, f"{ADMIN}/items/{country}/test",
                    {"issue": "", "user": "", f"deps.connected_item_{continent}": "EU", "q": "fr"})
    html = text(response)
    assert response.status_code == 200
    assert seen == {"item": country, "issue": None, "user": "admin",
                    "deps": {f"connected_item_{continent}": "EU"}, "q": "fr"}
    assert "https://assets.example.com/api/countries?c=EU&amp;q=fr" in html
    assert "<dd>200</dd>" in html and "7 ms" in html
    assert "<pre class=\"connect-raw\">[{&#34;id&#34;: &#34;FR&#34;, &#34;name&#34;: &#34;&lt;France&gt;&#34;}]</pre>" in html
    assert "<td><code>FR</code></td><td>&lt;France&gt;</td>" in html
    assert 'value="EU"' in html

    monkeypatch.setattr(tester, "trace", lambda *a, **k: {"ok": False, "error": "Fill in Continent first."})
    assert "Fill in Continent first." in text(post(admin, f"{ADMIN}/items/{country}/test", {"q": ""}))

    response = post(admin, f"{ADMIN}/items/{country}/test", {"issue": "NOPE-1", "user": "ghost"})
    html = text(response)
    assert response.status_code == 400
    assert "There is no issue NOPE-1." in html and "There is no user ghost." in html


# --- audit log and base template ----------------------------------------------------


def test_audit_log_lists_changes(app, admin):
    html = text(admin.get(f"{ADMIN}/audit"))
    assert "No changes recorded yet." in html
    post(admin, f"{ADMIN}/datasources/new/rest", configure_data(auth_mode="bearer", auth_bearer_token=SECRET))
    html = text(admin.get(f"{ADMIN}/audit"))
    row = re.search(r"<tbody>(.*)</tbody>", html, re.S).group(1)
    assert "admin" in row and "created" in row and "Datasource" in row and "Assets" in row
    assert "auth.token" in row and "config.base_url" in row
    assert SECRET not in html


def test_standalone_base_template(tmp_path, monkeypatch, new_app):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    app = new_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "SECRET_KEY": "test",
                   "CONNECT_SECRET_KEYS": Fernet.generate_key().decode(),
                   "CONNECT_BASE_TEMPLATE": "connect/standalone.html"}, migrate=True)
    app.test_cli_runner().invoke(args=["users", "create", "admin", "--password", "pw", "--admin"])
    client = app.test_client()
    login(client, "admin")
    html = text(client.get(f"{ADMIN}/datasources"))
    assert '<meta name="csrf-token" content="' in html
    assert "connect/standalone.css" in html and "connect/connect.css" in html
    assert "Create datasource" in html and "host.css" not in html
    assert_csp_safe(html)
