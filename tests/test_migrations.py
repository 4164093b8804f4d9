"""The migrations create exactly what the models describe, each component in its
own version table, and running them again changes nothing."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect

from plugin_host.migrations_runner import HOST_MIGRATIONS, HOST_VERSION_TABLE, alembic_config


def test_models_and_migrations_agree(app):
    url = app.config["DATABASE_URL"]
    manifest = app.extensions["connect"].manifest
    # check() raises when autogenerate would write a new migration.
    command.check(alembic_config(HOST_MIGRATIONS, url, HOST_VERSION_TABLE))
    command.check(alembic_config(manifest.migrations, url, manifest.version_table))


def test_each_component_has_its_own_version_table_and_upgrade_is_idempotent(app):
    engine = create_engine(app.config["DATABASE_URL"])
    before = set(inspect(engine).get_table_names())
    assert {"host_alembic_version", "connect_alembic_version"} <= before
    assert {"connect_datasource", "connect_datasource_secret", "connect_item", "connect_audit",
            "host_user", "host_project", "host_issue"} <= before
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0
    assert set(inspect(engine).get_table_names()) == before
    engine.dispose()


def test_the_search_rows_are_built_from_the_stored_snapshots(tmp_path):
    """host_0003 on a database that already holds connected values: JQL finds them."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(HOST_MIGRATIONS, url, HOST_VERSION_TABLE)
    command.upgrade(config, "host_0002")
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("INSERT INTO host_project (id, key, name, next_number) VALUES (1, 'DEMO', 'Demo', 3)"))
        for number, fields in ((1, '{"connected_item_3": {"value": "A-1", "label": "MacBook"}, "x": 1}'),
                               (2, '{"connected_item_4": [{"value": "A-2", "label": "Dock"}, '
                                   '{"value": "A-3", "label": "Screen"}], "connected_item_3": null}')):
            db.execute(text("INSERT INTO host_issue (key, project_id, number, summary, description, custom_fields, "
                            "created_at, updated_at) VALUES (:key, 1, :n, 's', '', :f, '2026-01-01', '2026-01-01')"),
                       {"key": f"DEMO-{number}", "n": number, "f": fields})
    command.upgrade(config, "head")
    with engine.connect() as db:
        rows = db.execute(text("SELECT i.key, v.field, v.value, v.label FROM host_connected_value v "
                               "JOIN host_issue i ON i.id = v.issue_id ORDER BY i.key, v.value")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("DEMO-1", "connected_item_3", "A-1", "MacBook"),
                                        ("DEMO-2", "connected_item_4", "A-2", "Dock"),
                                        ("DEMO-2", "connected_item_4", "A-3", "Screen")]
