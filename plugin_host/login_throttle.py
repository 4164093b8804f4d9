"""Failed logins, counted per account name and per client address.

Passwords must not be guessable at speed, on the login form or with HTTP Basic
credentials. After ``limit`` failures for one name (or ``address_limit`` from one
address) within ``window`` seconds, further attempts are refused, the right password
too, until the oldest of those failures is older than the window; ``retry_after``
says how long that is, for the ``Retry-After`` header.

Two stores, one interface:

- :class:`LocalThrottle` (one process): a bounded LRU of keys, each holding at most
  its limit of timestamps, so a flood of invented names cannot grow it without end.
- :class:`RedisThrottle` (Redis is the cache): sorted sets that expire with the window,
  shared by every worker and node, so running more workers does not multiply the
  attempts allowed. If Redis does not answer it counts in the process meanwhile
  rather than letting every attempt through.

Callers pass the normalised name (:func:`plugin_host.usernames.username_key`); the
stores keep only a hash of it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict, deque

log = logging.getLogger(__name__)

FAILURE_WINDOW_SECONDS = 15 * 60
MAX_FAILURES = 5
# Many people can share one address (an office behind NAT, a proxy): the per-address
# limit only stops a single source from trying many names.
MAX_FAILURES_PER_ADDRESS = 50
# Keys one process remembers at most: about 10 MB when every key is full.
MAX_KEYS = 10_000


def _keys(name_key: str, address: str) -> tuple[str, str]:
    digest = hashlib.sha256(name_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"u:{digest}", f"a:{address}"


class LocalThrottle:
    """The failures of this process, in a bounded LRU (least recently failed key out)."""

    def __init__(self, window: float = FAILURE_WINDOW_SECONDS, limit: int = MAX_FAILURES,
                 address_limit: int = MAX_FAILURES_PER_ADDRESS, max_keys: int = MAX_KEYS, clock=time.monotonic):
        self.window, self.limit, self.address_limit, self.max_keys = window, limit, address_limit, max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    def _wait(self, key: str, limit: int, now: float) -> float:
        entries = self._failures.get(key)
        if entries is None:
            return 0.0
        while entries and entries[0] <= now - self.window:
            entries.popleft()
        if not entries:
            del self._failures[key]
            return 0.0
        # A deque holds at most ``limit`` entries: when full, its oldest must expire first.
        return entries[0] + self.window - now if len(entries) >= limit else 0.0

    def retry_after(self, name_key: str, address: str) -> int:
        """Seconds until an attempt is allowed again; 0 when it is allowed now."""
        user, addr = _keys(name_key, address)
        with self._lock:
            now = self._clock()
            wait = max(self._wait(user, self.limit, now), self._wait(addr, self.address_limit, now))
        return math.ceil(wait)

    def failed(self, name_key: str, address: str) -> None:
        user, addr = _keys(name_key, address)
        with self._lock:
            now = self._clock()
            for key, limit in ((user, self.limit), (addr, self.address_limit)):
                entries = self._failures.get(key)
                if entries is None:
                    entries = self._failures[key] = deque(maxlen=limit)
                entries.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(_keys(name_key, "")[0], None)


# Both scripts take the time from the Redis server, so that nodes whose clocks
# differ still agree on the window. KEYS: the name's and the address's keys;
# ARGV: window in ms, the name limit, the address limit[, a unique member suffix].
_FAILED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, now .. ':' .. ARGV[4])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[i + 1]) + 1))
  redis.call('PEXPIRE', key, window)
end
return 1
"""
_RETRY_AFTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, -limit, -limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
return wait
"""


class RedisThrottle:
    """The same counts in Redis, for every worker and node that shares it."""

    PREFIX = "connect-host:login-failures:"
    WARN_EVERY_SECONDS = 60

    def __init__(self, client, window: float = FAILURE_WINDOW_SECONDS, limit: int = MAX_FAILURES,
                 address_limit: int = MAX_FAILURES_PER_ADDRESS):
        self.window, self.limit, self.address_limit = window, limit, address_limit
        self.client = client
        self.fallback = LocalThrottle(window, limit, address_limit)
        self._failed = client.register_script(_FAILED)
        self._retry_after = client.register_script(_RETRY_AFTER)
        self._warned_at = -math.inf

    def _redis_keys(self, name_key: str, address: str) -> list[str]:
        return [self.PREFIX + key for key in _keys(name_key, address)]

    def _args(self) -> list:
        return [int(self.window * 1000), self.limit, self.address_limit]

    def _down(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= self.WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning("Redis does not answer (%s): login failures are counted in this process meanwhile",
                        type(exc).__name__)

    def retry_after(self, name_key: str, address: str) -> int:
        import redis

        try:
            wait_ms = int(self._retry_after(keys=self._redis_keys(name_key, address), args=self._args()))
        except redis.RedisError as exc:
            self._down(exc)
            return self.fallback.retry_after(name_key, address)
        return max(math.ceil(wait_ms / 1000), self.fallback.retry_after(name_key, address))

    def failed(self, name_key: str, address: str) -> None:
        import redis

        try:
            self._failed(keys=self._redis_keys(name_key, address), args=[*self._args(), secrets.token_hex(6)])
        except redis.RedisError as exc:
            self._down(exc)
            self.fallback.failed(name_key, address)

    def succeeded(self, name_key: str) -> None:
        import redis

        self.fallback.succeeded(name_key)
        try:
            self.client.delete(self._redis_keys(name_key, "")[0])
        except redis.RedisError as exc:
            self._down(exc)


def redis_client(config):
    """A client for the Redis that Flask-Caching uses (``CACHE_REDIS_URL``, else the
    ``CACHE_REDIS_HOST``/``PORT``/``DB``/``PASSWORD`` keys), with short timeouts and
    no retries: a login must not hang on a Redis that is down."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5, "retry": Retry(NoBackoff(), 0)}
    if config.get("CACHE_REDIS_URL"):
        return redis.Redis.from_url(config["CACHE_REDIS_URL"], **options)
    return redis.Redis(host=config.get("CACHE_REDIS_HOST") or "localhost",
                       port=int(config.get("CACHE_REDIS_PORT") or 6379), db=int(config.get("CACHE_REDIS_DB") or 0),
                       password=config.get("CACHE_REDIS_PASSWORD") or None, **options)


def make_throttle(config) -> LocalThrottle | RedisThrottle:
    """Shared through Redis when Redis is the cache (as the plugin decides it: a
    ``CACHE_TYPE`` naming Redis), else in the process."""
    if "redis" in str(config.get("CACHE_TYPE") or "").lower():
        return RedisThrottle(redis_client(config))
    return LocalThrottle()
