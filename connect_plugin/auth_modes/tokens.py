"""Access tokens that auth modes fetched, kept per app (in ``ConnectState``).

A token belongs to the credential that got it: the key is everything that defines
that credential (the mode's choice: token URL, client id, scope, client
authentication, a hash of the secret, and the API origin the token is sent to),
so a datasource that is deleted and re-created under a reused id, a datasource
whose credential is edited, or a second app in the same process can never
receive a token that another configuration obtained. Entries also remember the
datasource that fetched them, so an edit or a delete drops them at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

# A token is used until this many seconds before it expires (or a tenth of its
# lifetime for short-lived tokens), so a call never starts with a token about to lapse.
EXPIRY_MARGIN_SECONDS = 30
MAX_TOKENS = 10_000  # distinct credentials of one app; the oldest goes first


class TokenCache:
    def __init__(self, max_tokens: int = MAX_TOKENS) -> None:
        self._tokens: OrderedDict[tuple, tuple[str, float, int]] = OrderedDict()
        self._max = max_tokens
        self._lock = threading.Lock()

    def get(self, key: tuple) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
            if entry and entry[1] > time.monotonic():
                return entry[0]
            self._tokens.pop(key, None)
            return None

    def put(self, key: tuple, token: str, lifetime: float, *, datasource_id: int) -> None:
        margin = min(EXPIRY_MARGIN_SECONDS, lifetime / 10)
        now = time.monotonic()
        with self._lock:
            self._tokens.pop(key, None)
            self._tokens[key] = (token, now + max(lifetime - margin, 0), datasource_id)
            for stale in [k for k, (_t, until, _d) in self._tokens.items() if until <= now]:
                del self._tokens[stale]
            while len(self._tokens) > self._max:
                self._tokens.popitem(last=False)

    def drop(self, key: tuple) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def drop_datasource(self, datasource_id: int) -> None:
        """Forget every token that datasource fetched (it was edited or deleted)."""
        with self._lock:
            for key in [k for k, entry in self._tokens.items() if entry[2] == datasource_id]:
                del self._tokens[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)
