"""The reference host: logins, who may do what (401 vs 403), the Jira-shaped REST
API, and the CLI (CONTRACT sections 1, 3 and 7)."""

from __future__ import annotations

import re

from tests.conftest import ADMIN, ALICE, BOB, CAROL, basic, csrf_from, login, logout


def test_login_form_has_csrf_and_the_contract_fields(client):
    html = client.get("/login").get_data(as_text=True)
    for needle in ('name="username"', 'name="password"', 'name="csrf_token"', ">Username<", ">Password<", "Log in"):
        assert needle in html


def test_login_logout_and_wrong_password(people):
    client = people.test_client()
    wrong = login(client, "alice", "not-her-password")
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302

    ok = login(client, "alice", "alice-pw")
    assert ok.status_code == 302
    index = client.get("/")
    assert index.status_code == 200 and "DEMO-1" in index.get_data(as_text=True)
    assert logout(client).headers["Location"] == "/login"
    assert client.get("/").headers["Location"].startswith("/login")


def test_login_without_csrf_token_is_refused(people):
    client = people.test_client()
    response = client.post("/login", data={"username": "alice", "password": "alice-pw"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302, "not logged in"


def test_login_redirects_only_to_local_paths(people):
    response = login(people.test_client(), "alice", "alice-pw", next_url="https://evil.example/")
    assert response.headers["Location"] == "/"


def test_password_guessing_is_throttled(people):
    client = people.test_client()
    for _ in range(5):
        assert client.get("/rest/api/2/myself", headers=basic("bob", "guess")).status_code == 401
    # Even the right password is refused while the account is throttled, and says so.
    throttled = client.get("/rest/api/2/myself", headers=BOB)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert client.get("/rest/api/2/myself", headers=ALICE).status_code == 200


def test_rest_api_401_vs_403(people):
    client = people.test_client()
    assert client.get("/rest/api/2/issue/DEMO-1").status_code == 401
    assert client.get("/rest/api/2/issue/DEMO-1", headers=CAROL).status_code == 403
    assert client.get("/rest/api/2/issue/DEMO-1", headers=BOB).status_code == 200
    assert client.get("/rest/api/2/issue/DEMO-1", headers=ADMIN).status_code == 200
    assert client.get("/rest/api/2/issue/DEMO-404", headers=ADMIN).status_code == 404
    assert client.post("/rest/api/2/project", headers=ALICE, json={"key": "OPS", "name": "Ops"}).status_code == 403
    assert client.post("/rest/api/2/project", json={"key": "OPS", "name": "Ops"}).status_code == 401


def test_issue_create_read_update(people):
    client = people.test_client()
    created = client.post("/rest/api/2/issue", headers=BOB, json={
        "fields": {"project": {"key": "DEMO"}, "summary": "Monitor for Bob", "description": "27 inch"}})
    assert created.status_code == 201 and created.json["key"] == "DEMO-2"
    assert client.put("/rest/api/2/issue/DEMO-2", headers=BOB, json={"fields": {"summary": "Two monitors"}}).status_code == 204
    issue = client.get("/rest/api/2/issue/DEMO-2", headers=ALICE).json
    assert issue["key"] == "DEMO-2"
    assert issue["fields"]["summary"] == "Two monitors"
    assert issue["fields"]["description"] == "27 inch"
    assert issue["fields"]["project"]["key"] == "DEMO"
    assert issue["fields"]["reporter"]["name"] == "bob"


def test_non_members_cannot_create_or_edit(people):
    client = people.test_client()
    assert client.post("/rest/api/2/issue", headers=CAROL,
                       json={"fields": {"project": {"key": "DEMO"}, "summary": "x"}}).status_code == 403
    assert client.put("/rest/api/2/issue/DEMO-1", headers=CAROL, json={"fields": {"summary": "x"}}).status_code == 403
    assert client.get("/rest/api/2/issue/DEMO-1", headers=ADMIN).json["fields"]["summary"] == "Laptop for Alice"


def test_rest_validation_errors_name_fields(people):
    client = people.test_client()
    bad = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {"summary": " ", "colour": "red"}})
    assert bad.status_code == 400 and set(bad.json["fields"]) == {"colour"}
    empty = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {"summary": " "}})
    assert empty.status_code == 400 and empty.json["fields"] == {"summary": "Summary is required."}
    project = client.post("/rest/api/2/project", headers=ADMIN, json={"key": "bad key", "name": ""})
    assert project.status_code == 400 and set(project.json["fields"]) == {"key", "name"}
    unknown = client.post("/rest/api/2/issue", headers=ADMIN, json={"fields": {"project": {"key": "NOPE"}, "summary": "x"}})
    assert unknown.status_code == 400 and "NOPE" in unknown.json["fields"]["project"]


def test_pages_need_login_and_membership(people):
    client = people.test_client()
    response = client.get("/browse/DEMO-1")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    login(client, "carol", "carol-pw")
    assert client.get("/browse/DEMO-1").status_code == 403
    assert "DEMO-1" not in client.get("/").get_data(as_text=True)
    logout(client)
    login(client, "bob", "bob-pw")
    page = client.get("/browse/DEMO-1")
    assert page.status_code == 200 and "Laptop for Alice" in page.get_data(as_text=True)
    assert client.get("/browse/NOPE-1").status_code == 404


def test_session_json_calls_need_the_csrf_header_but_basic_calls_do_not(people):
    client = people.test_client()
    login(client, "bob", "bob-pw")
    body = {"fields": {"summary": "Changed by session"}}
    assert client.put("/rest/api/2/issue/DEMO-1", json=body).status_code == 400
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.put("/rest/api/2/issue/DEMO-1", json=body, headers={"X-CSRFToken": token}).status_code == 204
    assert client.put("/rest/api/2/issue/DEMO-1", json=body, headers=ALICE).status_code == 204


def test_security_headers_and_cookie_flags(people):
    client = people.test_client()
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    logged_in = login(client, "alice", "alice-pw")
    cookie = logged_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cli_users_create_and_db_upgrade(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "dora", "--password", "pw", "--email", "d@example.com",
                                 "--display-name", "Dora"])
    assert result.exit_code == 0 and "Created user dora" in result.output
    assert runner.invoke(args=["db", "upgrade"]).output.startswith("Database is up to date (host, connect)")
    me = app.test_client().get("/rest/api/2/myself", headers=basic("dora", "pw")).json
    assert me == {"name": "dora", "displayName": "Dora", "emailAddress": "d@example.com", "admin": False}


def test_instance_folder_gets_private_generated_keys(tmp_path, monkeypatch, new_app):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "inst"))
    for name in ("SECRET_KEY", "CONNECT_SECRET_KEYS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    app = new_app()
    for name in ("secret-key", "connect-secret-keys"):
        path = tmp_path / "inst" / name
        assert path.stat().st_mode & 0o777 == 0o600
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'connect.db'}"
    again = new_app()
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]
    assert re.fullmatch(r"[\w-]{40,}", app.config["SECRET_KEY"])
