"""Creating, changing, reading and deleting datasources.

Plain functions over a SQLAlchemy session, so the API, the wizard pages and the CLI
share one set of rules. Secrets go in encrypted and come out only as ``<field>_set``
flags; within one auth mode a change that leaves a secret out keeps it, a change of
mode drops the old mode's secrets.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..auth_modes import AUTH_MODES
from . import get_type
from ..errors import Conflict, NotFound, SecretUnreadable, ValidationError
from ..models import ConnectedItem, Datasource, DatasourceSecret, valid_id
from ..outbound import register_secret
from ..secret_box import UNREADABLE, SecretBox

UrlCheck = Callable[[str, str], None]


def get(session: Session, datasource_id: int) -> Datasource:
    datasource = session.get(Datasource, datasource_id) if valid_id(datasource_id) else None
    if datasource is None:
        raise NotFound(f"There is no datasource with id {datasource_id}.")
    return datasource


def list_all(session: Session) -> list[Datasource]:
    return list(session.scalars(select(Datasource).order_by(func.lower(Datasource.name))))


def decrypt_secrets(datasource: Datasource, box: SecretBox) -> dict[str, str]:
    """All secrets of the datasource in clear, registered for redaction. Raises
    SecretUnreadable (naming the datasource) when a key cannot open one."""
    values = {}
    for secret in datasource.secrets:
        try:
            values[secret.field] = box.decrypt(secret.ciphertext)
        except SecretUnreadable:
            raise SecretUnreadable(f"{datasource.name}: {UNREADABLE}.") from None
        register_secret(values[secret.field])
    return values


def secret_status(datasource: Datasource, box: SecretBox) -> tuple[dict[str, bool], bool]:
    """Which secret fields are set, and whether every stored one can be read."""
    mode = AUTH_MODES.get(datasource.auth_mode)
    stored = {s.field: s for s in datasource.secrets}
    flags = {f"{name}_set": name in stored for name in (mode.secret_fields() if mode else ())}
    readable = True
    for secret in stored.values():
        try:
            box.decrypt(secret.ciphertext)
        except SecretUnreadable:
            readable = False
    return flags, readable


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset; SQLite hands stored times back without one."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def serialize(datasource: Datasource, box: SecretBox) -> dict[str, Any]:
    flags, readable = secret_status(datasource, box)
    auth = {"mode": datasource.auth_mode, **datasource.auth_config, **flags}
    data = {
        "id": datasource.id,
        "name": datasource.name,
        "type": datasource.type,
        "config": dict(datasource.config),
        "auth": auth,
        "version": datasource.version,
        "created_at": iso_utc(datasource.created_at),
        "updated_at": iso_utc(datasource.updated_at),
    }
    if not readable:
        data["secret_error"] = f"{datasource.name}: {UNREADABLE}."
    return data


def clean_name(session: Session, raw: Any, current: Datasource | None) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("The datasource settings are not valid.", {"name": "Name is required."})
    name = raw.strip()
    if len(name) > 200:
        raise ValidationError("The datasource settings are not valid.", {"name": "Name must be 200 characters or fewer."})
    clash = session.scalar(select(Datasource).where(func.lower(Datasource.name) == name.lower()))
    if clash is not None and clash is not current:
        raise ValidationError("The datasource settings are not valid.",
                              {"name": f"A datasource named {clash.name!r} already exists."})
    return name


def _split_auth(raw: Any, mode_cls) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """Split an ``auth`` object into plain values, given secrets, and secrets given
    as null or empty (to clear)."""
    if not isinstance(raw, dict):
        raise ValidationError("The authentication settings are not valid.", {"auth": "auth must be an object."})
    known = {f.name for f in mode_cls.fields} | {"mode"}
    unknown = [k for k in raw if k not in known and not k.endswith("_set")]
    if unknown:
        raise ValidationError("The authentication settings are not valid.",
                              {f"auth.{k}": f"{mode_cls.label} has no setting {k!r}." for k in unknown})
    secret_names = set(mode_cls.secret_fields())
    plain = {k: v for k, v in raw.items() if k in known and k not in secret_names and k != "mode"}
    given = {k: v for k, v in raw.items() if k in secret_names and v not in (None, "")}
    cleared = {k for k, v in raw.items() if k in secret_names and v in (None, "")}
    return plain, given, cleared


def _store_secrets(datasource: Datasource, secrets: dict[str, str], box: SecretBox) -> None:
    datasource.secrets = [DatasourceSecret(field=name, ciphertext=box.encrypt(value))
                          for name, value in sorted(secrets.items())]
    for value in secrets.values():
        register_secret(value)


def create(session: Session, payload: Any, *, box: SecretBox, url_check: UrlCheck, actor: str) -> Datasource:
    if not isinstance(payload, dict):
        raise ValidationError("The request body must be a JSON object.")
    errors: dict[str, str] = {}
    name = type_cls = config = None
    try:
        name = clean_name(session, payload.get("name"), None)
    except ValidationError as exc:
        errors.update(exc.fields)
    try:
        type_cls = get_type(payload.get("type", "rest"))
        config = type_cls.validate_config(payload.get("config") or {}, url_check=url_check)
    except ValidationError as exc:
        errors.update(exc.fields)
    auth_raw = payload.get("auth") or {"mode": "none"}
    plain = secrets = None
    mode_name = auth_raw.get("mode", "none") if isinstance(auth_raw, dict) else None
    if type_cls is not None:
        try:
            mode = type_cls.auth_mode(mode_name)
            plain_raw, given, _cleared = _split_auth(auth_raw, type(mode))
            plain, secrets = mode.validate(plain_raw, given)
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError("The datasource settings are not valid.", errors)
    datasource = Datasource(name=name, type=type_cls.type, config=config, auth_mode=mode_name, auth_config=plain)
    _store_secrets(datasource, secrets, box)
    session.add(datasource)
    session.flush()
    audit.record(session, actor, "created", datasource,
                 ["name", "type", *(f"config.{k}" for k in config), "auth.mode",
                  *(f"auth.{k}" for k in plain), *(f"auth.{k}" for k in secrets)])
    return datasource


def update(session: Session, datasource: Datasource, payload: Any, *, box: SecretBox, url_check: UrlCheck,
           actor: str) -> Datasource:
    if not isinstance(payload, dict):
        raise ValidationError("The request body must be a JSON object.")
    errors: dict[str, str] = {}
    changed: list[str] = []
    type_cls = get_type(datasource.type)
    if "type" in payload and payload["type"] != datasource.type:
        errors["type"] = "The type of a datasource cannot change; create a new datasource instead."
    name = datasource.name
    if "name" in payload:
        try:
            name = clean_name(session, payload["name"], datasource)
        except ValidationError as exc:
            errors.update(exc.fields)
    config = datasource.config
    if "config" in payload:
        patch = payload["config"]
        if not isinstance(patch, dict):
            errors["config"] = "config must be an object."
        else:
            try:
                config = type_cls.validate_config({**datasource.config, **patch}, url_check=url_check)
            except ValidationError as exc:
                errors.update(exc.fields)
    plain, secrets = datasource.auth_config, None
    mode_name = datasource.auth_mode
    if "auth" in payload:
        auth_raw = payload["auth"]
        mode_name = auth_raw.get("mode", datasource.auth_mode) if isinstance(auth_raw, dict) else None
        try:
            mode = type_cls.auth_mode(mode_name)
            plain_raw, given, cleared = _split_auth(auth_raw, type(mode))
            if mode_name == datasource.auth_mode:
                plain_raw = {**datasource.auth_config, **plain_raw}
                kept = _kept_secrets(datasource, box, skip=set(given) | cleared)
                merged = {**kept, **given}
            else:
                merged = given
            plain, secrets = mode.validate(plain_raw, merged)
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError("The datasource settings are not valid.", errors)

    if name != datasource.name:
        changed.append("name")
    changed += [f"config.{k}" for k in set(config) | set(datasource.config)
                if config.get(k) != datasource.config.get(k)]
    if mode_name != datasource.auth_mode:
        changed.append("auth.mode")
    changed += [f"auth.{k}" for k in set(plain) | set(datasource.auth_config)
                if plain.get(k) != datasource.auth_config.get(k)]
    if secrets is not None:
        old = _kept_secrets(datasource, box, skip=set(), strict=False)
        changed += [f"auth.{k}" for k in set(secrets) | set(old) if secrets.get(k) != old.get(k)]
    if not changed:
        return datasource
    datasource.name, datasource.config, datasource.auth_mode, datasource.auth_config = name, config, mode_name, plain
    if secrets is not None:
        _store_secrets(datasource, secrets, box)
    datasource.version += 1
    session.flush()
    audit.record(session, actor, "updated", datasource, changed)
    return datasource


def _kept_secrets(datasource: Datasource, box: SecretBox, *, skip: set[str], strict: bool = True) -> dict[str, str]:
    """Stored secrets to keep. A stored secret that cannot be read is reported on its
    field ("re-enter it") instead of being silently dropped."""
    kept, errors = {}, {}
    for secret in datasource.secrets:
        if secret.field in skip:
            continue
        try:
            kept[secret.field] = box.decrypt(secret.ciphertext)
        except SecretUnreadable:
            errors[f"auth.{secret.field}"] = f"The {UNREADABLE}."
    if errors and strict:
        raise ValidationError("A stored secret cannot be read with the configured keys.", errors)
    return kept


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


def rotate_secrets(session: Session, box: SecretBox) -> tuple[int, list[str]]:
    """Re-encrypt every stored secret with the first key. Returns the number
    re-encrypted and the datasources whose secrets no key can open."""
    done, failed = 0, []
    for secret in session.scalars(select(DatasourceSecret)):
        try:
            secret.ciphertext = box.rotate(secret.ciphertext)
            done += 1
        except SecretUnreadable:
            failed.append(f"{secret.datasource.name} ({secret.field})")
    session.flush()
    return done, failed
