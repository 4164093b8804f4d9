"""What a create or a change (PATCH) of a datasource does with its custom headers
(:mod:`.headers` holds the rules of one header list).

The headers live in ``config.headers`` but are checked apart from the rest of the
configuration, because they depend on the auth mode (the header the credentials set
cannot be listed too). A PATCH that gives ``config.headers`` replaces the list;
otherwise the stored list stays and is checked again. A secret header named without a
value keeps its stored value, unless a URL of the datasource moves to another host:
then, like every stored secret, it must be given again (:mod:`.destinations`).
"""

from __future__ import annotations

from typing import Any

from ..errors import SecretUnreadable
from ..models import Datasource
from ..secret_box import SecretBox
from . import destinations, headers
from .base import DatasourceType


def split(raw_config: Any) -> tuple[Any, Any]:
    """``(config["headers"], the rest of config)``."""
    if not isinstance(raw_config, dict):
        return None, raw_config
    rest = dict(raw_config)
    return rest.pop("headers", None), rest


def with_headers(config: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    config = {k: v for k, v in config.items() if k != "headers"}
    return {**config, "headers": entries} if entries else config


def patched(datasource: Datasource, payload: dict[str, Any]) -> Any:
    """The header list after the change: a PATCH that gives ``config.headers``
    replaces the list, otherwise the stored one stays (and is checked again)."""
    patch = payload.get("config")
    if isinstance(patch, dict) and "headers" in patch:
        return patch["headers"]
    return [dict(entry) for entry in datasource.config.get("headers", [])]


def checked(type_cls: type[DatasourceType] | None, mode_name: Any, plain: dict[str, Any] | None,
            raw: Any, stored: dict[str, str | None],
            pending: bool = False) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The header list checked against the HTTP layer's and the auth mode's headers
    (``pending``: a secret header without a value waits for it, as on an import)."""
    auth_headers: tuple[str, ...] = ()
    if type_cls is not None and plain is not None and mode_name in type_cls.auth_mode_names:
        auth_headers = type_cls.auth_mode(mode_name).header_names(plain)
    return headers.validate(raw, stored=stored, auth_headers=auth_headers, pending=pending)


def stored_secrets(datasource: Datasource, box: SecretBox) -> dict[str, str | None]:
    """The secret headers' stored values (None for one no key can open)."""
    stored: dict[str, str | None] = {}
    for secret in datasource.secrets:
        if headers.is_header_secret(secret.field):
            try:
                stored[secret.field] = box.decrypt(secret.ciphertext)
            except SecretUnreadable:
                stored[secret.field] = None
    return stored


def to_give_again(type_cls: type[DatasourceType], datasource: Datasource,
                  config: dict[str, Any], raw: Any, stored: dict[str, str | None]) -> dict[str, str]:
    """``config.headers[i].value`` errors for each kept secret header that a URL of
    the configuration would carry to a new host (the destinations rule)."""
    moved = destinations.moved_urls(type_cls.config_fields, datasource.config, config, (), {}, {})
    if not moved:
        return {}
    reason = destinations.move_reason(moved)
    return {f"{headers.FIELD}[{i}].value": f"Enter the value of {raw[i]['name']} again: {reason}."
            for i in headers.kept_without_value(raw)
            if isinstance(raw[i].get("name"), str) and headers.secret_field(raw[i]["name"].strip()) in stored}
