"""The manifest: pure data, checked at start-up with one sentence naming the file and
the field; the host loads plugins only through the manifests it is configured with."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from connect_plugin.manifest import ManifestError, default_manifest_path, load_manifest


@pytest.fixture
def manifest_dir(tmp_path, repo_root):
    for folder in ("templates", "static", "migrations"):
        shutil.copytree(repo_root / folder, tmp_path / folder)
    return tmp_path


def write(folder: Path, data: dict) -> Path:
    path = folder / "plugin.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def base(repo_root) -> dict:
    return yaml.safe_load((repo_root / "plugin.yaml").read_text())


def test_the_repository_manifest_is_complete(repo_root):
    manifest = load_manifest(repo_root / "plugin.yaml")
    assert manifest.key == "connect"
    assert manifest.url_prefix == "/plugins/connect"
    assert manifest.entry_point == "connect_plugin:ConnectPlugin"
    assert manifest.version_table == "connect_alembic_version"
    assert manifest.templates == repo_root / "templates"
    assert {page.endpoint for page in manifest.admin_pages} >= {"connect.datasources_list", "connect.items_list"}
    assert default_manifest_path() == repo_root / "plugin.yaml"


@pytest.mark.parametrize("change, words", [
    (lambda d: d.pop("entry_point"), ["'entry_point'", "missing"]),
    (lambda d: d.pop("key"), ["'key'", "missing"]),
    (lambda d: d.update(version=None), ["'version'"]),
    (lambda d: d.update(url_prefix=42), ["'url_prefix'", "str"]),
    (lambda d: d.update(url_prefix="plugins"), ["'url_prefix'"]),
    (lambda d: d.update(entry_point="not an entry point"), ["'entry_point'", "package.module:Name"]),
    (lambda d: d.update(templates="no-such-folder"), ["'templates'", "not a folder"]),
    (lambda d: d.update(migrations="migrations"), ["'migrations'", "dict"]),
    (lambda d: d.update(admin_pages=[{"title": "x"}]), ["admin_pages[0]", "endpoint"]),
])
def test_bad_manifest_names_file_and_field(manifest_dir, repo_root, change, words):
    data = base(repo_root)
    change(data)
    path = write(manifest_dir, data)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for word in words:
        assert word in message
    assert message.count(".") >= 1 and "\n" not in message


def test_unknown_entry_point_stops_start_up(manifest_dir, repo_root, monkeypatch, tmp_path):
    from plugin_host import create_app

    data = base(repo_root)
    data["entry_point"] = "connect_plugin.nothing_here:Plugin"
    path = write(manifest_dir, data)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "inst"))
    with pytest.raises(ManifestError) as caught:
        create_app({"PLUGIN_MANIFESTS": str(path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert str(path) in str(caught.value) and "'entry_point'" in str(caught.value)

    data["entry_point"] = "connect_plugin:NoSuchClass"
    write(manifest_dir, data)
    with pytest.raises(ManifestError, match="does not define"):
        create_app({"PLUGIN_MANIFESTS": str(path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_invalid_yaml_is_reported_with_its_line(manifest_dir):
    path = manifest_dir / "plugin.yaml"
    path.write_text("key: connect\nname: [unclosed\n")
    with pytest.raises(ManifestError, match="not valid YAML at line"):
        load_manifest(path)


def test_host_mounts_the_plugin_at_the_manifest_prefix(manifest_dir, repo_root, make_app):
    data = base(repo_root)
    data["url_prefix"] = "/ext/elements"
    path = write(manifest_dir, data)
    app = make_app(PLUGIN_MANIFESTS=str(path))
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert "/ext/elements/api/datasource-types" in rules
    assert not any(rule.startswith("/plugins/connect") for rule in rules)


def test_a_bare_flask_app_can_host_the_plugin(tmp_path):
    """The plugin needs only a HostAdapter: any Flask app can mount it."""
    from flask import Flask

    from connect_plugin import ConnectPlugin
    from connect_plugin.host_adapter import HostIssue, HostUser

    class TinyHost:
        def current_user(self):
            return HostUser(account_id="root", display_name="Root", is_admin=True)

        def login_url(self, next_url):
            return "/login"

        def can_edit_issue(self, user, key):
            return True

        def can_create_issue(self, user, project_key):
            return True

        def get_issue(self, key):
            return HostIssue(key=key, project="X", fields={"summary": "s"})

        def find_user(self, account_id):
            return None

        def store_connected_value(self, key, item_id, snapshot):
            pass

        def issues_with_connected_value(self, item_id, *, after, limit):
            return []

        def store_refreshed_values(self, item_id, changes):
            return set()

        def request_uses_basic_auth(self):
            return True

    app = Flask("tiny", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="x", DATABASE_URL=f"sqlite:///{tmp_path}/tiny.db")
    ConnectPlugin().init_app(app, host=TinyHost())
    assert "connect" in app.extensions
    from plugin_host.migrations_runner import alembic_config
    from alembic import command

    manifest = app.extensions["connect"].manifest
    command.upgrade(alembic_config(manifest.migrations, app.config["DATABASE_URL"], manifest.version_table), "head")
    response = app.test_client().get("/plugins/connect/api/datasource-types")
    assert response.status_code == 200 and response.json[0]["label"] == "REST API"
    app.extensions["connect"].db.dispose()
