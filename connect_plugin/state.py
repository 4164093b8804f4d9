"""The plugin's state for one app, and the request's database session.

Views, the CLI and the API for hosts reach the plugin through :func:`state` and
:func:`session`; this module imports none of them, so nothing imports the
extension back.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy.orm import Session

from .auth_modes.tokens import TokenCache
from .caching.call_limiter import CallLimiter
from .caching.response_cache import ResponseCache
from .db import Database
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
