"""Checking a password costs the same whether the account exists or not.

Answering an unknown name at once, while a known one waits for the password hash,
would tell an attacker which names are accounts. So an unknown name is checked
against a dummy hash made with the same method and cost as real ones.
"""

from __future__ import annotations

import functools
import secrets

from werkzeug.security import check_password_hash, generate_password_hash


@functools.cache
def dummy_hash() -> str:
    """Made once per process, of a password nobody knows (werkzeug's default method,
    as ``User.set_password`` uses)."""
    return generate_password_hash(secrets.token_urlsafe(32))


def password_matches(password_hash: str | None, password: str) -> bool:
    """``password_hash`` is None for an unknown account: then the dummy is checked
    (and the answer is no)."""
    if password_hash is None:
        check_password_hash(dummy_hash(), password)
        return False
    return check_password_hash(password_hash, password)
