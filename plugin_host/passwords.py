"""Password hashes, and checking a password costs the same whether the account
exists or not.

Answering an unknown name at once, while a known one waits for the password hash,
would tell an attacker which names are accounts. So an unknown name is checked
against a dummy hash made with the same method and cost as real ones.

``PASSWORD_HASH_METHOD`` picks werkzeug's method for new hashes (default scrypt);
a stored hash is always checked with the method written in it, so changing the
setting never locks anyone out. The test suite sets a cheap one, as Django advises
for its tests: scrypt costs about 0.1 s per Basic-authenticated request by design.
"""

from __future__ import annotations

import functools
import re
import secrets

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

DEFAULT_METHOD = "scrypt"  # werkzeug 3's default
_METHOD = re.compile(r"scrypt(:\d+:\d+:\d+)?|pbkdf2(:sha(1|224|256|384|512)(:\d+)?)?")


def check_method(method: str) -> str:
    """The setting's value, or ValueError naming it (werkzeug would fail only at the
    first hash, inside a request)."""
    if not _METHOD.fullmatch(method):
        raise ValueError(f"PASSWORD_HASH_METHOD {method!r} is not one of werkzeug's methods: "
                         "scrypt[:n:r:p] or pbkdf2[:sha256[:iterations]].")
    return method


def hash_method() -> str:
    if has_app_context():
        return current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_METHOD
    return DEFAULT_METHOD


def new_hash(password: str) -> str:
    return generate_password_hash(password, method=hash_method())


@functools.cache
def dummy_hash(method: str) -> str:
    """Made once per process and method, of a password nobody knows."""
    return generate_password_hash(secrets.token_urlsafe(32), method=method)


def password_matches(password_hash: str | None, password: str) -> bool:
    """``password_hash`` is None for an unknown account: then the dummy is checked
    (and the answer is no)."""
    if password_hash is None:
        check_password_hash(dummy_hash(hash_method()), password)
        return False
    return check_password_hash(password_hash, password)
