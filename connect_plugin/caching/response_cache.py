"""The cache of mapped options per item and evaluated query.

Three layers, each for a reason:
- an in-process memo of recent entries (:mod:`.memo`, bounded by bytes), so a hit
  on a 50,000-row answer costs a dictionary lookup, not unpickling or JSON parsing;
- the plugin's own Flask-Caching instance, when it is shared (Redis when several
  workers or nodes serve), with its own key prefix so host and plugin entries never
  collide; with SimpleCache, which lives in the process, the memo is the only copy;
- single flight, so concurrent misses for one key make one upstream call, across
  processes when Redis is the cache.

Keys carry the item's and datasource's versions and the datasource's cache
generation (all from the database), so an edit or a "clear cache" makes old entries
unreachable for every worker at once. Only successes are stored. If Redis is down
the plugin keeps answering with direct calls and logs one warning per interval.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from contextlib import nullcontext
from typing import Callable, ContextManager

from flask_caching import Cache
from flask_caching.backends import SimpleCache

from ..settings import DEFAULT_CACHE_MAX_BYTES, whole_number
from .answer import CachedAnswer, as_answer
from .memo import Lineage, Memo
from .single_flight import LocalFlights, RedisFlights

log = logging.getLogger("connect_plugin.cache")

KEY_PREFIX = "connect:"
WARN_INTERVAL_SECONDS = 60.0
# After a failure of the shared backend, how long it is left alone before a retry.
RETRY_SECONDS = 2.0
# Socket timeouts of the Redis clients: a Redis that is down must cost
# milliseconds, not a hanging request.
REDIS_SOCKET_TIMEOUT = 0.5
# How often a worker that waits for another process's call looks for its answer.
POLL_SECONDS = 0.05


def _redis_client_options() -> dict:
    """Short timeouts, and at most one immediate retry (a pooled connection that a
    Redis restart closed): redis-py's default of several retries with backoff would
    make every operation on a Redis that is down cost seconds."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            "retry": Retry(NoBackoff(), 1)}


def cache_key(item_id: int, item_version: int, datasource_id: int, datasource_version: int,
              generation: int, evaluated_url: str) -> str:
    digest = hashlib.sha256(evaluated_url.encode("utf-8")).hexdigest()[:32]
    return f"opt:{item_id}.{item_version}:{datasource_id}.{datasource_version}.{generation}:{digest}"


_KEY = re.compile(r"opt:(\d+)\.(\d+):(\d+)\.(\d+)\.(\d+):")


def key_lineage(key: str) -> Lineage | None:
    """The versions a :func:`cache_key` carries (None for any other key)."""
    match = _KEY.match(key)
    return Lineage(*map(int, match.groups())) if match else None



class ResponseCache:
    def __init__(self) -> None:
        self.cache = Cache()
        self.memo = Memo(DEFAULT_CACHE_MAX_BYTES)
        self.shared = True
        self.flights = LocalFlights()
        self.redis_flights: RedisFlights | None = None
        self._last_warning = float("-inf")
        self._warn_lock = threading.Lock()
        self._down_until = 0.0
        self._degraded = False

    def init_app(self, app) -> None:
        config = app.config
        cache_type = config.get("CACHE_TYPE") or "SimpleCache"
        plugin_config = {
            "CACHE_TYPE": cache_type,
            "CACHE_KEY_PREFIX": KEY_PREFIX,
            "CACHE_DEFAULT_TIMEOUT": 300,
        }
        for key in ("CACHE_THRESHOLD", "CACHE_REDIS_URL", "CACHE_REDIS_HOST", "CACHE_REDIS_PORT", "CACHE_REDIS_DB",
                    "CACHE_REDIS_PASSWORD", "CACHE_DIR"):
            if config.get(key):
                plugin_config[key] = config[key]
        redis_options = None
        if "redis" in cache_type.lower():
            redis_options = _redis_client_options()
            plugin_config["CACHE_OPTIONS"] = dict(redis_options)
        self.memo = Memo(whole_number(config, "CONNECT_CACHE_MAX_BYTES", minimum=0))
        self.cache.init_app(app, config=plugin_config)
        # SimpleCache lives in this process like the memo: a pickled second copy
        # there would double the memory and the cost of a first load for nothing.
        self.shared = not isinstance(self.cache.cache, SimpleCache)
        self.redis_flights = None
        if redis_options is not None:
            import redis

            if config.get("CACHE_REDIS_URL"):
                client = redis.Redis.from_url(config["CACHE_REDIS_URL"], **redis_options)
            else:
                client = redis.Redis(host=config.get("CACHE_REDIS_HOST") or "localhost",
                                     port=int(config.get("CACHE_REDIS_PORT") or 6379),
                                     db=int(config.get("CACHE_REDIS_DB") or 0),
                                     password=config.get("CACHE_REDIS_PASSWORD") or None, **redis_options)
            self.redis_flights = RedisFlights(client)

    # -- resilient access to the shared backend ----------------------------------
    #
    # Any failure of the shared backend degrades to direct calls, never to an error:
    # it is logged once per WARN_INTERVAL_SECONDS, and the backend is left alone for
    # RETRY_SECONDS, so an unreachable Redis costs one short timeout per interval
    # instead of one per operation. Then it is tried again, and used as soon as it
    # answers.

    def _warn(self, what: str, exc: Exception) -> None:
        with self._warn_lock:
            now = time.monotonic()
            self._down_until = now + RETRY_SECONDS
            self._degraded = True
            if now - self._last_warning < WARN_INTERVAL_SECONDS:
                return
            self._last_warning = now
        log.warning("Connect cache unavailable (%s: %s); answering with direct calls until it is back.",
                    what, type(exc).__name__)

    def _backend_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _backend_answered(self) -> None:
        if self._degraded:
            with self._warn_lock:
                if self._degraded:
                    self._degraded = False
                    log.info("Connect cache is available again.")

    def _shared_get(self, key: str) -> CachedAnswer | None:
        if not self.shared or self._backend_down():
            return None
        try:
            value = self.cache.get(key)
        except Exception as exc:  # any backend failure: degrade, never fail the request
            self._warn("read", exc)
            return None
        self._backend_answered()
        return value if isinstance(value, CachedAnswer) else None

    def _shared_set(self, key: str, answer: CachedAnswer, ttl: int) -> None:
        if not self.shared or self._backend_down():
            return
        try:
            self.cache.set(key, answer, timeout=ttl)
        except Exception as exc:
            self._warn("write", exc)

    def _lookup(self, key: str, ttl: int) -> CachedAnswer | None:
        answer = self.memo.get(key)
        if answer is not None:
            return answer
        answer = self._shared_get(key)
        if answer is not None:
            self.memo.put(key, answer, answer.fetched_at + ttl, key_lineage(key))
        return answer

    # -- the one entry point -----------------------------------------------------

    def get_or_load(self, key: str, ttl: int, load: Callable[[], CachedAnswer | list[tuple] | dict[str, str]],
                    lock_seconds: float, gate: Callable[[], ContextManager] | None = None,
                    ) -> tuple[CachedAnswer, bool]:
        """The cached answer for ``key`` (and True), or ``load()``'s fresh one (and
        False). ``load`` raising means nothing is stored.

        ``gate`` (e.g. the datasource's slot of the in-flight limiter) is entered on
        a miss, before waiting for another caller's call to the same key: a waiter
        holds a thread as much as a caller does, so it must count too, or a hanging
        API would gather every thread behind one key."""
        if ttl <= 0:
            return as_answer(load()), False
        answer = self._lookup(key, ttl)
        if answer is not None:
            return answer, True
        with gate() if gate is not None else nullcontext():
            return self._load_once(key, ttl, load, lock_seconds)

    def _load_once(self, key: str, ttl: int, load: Callable[[], CachedAnswer | list[tuple] | dict[str, str]],
                   lock_seconds: float) -> tuple[CachedAnswer, bool]:
        with self.flights.hold(key):
            answer = self._lookup(key, ttl)
            if answer is not None:
                return answer, True
            token = self._acquire_shared(key, lock_seconds)
            if token is None and self.redis_flights is not None:
                answer = self._wait_for_other_process(key, ttl, lock_seconds)
                if answer is not None:
                    return answer, True
            lineage = key_lineage(key)
            if lineage is not None:
                # Before the load, not after: the answers this key makes unreachable
                # must not share the process's memory with the one being built.
                self.memo.drop_superseded(lineage)
            try:
                answer = as_answer(load())
                self._shared_set(key, answer, ttl)
                self.memo.put(key, answer, answer.fetched_at + ttl, key_lineage(key))
                return answer, False
            finally:
                if token:
                    self._release_shared(key, token)

    def _acquire_shared(self, key: str, lock_seconds: float) -> str | None:
        if self.redis_flights is None:
            return None
        if self._backend_down():
            return ""  # falsy: proceed with a direct call, nothing to release
        try:
            return self.redis_flights.acquire(key, lock_seconds)
        except Exception as exc:
            self._warn("lock", exc)
            return ""  # falsy: proceed with a direct call, nothing to release

    def _release_shared(self, key: str, token: str) -> None:
        try:
            self.redis_flights.release(key, token)
        except Exception as exc:
            self._warn("unlock", exc)

    def _wait_for_other_process(self, key: str, ttl: int, lock_seconds: float) -> CachedAnswer | None:
        """Another process holds the lock: wait for its answer. None when it gave up
        (failure, crash) so this caller makes the call itself."""
        deadline = time.monotonic() + lock_seconds
        while time.monotonic() < deadline:
            if self._backend_down():
                return None
            answer = self._lookup(key, ttl)
            if answer is not None:
                return answer
            try:
                if not self.redis_flights.held(key):
                    return self._lookup(key, ttl)
            except Exception as exc:
                self._warn("lock", exc)
                return None
            time.sleep(POLL_SECONDS)
        return None

    def clear_local(self) -> None:
        self.memo.clear()

    def forget_datasource(self, datasource_id: int) -> None:
        """After a datasource's cache was cleared: free what this process holds of it
        (other processes free theirs at their next load of each key)."""
        self.memo.drop_datasource(datasource_id)
