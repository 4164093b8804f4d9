"""Creating, changing, reading and deleting datasources.

Plain functions over a SQLAlchemy session, so the API, the wizard pages and the CLI
share one set of rules. Secrets go in encrypted and come out only as ``<field>_set``
flags; within one auth mode a change that leaves a secret out keeps it, a change of
mode drops the old mode's secrets, and a change that points a URL at another host
must give the secrets again (:mod:`.destinations`).

``pending_secrets=True`` (a configuration import, which never carries secrets) saves
a datasource without the required secrets it lacks: every other rule holds, and the
datasource waits for them (``secrets.missing_secrets``) instead of being refused; a
URL moved to another host then drops the secrets that may not follow it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, named_records
from ..auth_modes import AUTH_MODES
from ..auth_modes.base import UrlCheck
from ..errors import Conflict, ValidationError
from ..models import ConnectedItem, Datasource
from ..outbound import OutboundPolicy, check_datasource_url
from ..secret_box import UNREADABLE, SecretBox
from ..timestamps import iso_utc
from . import destinations, get_type, header_changes
from . import headers as datasource_headers
from .base import DatasourceType
from .secrets import (CONNECTION_LOST, carry_connection_lost, kept_secrets, missing_secrets, obtained_kept,
                      secret_status, store_secrets)

INVALID = "The datasource settings are not valid."
# What a missing secret is checked as under ``pending_secrets``; never stored.
_PENDING = "pending-secret"
READ_ONLY_AUTH = {"connected", CONNECTION_LOST}
SECRETS_AGAIN = "The change points the datasource at another host: enter its secrets again."


def get(session: Session, datasource_id: int) -> Datasource:
    return named_records.get(session, Datasource, datasource_id, "datasource")


def list_all(session: Session) -> list[Datasource]:
    return named_records.list_all(session, Datasource)


def serialize(datasource: Datasource, box: SecretBox) -> dict[str, Any]:
    flags, readable = secret_status(datasource, box)
    auth = {"mode": datasource.auth_mode, **datasource.auth_config, **flags}
    obtained = getattr(AUTH_MODES.get(datasource.auth_mode), "obtained_secrets", ())
    if obtained:  # a mode that holds tokens it obtained: whether it has them (never the tokens)
        auth["connected"] = any(secret.field in obtained for secret in datasource.secrets)
    config = dict(datasource.config)
    if "headers" in config:
        config["headers"] = datasource_headers.shown(config["headers"], (s.field for s in datasource.secrets))
    data = {
        "id": datasource.id,
        "name": datasource.name,
        "type": datasource.type,
        "config": config,
        "auth": auth,
        "version": datasource.version,
        "created_at": iso_utc(datasource.created_at),
        "updated_at": iso_utc(datasource.updated_at),
    }
    if not readable:
        data["secret_error"] = f"{datasource.name}: {UNREADABLE}."
    needed = missing_secrets(datasource)
    if needed:  # saved without them (a configuration import): it waits
        data["secrets_needed"] = needed
    return data


def clean_name(session: Session, raw: Any, current: Datasource | None) -> str:
    name, problem = named_records.check_name(session, Datasource, raw, current, "datasource")
    if problem:
        raise ValidationError(INVALID, {"name": problem})
    return name


def _split_auth(raw: Any, mode_cls) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """Split an ``auth`` object into plain values, given secrets, and secrets given
    as null or empty (to clear)."""
    if not isinstance(raw, dict):
        raise ValidationError("The authentication settings are not valid.", {"auth": "auth must be an object."})
    known = {f.name for f in mode_cls.fields} | {"mode"}
    # What answers carry but nobody sets (flags, the connection state) comes back ignored.
    unknown = [k for k in raw if k not in known and not k.endswith("_set") and k not in READ_ONLY_AUTH]
    if unknown:
        raise ValidationError("The authentication settings are not valid.",
                              {f"auth.{k}": f"{mode_cls.label} has no setting {k!r}." for k in unknown})
    secret_names = set(mode_cls.secret_fields())
    plain = {k: v for k, v in raw.items() if k in known and k not in secret_names and k != "mode"}
    given = {k: v for k, v in raw.items() if k in secret_names and v not in (None, "")}
    cleared = {k for k, v in raw.items() if k in secret_names and v in (None, "")}
    return plain, given, cleared


def url_rules(policy: OutboundPolicy) -> UrlCheck:
    """The save-time check of every URL a datasource will call (``https://``, no
    private address literal unless allowed), with the field it is reported on."""
    return lambda url, field: check_datasource_url(url, field, policy)


def _validate_auth(mode, plain_raw: dict[str, Any], given: dict[str, str], policy: OutboundPolicy, *,
                   pending: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The mode's own checks. With ``pending`` a required secret that is not given is
    checked as if it were, and left out of the result: the datasource waits for it."""
    waiting = {f.name: _PENDING for f in mode.fields
               if pending and f.secret and f.required and given.get(f.name) in (None, "")}
    plain, secrets = mode.validate(plain_raw, {**given, **waiting}, url_check=url_rules(policy))
    return plain, {k: v for k, v in secrets.items() if k not in waiting}


def create(session: Session, payload: Any, *, box: SecretBox, policy: OutboundPolicy, actor: str,
           pending_secrets: bool = False) -> Datasource:
    if not isinstance(payload, dict):
        raise ValidationError("The request body must be a JSON object.")
    errors: dict[str, str] = {}
    name = type_cls = config = None
    try:
        name = clean_name(session, payload.get("name"), None)
    except ValidationError as exc:
        errors.update(exc.fields)
    headers_raw, raw_config = header_changes.split(payload.get("config") or {})
    try:
        type_cls = get_type(payload.get("type", "rest"))
        config = type_cls.validate_config(raw_config, url_check=url_rules(policy))
    except ValidationError as exc:
        errors.update(exc.fields)
    auth_raw = payload.get("auth") or {"mode": "none"}
    plain = secrets = None
    mode_name = auth_raw.get("mode", "none") if isinstance(auth_raw, dict) else None
    if type_cls is not None:
        try:
            mode = type_cls.auth_mode(mode_name)
            plain_raw, given, _cleared = _split_auth(auth_raw, type(mode))
            plain, secrets = _validate_auth(mode, plain_raw, given, policy, pending=pending_secrets)
        except ValidationError as exc:
            errors.update(exc.fields)
    entries, header_secrets = _collect(
        errors, lambda: header_changes.checked(type_cls, mode_name, plain, headers_raw, {}, pending_secrets),
        ([], {}), when=True)
    if errors:
        raise ValidationError(INVALID, errors)
    config = header_changes.with_headers(config, entries)
    datasource = Datasource(name=name, type=type_cls.type, config=config, auth_mode=mode_name, auth_config=plain)
    store_secrets(datasource, {**secrets, **header_secrets}, box)
    session.add(datasource)
    session.flush()
    audit.record(session, actor, "created", datasource,
                 ["name", "type", *(f"config.{k}" for k in config), "auth.mode",
                  *(f"auth.{k}" for k in plain), *(f"auth.{k}" for k in secrets)])
    return datasource


def update(session: Session, datasource: Datasource, payload: Any, *, box: SecretBox, policy: OutboundPolicy,
           actor: str, pending_secrets: bool = False) -> Datasource:
    """Apply a partial change (PATCH semantics); nothing is written unless every
    part of it is valid, and an unchanged datasource keeps its version."""
    if not isinstance(payload, dict):
        raise ValidationError("The request body must be a JSON object.")
    errors: dict[str, str] = {}
    type_cls = get_type(datasource.type)
    if "type" in payload and payload["type"] != datasource.type:
        errors["type"] = "The type of a datasource cannot change; create a new datasource instead."
    name = _collect(errors, lambda: clean_name(session, payload["name"], datasource), datasource.name,
                    when="name" in payload)
    config = _collect(errors, lambda: _patched_config(type_cls, datasource, payload["config"], policy),
                      datasource.config, when="config" in payload)
    mode_name, plain, secrets, kept = _collect(
        errors, lambda: _patched_auth(type_cls, datasource, payload["auth"], box, policy, pending_secrets),
        (datasource.auth_mode, datasource.auth_config, None, {s.field for s in datasource.secrets}),
        when="auth" in payload)
    headers_raw = header_changes.patched(datasource, payload)
    stored_headers = header_changes.stored_secrets(datasource, box)
    entries, header_secrets = _collect(
        errors,
        lambda: header_changes.checked(type_cls, mode_name, plain, headers_raw, stored_headers, pending_secrets),
        (datasource.config.get("headers", []), None), when=True)
    again = _secrets_to_give_again(type_cls, datasource, config, mode_name, plain, kept)
    again.update(header_changes.to_give_again(type_cls, datasource, config, headers_raw, stored_headers))
    if again and pending_secrets and not errors:
        # Nobody can give them again here: the secrets stay behind, the datasource waits.
        if secrets is None:
            secrets = kept_secrets(datasource, box, skip=set())
        secrets = {k: v for k, v in secrets.items() if f"auth.{k}" not in again}
        if header_secrets is not None:
            header_secrets = datasource_headers.left_behind(header_secrets, headers_raw, again)
        again = {}
    if errors or again:
        raise ValidationError(INVALID if errors else SECRETS_AGAIN, {**errors, **again})

    if secrets is not None:  # tokens obtained by Connect survive an edit that changes none of their inputs
        moves = type_cls.api_origin(config) != type_cls.api_origin(datasource.config)
        secrets = {**obtained_kept(datasource, box, mode_name, plain, secrets, moves), **secrets}
    config = header_changes.with_headers(config, entries)
    plain = carry_connection_lost(datasource, mode_name, plain,
                                  set(secrets) if secrets is not None else {s.field for s in datasource.secrets})
    changed = _changes(datasource, name, config, mode_name, plain, secrets, box)
    if header_secrets != stored_headers:
        changed += [] if "config.headers" in changed else ["config.headers"]
    if not changed:
        return datasource
    datasource.name, datasource.config, datasource.auth_mode, datasource.auth_config = name, config, mode_name, plain
    if secrets is not None:
        store_secrets(datasource, secrets, box, keep=datasource_headers.is_header_secret)
    if header_secrets != stored_headers:
        store_secrets(datasource, header_secrets, box, keep=lambda field: not datasource_headers.is_header_secret(field))
    datasource.version += 1
    session.flush()
    audit.record(session, actor, "updated", datasource, changed)
    return datasource


def _collect(errors: dict[str, str], compute: Callable[[], Any], unchanged: Any, *, when: bool) -> Any:
    """``compute()`` when the payload has the part, else ``unchanged``; a
    ValidationError adds its fields to ``errors`` so every part is reported at once."""
    if not when:
        return unchanged
    try:
        return compute()
    except ValidationError as exc:
        if not exc.fields:
            raise
        errors.update(exc.fields)
        return unchanged


def _patched_config(type_cls: type[DatasourceType], datasource: Datasource, patch: Any,
                    policy: OutboundPolicy) -> dict[str, Any]:
    """The merged configuration, checked; its ``headers`` are checked apart (they
    depend on the auth mode)."""
    if not isinstance(patch, dict):
        raise ValidationError(INVALID, {"config": "config must be an object."})
    _headers, merged = header_changes.split({**datasource.config, **patch})
    return type_cls.validate_config(merged, url_check=url_rules(policy))


def _patched_auth(type_cls: type[DatasourceType], datasource: Datasource, auth_raw: Any, box: SecretBox,
                  policy: OutboundPolicy,
                  pending: bool = False) -> tuple[str, dict[str, Any], dict[str, str], set[str]]:
    """Within one mode, settings and secrets left out are kept; a new mode starts
    from what the payload gives (the old mode's secrets are dropped). The last part
    names the stored secrets kept."""
    mode_name = auth_raw.get("mode", datasource.auth_mode) if isinstance(auth_raw, dict) else None
    mode = type_cls.auth_mode(mode_name)
    plain_raw, given, cleared = _split_auth(auth_raw, type(mode))
    kept: dict[str, str] = {}
    if mode_name == datasource.auth_mode:
        plain_raw = {**datasource.auth_config, **plain_raw}
        kept = kept_secrets(datasource, box, skip=set(given) | cleared)
        given = {**kept, **given}
    plain, secrets = _validate_auth(mode, plain_raw, given, policy, pending=pending)
    return mode_name, plain, secrets, set(kept)


def _secrets_to_give_again(type_cls: type[DatasourceType], datasource: Datasource, config: dict[str, Any],
                           mode_name: str, plain: dict[str, Any], kept: Iterable[str]) -> dict[str, str]:
    """``auth.<secret>`` errors for each stored secret the change would carry to a
    host it was not entered for; none when no stored secret is kept (a datasource
    without secrets, a new mode, secrets given again) or no URL leaves its hosts."""
    kept = set(kept)
    if not kept or mode_name != datasource.auth_mode:
        return {}
    mode_fields = type(type_cls.auth_mode(mode_name)).fields
    moved = destinations.moved_urls(type_cls.config_fields, datasource.config, config,
                                    mode_fields, datasource.auth_config, plain)
    return destinations.reenter_errors([f for f in mode_fields if f.secret and f.name in kept], moved)


def _changes(datasource: Datasource, name: str, config: dict[str, Any], mode_name: str, plain: dict[str, Any],
             secrets: dict[str, str] | None, box: SecretBox) -> list[str]:
    """The names of the parts that change, for the audit log (never values)."""
    changed: list[str] = ["name"] if name != datasource.name else []
    changed += [f"config.{k}" for k in set(config) | set(datasource.config)
                if config.get(k) != datasource.config.get(k)]
    if mode_name != datasource.auth_mode:
        changed.append("auth.mode")
    changed += [f"auth.{k}" for k in set(plain) | set(datasource.auth_config)
                if plain.get(k) != datasource.auth_config.get(k)]
    if secrets is not None:
        old = kept_secrets(datasource, box, skip=set(), strict=False)
        changed += [f"auth.{k}" for k in set(secrets) | set(old) if secrets.get(k) != old.get(k)]
    return changed


def delete(session: Session, datasource: Datasource, *, actor: str) -> None:
    users = list(session.scalars(select(ConnectedItem).where(ConnectedItem.datasource_id == datasource.id)
                                 .order_by(ConnectedItem.name)))
    if users:
        names = ", ".join(item.name for item in users)
        raise Conflict(f"{datasource.name} is used by connected items: {names}. Delete them or move them to "
                       "another datasource first.")
    audit.record(session, actor, "deleted", datasource)
    session.delete(datasource)
    session.flush()


def clear_cache(session: Session, datasource: Datasource | None, *, actor: str | None = None) -> int:
    """Make every cached answer of one datasource (or all) unreachable for every
    worker and node: the generation is part of each cache key and lives in the
    database they share. Returns how many datasources were cleared."""
    targets = [datasource] if datasource is not None else list_all(session)
    for target in targets:
        target.cache_generation += 1
        if actor:
            audit.record(session, actor, "cache_cleared", target)
    session.flush()
    return len(targets)
