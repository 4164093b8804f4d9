"""The Flask extension: ``ConnectPlugin().init_app(app, manifest=..., host=...)``.

As Flask's extension guide asks, the extension never keeps the app: configuration is
read in ``init_app`` and everything per-app lives in ``app.extensions["connect"]``
(a :class:`~connect_plugin.state.ConnectState`). Secret keys are read here, at
start-up, never at import.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Flask

from .auth_modes.tokens import TokenCache
from .caching.call_limiter import CallLimiter
from .caching.response_cache import ResponseCache
from .cli import register_commands
from .db import Database
from .host_adapter import HostAdapter, missing_methods
from .manifest import Manifest, default_manifest_path, load_manifest
from .metrics import ConnectMetrics
from .outbound import OutboundClient, OutboundPolicy, install_log_redaction
from .secret_box import SecretBox, load_or_create_keyfile, parse_keys
from .settings import init_settings
from .stats.recorder import StatsRecorder
from .stats.stores import DatabaseStatsStore, RedisStatsStore
from .state import EXTENSION_KEY, ConnectState, close_session, release_before_wait
from .static_files import CachedStaticBlueprint, static_url_path
from .views import register_views


class ConnectPlugin:
    def __init__(self, app: Flask | None = None, **kwargs):
        if app is not None:
            self.init_app(app, **kwargs)

    def init_app(self, app: Flask, *, host: HostAdapter, manifest: Manifest | str | Path | None = None) -> None:
        missing = missing_methods(host)
        if missing:
            raise TypeError(f"The host adapter {type(host).__name__} lacks {', '.join(missing)} "
                            "(see connect_plugin.host_adapter.HostAdapter).")
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
        db = Database(database_url)
        # Stats go where every worker and node adds to one count: Redis when it is the
        # cache, else the database.
        stats = StatsRecorder(RedisStatsStore(cache.redis_flights.client) if cache.redis_flights is not None
                              else DatabaseStatsStore(db))
        metrics = ConnectMetrics(app.config["CONNECT_METRICS_TOKEN"], stats=stats)

        app.extensions[EXTENSION_KEY] = ConnectState(
            manifest=manifest, host=host, db=db, box=box, policy=policy,
            client=OutboundClient(policy, before_call=release_before_wait), cache=cache,
            limiter=CallLimiter(app.config["CONNECT_BUSY_WAIT_SECONDS"], on_reject=metrics.rejected,
                                threads=app.config["CONNECT_WORKER_THREADS"]),
            metrics=metrics, tokens=TokenCache(), stats=stats,
        )
        app.teardown_appcontext(close_session)
        app.register_blueprint(self.make_blueprint(manifest))
        register_commands(app)

    @staticmethod
    def make_blueprint(manifest: Manifest) -> Blueprint:
        bp = CachedStaticBlueprint(
            manifest.key, __name__, url_prefix=manifest.url_prefix,
            template_folder=str(manifest.templates), static_folder=str(manifest.static),
            static_url_path=static_url_path(manifest.static),
        )
        register_views(bp)
        return bp
