"""Every ``CONNECT_*`` setting the plugin reads, declared once with its default.

``init_settings`` runs first in ``init_app`` and leaves each key in ``app.config``
(the host's value, else the environment's, else the default), the way flask-wtf's
``csrf.py`` declares its keys with ``app.config.setdefault``: the rest of the plugin
then reads ``app.config[name]`` and never repeats a default. README's configuration
table lists these same names (a test keeps the two together).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

log = logging.getLogger("connect_plugin.settings")

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_CACHE_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any


SETTINGS: tuple[Setting, ...] = (
    Setting("CONNECT_SECRET_KEYS", None),  # comma-separated Fernet keys: the first encrypts, all decrypt
    Setting("CONNECT_DATABASE_URL", None),  # the plugin's own database, when it is not the host's DATABASE_URL
    Setting("CONNECT_CA_BUNDLE", None),  # extra CA certificates (PEM) that outbound calls trust
    Setting("CONNECT_ALLOWED_HOSTS", ""),  # host names, IPs or CIDRs that datasources may reach although not public
    Setting("CONNECT_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES),  # larger upstream answers are refused
    Setting("CONNECT_MAX_REDIRECTS", DEFAULT_MAX_REDIRECTS),  # redirect hops an outbound call follows at most
    Setting("CONNECT_BUSY_WAIT_SECONDS", 2.0),  # how long a call waits for a free slot of its datasource
    Setting("CONNECT_CACHE_MAX_BYTES", DEFAULT_CACHE_MAX_BYTES),  # bytes of mapped answers each process keeps
    Setting("CONNECT_WORKER_THREADS", None),  # threads per worker; unset: the size of the pool running a call
    Setting("CONNECT_BASE_TEMPLATE", "connect/standalone.html"),  # the layout the plugin's pages extend
    Setting("CONNECT_METRICS_TOKEN", None),  # a bearer token that may read /plugins/connect/metrics besides admins
)

def init_settings(config: dict[str, Any], environ: Mapping[str, str] = os.environ) -> None:
    """Fill every setting into ``config``: an empty value counts as unset, so an
    environment variable can still supply it."""
    for setting in SETTINGS:
        value = config.get(setting.name)
        if value is None or value == "":
            value = environ.get(setting.name, setting.default)
        config[setting.name] = value
    config["CONNECT_MAX_RESPONSE_BYTES"] = whole_number(config, "CONNECT_MAX_RESPONSE_BYTES", minimum=1)
    config["CONNECT_CACHE_MAX_BYTES"] = whole_number(config, "CONNECT_CACHE_MAX_BYTES", minimum=0)
    config["CONNECT_MAX_REDIRECTS"] = whole_number(config, "CONNECT_MAX_REDIRECTS", minimum=0)
    config["CONNECT_BUSY_WAIT_SECONDS"] = seconds(config, "CONNECT_BUSY_WAIT_SECONDS")
    if config["CONNECT_WORKER_THREADS"] is not None:
        config["CONNECT_WORKER_THREADS"] = whole_number(config, "CONNECT_WORKER_THREADS", minimum=1)
    _warn_retired(config, environ)


# Settings no longer read, and what took their place: start-up says so once.
RETIRED = {
    "CONNECT_MEMO_ENTRIES": "CONNECT_CACHE_MAX_BYTES (the in-process cache is bounded by bytes)",
    "CONNECT_CACHE_THRESHOLD": "CONNECT_CACHE_MAX_BYTES (the plugin keeps nothing in SimpleCache)",
}


def _warn_retired(config: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    for name, replacement in RETIRED.items():
        if config.get(name) not in (None, "") or environ.get(name):
            log.warning("%s is no longer read; see %s.", name, replacement)


def whole_number(config: Mapping[str, Any], name: str, *, minimum: int) -> int:
    """``config[name]`` as an int (``"10_000"`` allowed); a clear error otherwise,
    so a typo in the environment stops start-up instead of a later call."""
    value = config.get(name)
    if value is None or value == "":
        value = _default(name)
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, not {value!r}.")
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        if not re.fullmatch(r"\d+", text):
            raise ValueError(f"{name} must be a whole number, not {value!r}.")
        value = int(text)
    if not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}.")
    return value


def seconds(config: Mapping[str, Any], name: str) -> float:
    value = config.get(name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}.") from None
    if isinstance(value, bool) or not number >= 0 or number == float("inf"):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}.")
    return number


def _default(name: str) -> Any:
    return next(setting.default for setting in SETTINGS if setting.name == name)
