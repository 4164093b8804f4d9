"""A datasource's secrets: stored encrypted, opened only for a call, never shown.

Every value opened or stored here is registered with the redactor first, so no
message, log line or excerpt can carry it afterwards.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..auth_modes import AUTH_MODES
from ..errors import SecretsMissing, SecretUnreadable, ValidationError
from ..models import Datasource, DatasourceSecret
from ..outbound import register_secret
from ..db import Database
from ..secret_box import UNREADABLE, SecretBox
from .headers import is_header_secret
from .headers import missing as missing_headers

# Why a mode's obtained tokens were dropped (kept in auth_config; shown, never secret).
CONNECTION_LOST = "connection_lost"
# Who the audit names when the provider took the tokens back.
LOST_ACTOR = "Connect (the provider refused the tokens)"


def missing_secrets(datasource: Datasource) -> list[str]:
    """The required secret fields of the datasource's auth mode that are not stored:
    a datasource imported from a configuration file waits for them."""
    mode = AUTH_MODES.get(datasource.auth_mode)
    stored = {s.field for s in datasource.secrets}
    return ([f.name for f in (mode.fields if mode else ()) if f.secret and f.required and f.name not in stored]
            + missing_headers(datasource.config, stored))


def decrypt_secrets(datasource: Datasource, box: SecretBox) -> dict[str, str]:
    """All secrets of the datasource in clear, registered for redaction. Raises
    SecretUnreadable (naming the datasource) when a key cannot open one, and
    SecretsMissing when a required one was never entered."""
    missing = missing_secrets(datasource)
    if missing:
        raise SecretsMissing(f"{datasource.name} waits for its {', '.join(missing)}: an admin enters "
                             f"{'it' if len(missing) == 1 else 'them'} on the datasource page.")
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


def store_secrets(datasource: Datasource, secrets: dict[str, str], box: SecretBox, *,
                  keep: Callable[[str], bool] = lambda field: False) -> None:
    """Replace the stored secrets with ``secrets``, except the rows whose field
    ``keep`` names, which stay as they are (an auth change keeps the secret
    headers' rows, a header change the auth mode's)."""
    kept = [s for s in datasource.secrets if keep(s.field) and s.field not in secrets]
    datasource.secrets = kept + [DatasourceSecret(field=name, ciphertext=box.encrypt(value))
                                 for name, value in sorted(secrets.items())]
    for value in secrets.values():
        register_secret(value)


def kept_secrets(datasource: Datasource, box: SecretBox, *, skip: set[str], strict: bool = True) -> dict[str, str]:
    """Stored secrets of the auth mode to keep (secret headers are kept by
    :mod:`.headers`). A stored secret that cannot be read is reported on its field
    ("re-enter it") instead of being silently dropped."""
    kept, errors = {}, {}
    for secret in datasource.secrets:
        if secret.field in skip or is_header_secret(secret.field):
            continue
        try:
            kept[secret.field] = box.decrypt(secret.ciphertext)
        except SecretUnreadable:
            errors[f"auth.{secret.field}"] = f"The {UNREADABLE}."
    if errors and strict:
        raise ValidationError("A stored secret cannot be read with the configured keys.", errors)
    return kept


class ObtainedSecrets:
    """Where a mode keeps the tokens it obtained for one datasource (OAuth2's
    refresh and access tokens): encrypted rows beside the typed secrets, written in
    a database session of their own, so a refresh made while serving a request is
    kept whatever that request does afterwards. ``lose`` drops them and says why
    (the datasource page then shows "Connect again")."""

    def __init__(self, db: Database, box: SecretBox, datasource_id: int):
        self._db, self._box, self._id = db, box, datasource_id

    def keep(self, values: dict[str, str]) -> None:
        with self._db.session() as db:
            datasource = db.get(Datasource, self._id)
            if datasource is not None:
                store_obtained(datasource, values, self._box)
                db.commit()

    def stored(self, names: tuple[str, ...]) -> dict[str, str]:
        """The obtained tokens as stored now (one that no key opens is left out)."""
        found: dict[str, str] = {}
        with self._db.session() as db:
            datasource = db.get(Datasource, self._id)
            for secret in datasource.secrets if datasource is not None else ():
                if secret.field in names:
                    try:
                        found[secret.field] = self._box.decrypt(secret.ciphertext)
                    except SecretUnreadable:
                        continue
                    register_secret(found[secret.field])  # perhaps obtained by another worker
        return found

    def lose(self, names: tuple[str, ...], reason: str) -> None:
        """Audited like an admin's Disconnect, by ``Connect`` itself: an admin who finds
        the datasource disconnected can see when it happened (the reason is on the
        datasource page)."""
        with self._db.session() as db:
            datasource = db.get(Datasource, self._id)
            if datasource is not None:
                drop_obtained(datasource, names, reason)
                db.flush()
                audit.record(db, LOST_ACTOR, "disconnected", datasource, [f"auth.{CONNECTION_LOST}"])
                db.commit()


def store_obtained(datasource: Datasource, values: dict[str, str], box: SecretBox) -> None:
    """Add or replace obtained tokens (the datasource is connected again)."""
    stored = {secret.field: secret for secret in datasource.secrets}
    for name, value in values.items():
        register_secret(value)
        if name in stored:
            stored[name].ciphertext = box.encrypt(value)
        else:
            datasource.secrets.append(DatasourceSecret(field=name, ciphertext=box.encrypt(value)))
    if CONNECTION_LOST in datasource.auth_config:
        datasource.auth_config = {k: v for k, v in datasource.auth_config.items() if k != CONNECTION_LOST}


def drop_obtained(datasource: Datasource, names: tuple[str, ...], reason: str | None = None) -> None:
    """Drop obtained tokens; ``reason`` says why when the provider took them back."""
    datasource.secrets = [secret for secret in datasource.secrets if secret.field not in names]
    config = {k: v for k, v in datasource.auth_config.items() if k != CONNECTION_LOST}
    datasource.auth_config = {**config, CONNECTION_LOST: reason} if reason else config


def obtained_kept(datasource: Datasource, box: SecretBox, mode_name: str, plain: dict, secrets: dict[str, str],
                  api_origin_moves: bool) -> dict[str, str]:
    """The obtained tokens an edit keeps: all of them when the mode, its settings,
    its typed secrets and the API's origin stay as they were; none otherwise (the
    datasource must be connected again)."""
    mode = AUTH_MODES.get(mode_name)
    if mode is None or not mode.obtained_secrets or mode_name != datasource.auth_mode or api_origin_moves:
        return {}
    old_plain = {k: v for k, v in datasource.auth_config.items() if k != CONNECTION_LOST}
    stored = kept_secrets(datasource, box, skip=set(), strict=False)
    typed = {k: v for k, v in stored.items() if k not in mode.obtained_secrets}
    if old_plain != plain or typed != secrets:
        return {}
    return {k: v for k, v in stored.items() if k in mode.obtained_secrets}


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


def carry_connection_lost(datasource: Datasource, mode_name: str, plain: dict, obtained_after: set[str]) -> dict:
    """The auth settings an edit stores, with the reason the provider took the tokens
    back kept while the mode is the same and no new tokens came: a Save of the
    datasource page (which sends the settings without that reason) must not hide
    "Connect again"."""
    reason = datasource.auth_config.get(CONNECTION_LOST)
    mode = AUTH_MODES.get(mode_name)
    if (not reason or CONNECTION_LOST in plain or mode_name != datasource.auth_mode or mode is None
            or obtained_after & set(mode.obtained_secrets)):
        return plain
    return {**plain, CONNECTION_LOST: reason}
