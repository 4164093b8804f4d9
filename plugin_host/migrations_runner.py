"""Applying Alembic migrations: the host's own, then each plugin's from its manifest,
each with its own version table (as CTFd runs plugin migrations)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

HOST_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HOST_VERSION_TABLE = "host_alembic_version"


def alembic_config(script_location: Path, url: str, version_table: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    # Escape % for ConfigParser interpolation (URL-encoded passwords contain it).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("version_table", version_table)
    return config


def upgrade_all(app: Flask, revision: str = "head") -> list[str]:
    """Upgrade the host and every loaded plugin; returns what was upgraded."""
    done = []
    command.upgrade(alembic_config(HOST_MIGRATIONS, app.config["DATABASE_URL"], HOST_VERSION_TABLE), revision)
    done.append("host")
    for manifest in app.extensions.get("host_plugins", []):
        url = app.extensions[manifest.key].db.url if manifest.key in app.extensions else app.config["DATABASE_URL"]
        command.upgrade(alembic_config(manifest.migrations, url, manifest.version_table), revision)
        done.append(manifest.key)
    return done
