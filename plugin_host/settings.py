"""Configuration of the reference host: defaults, then the environment, then the
``config`` mapping given to ``create_app`` (tests use that)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url

from .passwords import check_method

ENV_KEYS = (
    "DATABASE_URL", "CACHE_TYPE", "CACHE_REDIS_URL", "SECRET_KEY", "PLUGIN_MANIFESTS",
    "CONNECT_SECRET_KEYS", "CONNECT_CA_BUNDLE", "CONNECT_ALLOWED_HOSTS", "CONNECT_MAX_RESPONSE_BYTES",
    "CONNECT_BUSY_WAIT_SECONDS", "SESSION_COOKIE_SECURE", "PASSWORD_HASH_METHOD",
)


def instance_path() -> str:
    """``INSTANCE_PATH``, else ``instance/`` in the working directory (the
    repository root for ``make run``)."""
    return os.path.abspath(os.environ.get("INSTANCE_PATH") or os.path.join(os.getcwd(), "instance"))


def secret_key(instance: str) -> str:
    """Generated once into the instance folder (mode 0600) unless given."""
    path = Path(instance) / "secret-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def private_sqlite_file(url: str) -> None:
    """Create the file of a SQLite URL with mode 0600 before any engine opens it.

    SQLite would create it with the umask's mode (often world-readable), and the
    database holds password hashes and encrypted secrets; SQLite gives its journal
    and WAL files the mode of the database file. An existing file is left alone."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:"):
        return
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def configure(app: Flask, overrides: dict | None) -> None:
    app.config.update(
        DATABASE_URL=None,
        CACHE_TYPE="SimpleCache",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="connect_host_session",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in a before_request hook, which spares Basic auth
        WTF_CSRF_TIME_LIMIT=None,  # tokens live as long as the session
        JSON_SORT_KEYS=False,
    )
    for key in ENV_KEYS:
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    app.config.update(overrides or {})
    if app.config.get("PASSWORD_HASH_METHOD"):
        check_method(app.config["PASSWORD_HASH_METHOD"])
    if isinstance(app.config.get("SESSION_COOKIE_SECURE"), str):
        app.config["SESSION_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"].lower() in ("1", "true", "yes")
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'connect.db'}"
    private_sqlite_file(app.config["DATABASE_URL"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(app.instance_path)
