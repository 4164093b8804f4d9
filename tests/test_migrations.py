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
