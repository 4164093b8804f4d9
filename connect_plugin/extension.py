"""The Flask extension: ``ConnectPlugin().init_app(app, manifest=..., host=...)``.

As Flask's extension guide asks, the extension never keeps the app: configuration is
read in ``init_app`` and everything per-app lives in ``app.extensions["connect"]``
(a ``ConnectState``). Secret keys are read here, at start-up, never at import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, current_app, g
from sqlalchemy.orm import Session

from .caching.call_limiter import CallLimiter
from .caching.response_cache import ResponseCache
from .db import Database
from .host_adapter import HostAdapter
from .manifest import Manifest, default_manifest_path, load_manifest
from .metrics import ConnectMetrics
from .outbound import OutboundClient, OutboundPolicy, install_log_redaction, redact_known
from .secret_box import SecretBox, load_or_create_keyfile, parse_keys
from .settings import init_settings

EXTENSION_KEY = "connect"

@dataclass
class ConnectState:
    """Everything the plugin holds for one app."""

    manifest: Manifest
    host: HostAdapter
    db: Database
    box: SecretBox
    policy: OutboundPolicy
    client: OutboundClient
    cache: ResponseCache
    limiter: CallLimiter
    metrics: ConnectMetrics

    def redact_url(self, url: str) -> str:
        return redact_known(url)


def state() -> ConnectState:
    return current_app.extensions[EXTENSION_KEY]


def session() -> Session:
    """One database session per request, closed when the request ends."""
    if "connect_session" not in g:
        g.connect_session = state().db.session()
    return g.connect_session


def _close_session(_exc=None) -> None:
    db_session = g.pop("connect_session", None)
    if db_session is not None:
        db_session.close()


class ConnectPlugin:
    def __init__(self, app: Flask | None = None, **kwargs):
        if app is not None:
            self.init_app(app, **kwargs)

    def init_app(self, app: Flask, *, host: HostAdapter, manifest: Manifest | str | Path | None = None) -> None:
        if not isinstance(manifest, Manifest):
            manifest = load_manifest(manifest or default_manifest_path())
        init_settings(app.config)

        keys = app.config["CONNECT_SECRET_KEYS"] or load_or_create_keyfile(app.instance_path)
        box = SecretBox(parse_keys(keys))
        database_url = (app.config["CONNECT_DATABASE_URL"] or app.config.get("DATABASE_URL")
                        or os.environ.get("DATABASE_URL")
                        or f"sqlite:///{Path(app.instance_path) / 'connect.db'}")
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        policy = OutboundPolicy.from_config(app.config)
        cache = ResponseCache()
        cache.init_app(app)
        install_log_redaction()
        metrics = ConnectMetrics(app.config["CONNECT_METRICS_TOKEN"])

        app.extensions[EXTENSION_KEY] = ConnectState(
            manifest=manifest, host=host, db=Database(database_url), box=box, policy=policy,
            client=OutboundClient(policy), cache=cache,
            limiter=CallLimiter(app.config["CONNECT_BUSY_WAIT_SECONDS"], on_reject=metrics.rejected),
            metrics=metrics,
        )
        app.teardown_appcontext(_close_session)
        app.register_blueprint(self.make_blueprint(manifest))

        from .cli import register_commands

        register_commands(app)

    @staticmethod
    def make_blueprint(manifest: Manifest) -> Blueprint:
        from .views import register_views

        bp = Blueprint(
            manifest.key, __name__, url_prefix=manifest.url_prefix,
            template_folder=str(manifest.templates), static_folder=str(manifest.static),
            static_url_path="/static",
        )
        register_views(bp)
        return bp
