"""One spelling per account.

``" admin"``, ``"admin "``, ``"\\u00a0admin"`` and ``"ADMIN"`` name the same account.
Looking an account up and counting its failed logins must agree on that, or each
spelling would get a fresh throttle counter while reaching the same password. So a
name is normalised once, here, and both use the result: the ``username_key``
column (unique) and the throttle's key.
"""

from __future__ import annotations

import unicodedata


def username_key(name: str) -> str:
    """NFKC, case-folded, stripped of surrounding white space (Unicode's caseless
    matching for identifiers: NFKC again after folding, which can denormalise)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return folded.strip()
