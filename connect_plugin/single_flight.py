"""Making concurrent misses for one cache key wait for a single upstream call.

In one process a per-key lock suffices. With Redis as the cache, a short Redis lock
(``SET NX PX``) extends this to every worker on every node; it expires after the
datasource's timeout plus a margin, so a crashed holder cannot block anyone for long.
"""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from typing import Iterator

# Deletes the lock only if it still holds our token: a lock that expired and was
# taken by someone else is left alone.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class LocalFlights:
    """One lock per key in this process, dropped when nobody holds or waits on it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class RedisFlights:
    """A lock per key shared by every process that uses the same Redis."""

    def __init__(self, client, prefix: str = "connect:lock:"):
        self.client = client
        self.prefix = prefix
        self._release = client.register_script(_RELEASE)

    def acquire(self, key: str, ttl_seconds: float) -> str | None:
        """A token when this caller now holds the lock, None when someone else does."""
        token = uuid.uuid4().hex
        if self.client.set(self.prefix + key, token, nx=True, px=max(int(ttl_seconds * 1000), 1)):
            return token
        return None

    def held(self, key: str) -> bool:
        return bool(self.client.exists(self.prefix + key))

    def release(self, key: str, token: str) -> None:
        self._release(keys=[self.prefix + key], args=[token])
