"""Making concurrent misses for one cache key wait for a single upstream call.

In one process a per-key lock suffices; callers that waited for a call that failed
get its failure at once instead of repeating it. With Redis as the cache, a short
Redis lock (``SET NX PX``) extends this to every worker on every node; it expires
after the datasource's timeout plus a margin, so a crashed holder cannot block
anyone for long.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

# Deletes the lock only if it still holds our token: a lock that expired and was
# taken by someone else is left alone.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _fresh(error: BaseException) -> BaseException:
    """A copy to raise in another thread (each raise grows the traceback)."""
    try:
        return copy.copy(error)
    except Exception:  # an exception type that cannot be rebuilt from its args
        return error


class _Flight:
    """What callers of one key share in this process: the lock, how many hold or
    wait for it, and the last failure (with when it happened)."""

    __slots__ = ("lock", "users", "error", "failed_at")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.error: BaseException | None = None
        self.failed_at = 0.0


class LocalFlights:
    """One lock per key in this process, dropped when nobody holds or waits on it.

    A caller that waited while the holder's call failed gets the same failure, at
    once, instead of calling again: concurrent callers share the answer, good or
    bad (failures are still never cached for later callers)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        joined = time.monotonic()
        with self._guard:
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = _Flight()
            flight.users += 1
        try:
            with flight.lock:
                if flight.error is not None and flight.failed_at >= joined:
                    raise _fresh(flight.error) from None
                try:
                    yield
                except Exception as exc:
                    flight.error, flight.failed_at = exc, time.monotonic()
                    raise
        finally:
            with self._guard:
                flight.users -= 1
                if flight.users == 0:
                    del self._flights[key]


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
