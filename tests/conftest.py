"""Shared fixtures: the reference host on a fresh database, users and a project,
and loopback HTTPS upstreams whose CA the host trusts through CONNECT_CA_BUNDLE.

Network rule for the whole suite: tests contact only servers they start on
loopback (127.0.0.1, ::1).
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.https_servers import HTTPSServer, make_ca, write_ca_pem

pytest_plugins = ["tests.security.leak_guard"]

SECRET_KEYS = Fernet.generate_key().decode()
# Cheap hashes (plugin_host/passwords.py): every Basic-authenticated call checks one.
TEST_PASSWORD_HASH = "pbkdf2:sha256:1000"


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN = basic("admin", "admin-pw")
ALICE = basic("alice", "alice-pw")
BOB = basic("bob", "bob-pw")
CAROL = basic("carol", "carol-pw")  # a user in no project


@pytest.fixture(scope="session")
def ca():
    return make_ca()


@pytest.fixture(scope="session")
def ca_bundle(ca, tmp_path_factory) -> str:
    return write_ca_pem(ca, tmp_path_factory.mktemp("ca") / "ca.pem")


def host_config(directory, ca_bundle: str, **overrides) -> dict:
    """The host configuration of the suite: its own SQLite file in ``directory``,
    trusting the test CA and allowed to reach loopback upstreams."""
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(Path(directory) / "instance"),
        "DATABASE_URL": f"sqlite:///{directory}/connect.db",
        "SECRET_KEY": "test-secret-key",
        "CONNECT_SECRET_KEYS": SECRET_KEYS,
        "CONNECT_CA_BUNDLE": ca_bundle,
        "CONNECT_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CONNECT_BUSY_WAIT_SECONDS": 0.5,
        "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH,
    }
    config.update(overrides)
    return config


def build_app(directory, ca_bundle: str, **overrides):
    """A host app with :func:`host_config`, migrations applied. The caller disposes it;
    tests take the ``make_app`` / ``new_app`` fixtures instead, which always do."""
    from plugin_host import create_app
    from plugin_host.migrations_runner import upgrade_all

    app = create_app(host_config(directory, ca_bundle, **overrides))
    with app.app_context():
        upgrade_all(app)
    return app


def dispose(app) -> None:
    app.extensions["connect"].stats.close()
    app.extensions["connect"].db.dispose()
    app.extensions["host_db"].dispose()


MIGRATION_INPUTS = frozenset({"DATABASE_URL", "CONNECT_DATABASE_URL", "PLUGIN_MANIFESTS"})


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory, ca_bundle) -> Path:
    """A SQLite file the real migrations (host and plugin) brought to head once per
    session; ``make_app`` starts each test from a copy of it. Running Alembic for every
    test cost about a tenth of a second each. Tests of the migrations themselves run
    them (``new_app(..., migrate=True)``, tests/test_migrations.py)."""
    folder = tmp_path_factory.mktemp("migrated")
    app = build_app(folder, ca_bundle)
    dispose(app)
    database = folder / "connect.db"
    assert database.stat().st_size > 0 and not (folder / "connect.db-wal").exists()
    return database


@pytest.fixture
def make_app(tmp_path, ca_bundle, new_app, migrated_database):
    """Build host apps sharing one database, each with its own instance folder
    (disposed by ``new_app``). The default database starts as a copy of
    ``migrated_database``; with a database or plugins of their own in ``overrides``
    the migrations run."""
    count = iter(range(1_000_000))

    def build(**overrides):
        overrides.setdefault("INSTANCE_PATH", str(tmp_path / f"instance{next(count)}"))
        own_database = not MIGRATION_INPUTS.isdisjoint(overrides)
        database = tmp_path / "connect.db"
        if not own_database and not database.exists():
            shutil.copyfile(migrated_database, database)
            database.chmod(0o600)
        return new_app(host_config(tmp_path, ca_bundle, **overrides), migrate=own_database)

    return build


@pytest.fixture
def new_app():
    """``plugin_host.create_app(config)`` for a test that needs its own configuration
    (``migrate=True`` applies the migrations); every app it made is disposed after the
    test, whether it passed or not."""
    from plugin_host import create_app
    from plugin_host.migrations_runner import upgrade_all

    created = []

    def build(config=None, *, migrate: bool = False):
        app = create_app(config)
        created.append(app)
        if migrate:
            with app.app_context():
                upgrade_all(app)
        return app

    try:
        yield build
    finally:
        for app in created:
            dispose(app)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def create_user(app, name, password, *, admin=False, email="", display_name=""):
    args = ["users", "create", name, "--password", password]
    if admin:
        args.append("--admin")
    if email:
        args += ["--email", email]
    if display_name:
        args += ["--display-name", display_name]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output


def seed_people(app) -> None:
    """admin; alice and bob in project DEMO; carol in no project; one issue DEMO-1."""
    create_user(app, "admin", "admin-pw", admin=True, email="admin@example.com", display_name="Ada Admin")
    create_user(app, "alice", "alice-pw", email="alice@example.com", display_name="Alice Doe")
    create_user(app, "bob", "bob-pw", email="bob@example.com", display_name="Bob Roe")
    create_user(app, "carol", "carol-pw", email="carol@example.com", display_name="Carol Poe")
    client = app.test_client()
    assert client.post("/rest/api/2/project", headers=ADMIN,
                       json={"key": "DEMO", "name": "Demo", "members": ["alice", "bob"]}).status_code == 201
    response = client.post("/rest/api/2/issue", headers=ALICE,
                           json={"fields": {"project": {"key": "DEMO"}, "summary": "Laptop for Alice"}})
    assert response.status_code == 201, response.json


@pytest.fixture
def people(app):
    seed_people(app)
    return app


@pytest.fixture
def upstream(ca):
    """A loopback HTTPS API; tests fill ``upstream.routes``."""
    server = HTTPSServer(ca, {})
    server.start()
    yield server
    server.stop()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client, username: str, password: str, *, next_url: str | None = None):
    page = client.get("/login")
    return client.post("/login", query_string={"next": next_url} if next_url is not None else None,
                       data={"username": username, "password": password,
                             "csrf_token": csrf_from(page.get_data(as_text=True))})


def logout(client):
    """Log out as the page's "Log out" button does: a POST with the page's CSRF token."""
    token = csrf_from(client.get("/").get_data(as_text=True))
    return client.post("/logout", data={"csrf_token": token})


def make_datasource(client, base_url: str, *, name="Assets API", auth=None, **config):
    response = client.post("/plugins/connect/api/datasources", headers=ADMIN, json={
        "name": name, "type": "rest", "config": {"base_url": base_url, **config},
        "auth": auth or {"mode": "none"},
    })
    assert response.status_code == 201, response.json
    return response.json


def make_item(client, datasource_id: int, **fields):
    body = {"name": "Asset", "datasource_id": datasource_id, "editor": "select", "query": "/assets",
            "options": {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}"}}
    body.update(fields)
    response = client.post("/plugins/connect/api/items", headers=ADMIN, json=body)
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


# --- the plugin alone: a plain Flask app and a small fake host ------------------------


class FakeHost:
    """The smallest host the plugin can live in (``connect_plugin.host_adapter.HostAdapter``):
    users and issues in dictionaries, every call Basic-authenticated (no CSRF), and the
    values the plugin stores kept in ``stored``. ``user`` is who is logged in."""

    def __init__(self):
        from connect_plugin.host_adapter import HostIssue, HostUser

        self.users = {"admin": HostUser("admin", "Ada Admin", "admin@example.com", is_admin=True),
                      "alice": HostUser("alice", "Alice", "alice@example.com")}
        self.issues = {"DEMO-1": HostIssue("DEMO-1", "DEMO", {"summary": "Laptop C02XK1 does not charge"})}
        self.editors = {"DEMO-1": {"admin", "alice"}}
        self.creators = {"DEMO": {"admin", "alice"}}  # who may create issues in each project
        self.user = self.users["admin"]
        self.stored: list[tuple[str, int, object]] = []

    def current_user(self):
        return self.user

    def login_url(self, next_url: str) -> str:
        return "/login?next=" + next_url

    def can_edit_issue(self, user, issue_key: str) -> bool:
        return user.account_id in self.editors.get(issue_key, set())

    def can_create_issue(self, user, project_key: str) -> bool:
        return user.account_id in self.creators.get(project_key, set())

    def get_issue(self, issue_key: str):
        return self.issues.get(issue_key)

    def find_user(self, account_id: str):
        return self.users.get(account_id)

    def store_connected_value(self, issue_key: str, item_id: int, snapshot) -> None:
        self.stored.append((issue_key, item_id, snapshot))

    def issues_with_connected_value(self, item_id: int, *, after, limit: int):
        field = f"connected_item_{item_id}"
        keys = sorted(k for k, issue in self.issues.items() if issue.fields.get(field) not in (None, "", []))
        return [self.issues[k] for k in keys if after is None or k > after][:limit]

    def store_refreshed_values(self, item_id: int, changes) -> set[str]:
        from dataclasses import replace

        field, written = f"connected_item_{item_id}", set()
        for key, read, fresh in changes:
            if self.issues[key].fields.get(field) == read:
                self.issues[key] = replace(self.issues[key], fields={**self.issues[key].fields, field: fresh})
                self.stored.append((key, item_id, fresh))
                written.add(key)
        return written

    def request_uses_basic_auth(self) -> bool:
        return True


@pytest.fixture
def bare_plugin(tmp_path, ca_bundle):
    """``(app, host)``: a plain Flask app with ``ConnectPlugin().init_app(app, host=FakeHost())``,
    the plugin's migrations applied, no reference host anywhere; always disposed."""
    from flask import Flask

    from alembic import command
    from alembic.config import Config

    from connect_plugin import ConnectPlugin

    app = Flask("bare_plugin", instance_path=str(tmp_path / "instance"))
    app.config.update(TESTING=True, SECRET_KEY="bare-plugin", DATABASE_URL=f"sqlite:///{tmp_path}/plugin.db",
                      CONNECT_SECRET_KEYS=SECRET_KEYS, CONNECT_CA_BUNDLE=ca_bundle,
                      CONNECT_ALLOWED_HOSTS="127.0.0.1,localhost", CACHE_TYPE="SimpleCache",
                      CONNECT_BASE_TEMPLATE="connect/standalone.html")
    host = FakeHost()
    ConnectPlugin().init_app(app, host=host)
    state = app.extensions["connect"]
    try:
        migrations = Config()  # the manifest names the folder and the version table
        migrations.set_main_option("script_location", str(state.manifest.migrations))
        migrations.set_main_option("sqlalchemy.url", app.config["DATABASE_URL"])
        migrations.set_main_option("version_table", state.manifest.version_table)
        command.upgrade(migrations, "head")
        yield app, host
    finally:
        state.stats.close()
        state.db.dispose()
