"""Ending a session and where a login leads (issue 13, rule 9): logout is a POST
with the CSRF token, a ``next`` holding CR or LF is refused like any unsafe target,
and the SQLite database the host creates is private (mode 0600)."""

from __future__ import annotations

import os
import stat

import pytest

from tests.conftest import host_config, login, logout


def test_logout_is_a_post_form_on_every_page(people):
    client = people.test_client()
    login(client, "alice", "alice-pw")
    html = client.get("/").get_data(as_text=True)
    assert 'action="/logout"' in html and 'method="post"' in html and ">Log out</button>" in html
    assert 'href="/logout"' not in html, "a plain link would log out with a GET"


def test_logout_by_get_is_refused_and_keeps_the_session(people):
    client = people.test_client()
    login(client, "alice", "alice-pw")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200, "still logged in"


def test_logout_needs_the_csrf_token(people):
    client = people.test_client()
    login(client, "alice", "alice-pw")
    refused = client.post("/logout")
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert client.get("/").status_code == 200, "a forged POST does not log the user out"
    done = logout(client)
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert client.get("/").headers["Location"].startswith("/login")


@pytest.mark.parametrize("target", ["/browse/DEMO-1\r\nSet-Cookie: x=1", "/\nfoo", "/\rfoo", "/%0d%0a\r", "/a\x00b"])
def test_a_next_with_cr_or_lf_goes_to_the_default_page(people, target):
    client = people.test_client()
    response = login(client, "alice", "alice-pw", next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200, "the login itself succeeded"


def test_a_safe_next_is_still_followed(people):
    response = login(people.test_client(), "alice", "alice-pw", next_url="/browse/DEMO-1")
    assert response.headers["Location"] == "/browse/DEMO-1"


@pytest.fixture
def open_umask():
    """A umask that would make SQLite's own file world-readable (0644)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_default_sqlite_database_is_created_0600(tmp_path, ca_bundle, new_app, open_umask):
    config = host_config(tmp_path, ca_bundle)
    del config["DATABASE_URL"]  # the default: <instance>/connect.db
    new_app(config, migrate=True)
    database = tmp_path / "instance" / "connect.db"
    assert database.stat().st_size > 0, "the migrations wrote into it"
    assert _mode(database) == 0o600


def test_a_given_sqlite_file_is_created_0600_and_an_existing_one_left_alone(tmp_path, ca_bundle, new_app,
                                                                          open_umask):
    new_app(host_config(tmp_path, ca_bundle), migrate=True)  # sqlite:///<tmp>/connect.db
    assert _mode(tmp_path / "connect.db") == 0o600
    existing = tmp_path / "other.db"
    existing.touch(mode=0o640)
    new_app(host_config(tmp_path, ca_bundle, DATABASE_URL=f"sqlite:///{existing}"), migrate=True)
    assert _mode(existing) == 0o640
