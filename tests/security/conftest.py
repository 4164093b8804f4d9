"""A world shared by the security tests of one module: the reference host on its own
SQLite file, the four roles of the access table, project DEMO with issue DEMO-1, a
loopback HTTPS upstream, a datasource on it and a connected item.

Network rule: the only upstream is the HTTPSServer started here, on 127.0.0.1.
"""

from __future__ import annotations

import base64
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from tests.conftest import ADMIN, ALICE, build_app, create_user, dispose, seed_people  # noqa: F401  (re-exported)
from tests.support.https_servers import HTTPSServer, Json

SESSION_COOKIE = "connect_host_session"
ASSETS = [{"id": "A-1", "name": "MacBook Pro"}, {"id": "A-2", "name": "ThinkPad X1"}]

# role -> (user name, password); "anonymous" has none.
ROLES = {
    "anonymous": None,
    "member": ("alice", "alice-pw"),  # member of project DEMO
    "non_member": ("carol", "carol-pw"),  # in no project
    "admin": ("admin", "admin-pw"),
}


def basic_header(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


IGNORED_METHODS = {"HEAD", "OPTIONS"}  # answered by Flask for every GET route / every route


def url_map_routes() -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of the host as it is built, plugin included."""
    with tempfile.TemporaryDirectory() as directory:
        app = build_app(Path(directory), ca_bundle="")
        try:
            return sorted({(rule.endpoint, method, rule.rule)
                           for rule in app.url_map.iter_rules()
                           for method in rule.methods - IGNORED_METHODS})
        finally:
            dispose(app)


def db_snapshot(app) -> list:
    """Every row of every table of the app's SQLite database, to show that a refused
    call changed nothing."""
    import sqlite3

    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return [(table, sorted(map(repr, connection.execute(f'SELECT * FROM "{table}"'))))
                for table in tables]


@dataclass
class Login:
    """A logged-in session: its cookie and the CSRF token of its pages."""

    cookie: str
    csrf: str


@dataclass
class World:
    app: Any
    upstream: HTTPSServer
    datasource_id: int
    item_id: int
    ops_item_id: int = 0  # an item only project OPS shows
    issue_key: str = "DEMO-1"
    logins: dict[str, Login] = field(default_factory=dict)

    def client(self, role: str, channel: str) -> tuple[Client, dict[str, str]]:
        """A fresh test client for ``role`` over ``channel`` ("none", "session",
        "basic") and the headers to send."""
        client = self.app.test_client()
        if channel == "session":
            client.set_cookie(SESSION_COOKIE, self.logins[role].cookie)
            return client, {}
        if channel == "basic":
            return client, basic_header(*ROLES[role])
        return client, {}

    def session(self, role: str) -> Client:
        """A client logged in as ``role`` whose unsafe calls carry the CSRF header."""
        client, _ = self.client(role, "session")
        client.environ_base["HTTP_X_CSRFTOKEN"] = self.logins[role].csrf
        return client

    def login(self, role: str) -> Login:
        username, password = ROLES[role]
        client = self.app.test_client()
        page = client.get("/login").get_data(as_text=True)
        response = client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": form_token(page)})
        assert response.status_code == 302, response.get_data(as_text=True)
        html = client.get("/").get_data(as_text=True)
        token = meta_token(html)
        cookie = client.get_cookie(SESSION_COOKIE)
        return Login(cookie=cookie.value, csrf=token)

    # fresh objects for destructive cases
    def new_datasource(self, name: str) -> int:
        response = self.app.test_client().post("/plugins/connect/api/datasources", headers=ADMIN, json={
            "name": name, "type": "rest", "config": {"base_url": self.upstream.url("/api")},
            "auth": {"mode": "none"}})
        assert response.status_code == 201, response.json
        return response.json["id"]

    def new_item(self, name: str, datasource_id: int | None = None, **fields) -> int:
        response = self.app.test_client().post("/plugins/connect/api/items", headers=ADMIN, json={
            "name": name, "datasource_id": datasource_id or self.datasource_id, "editor": "select",
            "query": "/assets", "options": {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}"},
            **fields})
        assert response.status_code == 201, response.json
        return response.json["id"]


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def meta_token(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "no csrf-token meta tag on the page"
    return match.group(1)


@pytest.fixture(scope="module")
def world(make_world):
    return make_world()


@pytest.fixture(scope="module")
def make_world(tmp_path_factory, ca, ca_bundle):
    """``make_world(**config)``: the module's world, built once (config overrides
    the test configuration)."""
    built = []

    def make(**overrides) -> World:
        assert not built, "one world per module"
        built.append(_build_world(tmp_path_factory, ca, ca_bundle, overrides))
        return built[0][0]

    try:
        yield make
    finally:
        for world, upstream in built:
            dispose(world.app)
            upstream.stop()


def _build_world(tmp_path_factory, ca, ca_bundle, overrides) -> tuple[World, HTTPSServer]:
    upstream = HTTPSServer(ca, {
        "/api": Json({"status": "ok"}),
        "/api/health": Json({"status": "ok"}),
        "/api/assets": Json({"items": ASSETS}),
    }).start()
    app = build_app(tmp_path_factory.mktemp("security"), ca_bundle, **overrides)
    seed_people(app)
    client = app.test_client()
    ds = client.post("/plugins/connect/api/datasources", headers=ADMIN, json={
        "name": "Assets API", "type": "rest",
        "config": {"base_url": upstream.url("/api"), "health_check_url": upstream.url("/api/health")},
        "auth": {"mode": "bearer", "token": "Security-suite-token-9f3a"}})
    assert ds.status_code == 201, ds.json
    world = World(app=app, upstream=upstream, datasource_id=ds.json["id"], item_id=0)
    world.item_id = world.new_item("Asset")
    world.ops_item_id = world.new_item("Ops asset", projects=["OPS"])
    world.logins = {role: world.login(role) for role, creds in ROLES.items() if creds}
    return world, upstream
