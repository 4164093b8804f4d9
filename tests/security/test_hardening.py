"""Hardening, on every page rather than one (``tests/test_host.py`` checks the login
page, the cookie flags and Basic throttling; ``tests/test_admin_pages.py`` the audit
page's rows): security headers and no inline script on every page the crawl of
``test_csrf.py`` reaches, nosniff on JSON answers, the Secure cookie behind HTTPS,
throttling of the login form, and an audit entry that names who changed which
fields of a secret without its value."""

from __future__ import annotations

import re

import pytest

from tests.security.conftest import form_token, seed_people
from tests.security.pages import crawl

PAGES_FROM = ["/", "/plugins/connect/admin/datasources", "/plugins/connect/admin/items",
              "/plugins/connect/admin/audit"]


def assert_hardened(response, where: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in ("same-origin", "strict-origin-when-cross-origin", "no-referrer"), where
    assert headers.get("Referrer-Policy") == "same-origin", where


def assert_no_inline_script(html: str, where: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {where}"
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), f"inline event handler on {where}"
    assert "javascript:" not in html.lower(), f"javascript: URL on {where}"


@pytest.mark.parametrize("role", ["admin", "member", "anonymous"])
def test_every_page_has_the_security_headers_and_no_inline_script(world, role):
    channel = "none" if role == "anonymous" else "session"
    client, _ = world.client(role, channel)
    pages, _forms = crawl(client, ["/login"] if role == "anonymous" else PAGES_FROM)
    assert len(pages) >= (10 if role == "admin" else 1)
    for path in pages:
        response = client.get(path)
        assert_hardened(response, path)
        assert_no_inline_script(response.get_data(as_text=True), path)
        assert response.headers.get("Cache-Control") == "no-store", path


def test_error_pages_and_json_answers_are_hardened_too(world):
    admin = world.session("admin")
    for response in (admin.get("/browse/NOPE-1"), admin.get("/plugins/connect/admin/items/999999"),
                     world.session("member").get("/plugins/connect/admin/items"),
                     admin.get("/plugins/connect/api/datasources"), admin.get("/plugins/connect/api/items/999999"),
                     world.app.test_client().get("/plugins/connect/api/items")):
        assert_hardened(response, response.request.path)


def test_the_session_cookie_is_secure_behind_https(make_app):
    app = make_app(SESSION_COOKIE_SECURE="1")
    seed_people(app)
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    response = client.post("/login", base_url="https://localhost", data={
        "username": "alice", "password": "alice-pw", "csrf_token": form_token(page.get_data(as_text=True))})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_guessing_on_the_login_form_is_throttled(make_app):
    app = make_app()
    seed_people(app)
    client = app.test_client()

    def attempt(password):
        page = client.get("/login")
        return client.post("/login", data={"username": "bob", "password": password,
                                           "csrf_token": form_token(page.get_data(as_text=True))})

    assert [attempt(f"guess-{i}").status_code for i in range(5)] == [401] * 5
    throttled = attempt("bob-pw")  # even the right password, while throttled
    assert throttled.status_code == 429 and "Too many failed attempts" in throttled.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_the_audit_log_names_who_and_which_fields_never_the_values(world):
    admin = world.session("admin")
    ds = admin.post("/plugins/connect/api/datasources", json={
        "name": "Audited", "config": {"base_url": world.upstream.url("/api")},
        "auth": {"mode": "bearer", "token": "Audit-token-first-1"}}).json
    admin.patch(f"/plugins/connect/api/datasources/{ds['id']}", json={
        "auth": {"mode": "bearer", "token": "Audit-token-second-2"}, "config": {"timeout_seconds": 9}})
    html = admin.get("/plugins/connect/admin/audit").get_data(as_text=True)
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL) if "Audited" in r and "updated" in r)
    assert "admin" in row and "auth.token" in row and "config.timeout_seconds" in row
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', row)
    assert "Audit-token" not in html
    assert world.session("member").get("/plugins/connect/admin/audit").status_code == 403
