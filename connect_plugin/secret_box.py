"""Encryption of stored secrets with MultiFernet.

The first key of ``CONNECT_SECRET_KEYS`` encrypts; every key decrypts, so an
operator rotates by putting a new key first, running ``connect-host secrets
rotate``, then removing the old key. Keys are read in ``init_app``, never at import.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import SecretUnreadable

UNREADABLE = "stored secret cannot be read: re-enter it"


class SecretKeyError(ValueError):
    """CONNECT_SECRET_KEYS holds something that is not a Fernet key."""


def parse_keys(value: str | list[str]) -> list[bytes]:
    parts = value if isinstance(value, list) else value.split(",")
    keys = [p.strip().encode() for p in parts if p and p.strip()]
    if not keys:
        raise SecretKeyError("CONNECT_SECRET_KEYS is empty: give at least one Fernet key.")
    for index, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"CONNECT_SECRET_KEYS: key number {index} is not a Fernet key "
                "(32 url-safe base64-encoded bytes, as Fernet.generate_key() makes)."
            ) from None
    return keys


def load_or_create_keyfile(instance_path: str | Path, name: str = "connect-secret-keys") -> str:
    """Read the generated keys from the instance folder, creating them once (0600)."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


class SecretBox:
    def __init__(self, keys: list[bytes]):
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise SecretUnreadable(UNREADABLE) from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the first key; raises SecretUnreadable for a token no key opens."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError):
            raise SecretUnreadable(UNREADABLE) from None
