"""The plugin's state for one app, and the request's database session.

Views, the CLI and the API for hosts reach the plugin through :func:`state` and
:func:`session`; this module imports none of them, so nothing imports the
extension back.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, has_app_context
from sqlalchemy.orm import Session

from .auth_modes.tokens import TokenCache
from .caching.call_limiter import CallLimiter
from .caching.response_cache import ResponseCache
from .db import Database, end_read
from .host_adapter import HostAdapter
from .manifest import Manifest
from .metrics import ConnectMetrics
from .outbound import OutboundClient, OutboundPolicy, redact_known
from .secret_box import SecretBox
from .stats.recorder import StatsRecorder

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
    tokens: TokenCache  # access tokens auth modes fetched, per credential
    stats: StatsRecorder  # per-datasource stats (connect_plugin/stats/)

    def redact_url(self, url: str) -> str:
        return redact_known(url)


def state() -> ConnectState:
    return current_app.extensions[EXTENSION_KEY]


def session() -> Session:
    """One database session per request, closed when the request ends."""
    if "connect_session" not in g:
        g.connect_session = state().db.session()
    return g.connect_session


def close_session(_exc=None) -> None:
    db_session = g.pop("connect_session", None)
    if db_session is not None:
        db_session.close()


def release_before_wait() -> None:
    """Give back the database connections the current request holds and does not
    need, because it is about to wait for an upstream API (its own call, or another
    caller's call to the same key): the plugin's session (``end_read``) and the
    host's (``HostAdapter.release_connections``, for a host that has one).

    Called at the moment of waiting, not after each read: a cache hit waits for
    nothing, so it pays for no commit and reuses its connection for every read."""
    if not has_app_context():
        return  # a thread of its own (a lookup, a flush): it holds no request's session
    plugin_session = g.get("connect_session")
    if plugin_session is not None:
        end_read(plugin_session)
    plugin = current_app.extensions.get(EXTENSION_KEY)
    release = getattr(plugin.host, "release_connections", None) if plugin is not None else None
    if release is not None:
        release()
