"""Prometheus metrics: calls to datasources, their time, the cache, the limiter.

``GET /plugins/connect/metrics`` (views/metrics_scrape.py) answers these series in the
Prometheus text format:

- ``connect_upstream_calls_total{datasource,outcome}``: calls that load options, by
  outcome (``OUTCOMES``; a typed error's ``kind``, connect_plugin/errors.py);
- ``connect_upstream_duration_seconds{datasource}``: their time (a histogram), the
  call and reading its answer, for every outcome but ``busy``;
- ``connect_cache_hits_total{datasource}``, ``connect_cache_misses_total{datasource}``:
  options answered from the cache, or not;
- ``connect_limiter_rejections_total{datasource}``: callers the in-flight limiter
  turned away (caching/call_limiter.py); each is also a call with outcome ``busy``.

``datasource`` is the datasource's name: admins create them, so the label's values
are few, and a name is neither a URL nor a secret.

Why a registry per app: prometheus_client refuses two series of one name in one
registry, and one process may build several apps (the test suite does); each app
counts its own calls in its own registry.

Under gunicorn each worker is a process of its own and a scrape reaches one of
them. With ``PROMETHEUS_MULTIPROC_DIR`` set before the process starts
(prometheus_client reads it on import), every worker writes its values to files in
that folder and a scrape adds up the files of every worker, past and present
(prometheus_client's multiprocess mode). The series are then one set per process,
shared by the apps in it: two sets of one name would overwrite each other's files.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess, values

from .errors import ERROR_KINDS, UpstreamBusy, error_kind
from .outbound import register_secret

log = logging.getLogger("connect_plugin.metrics")

OUTCOMES = ("ok",) + ERROR_KINDS
# Calls time out after timeout_seconds (default 60), so the buckets reach that far.
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

T = TypeVar("T")


def outcome_of(exc: BaseException) -> str:
    """The ``outcome`` label of a failed call: the typed error's kind, else ``error``."""
    return error_kind(exc)


@dataclass(frozen=True)
class Series:
    calls: Counter
    duration: Histogram
    cache_hits: Counter
    cache_misses: Counter
    rejections: Counter


def _series(registry: CollectorRegistry | None) -> Series:
    by_source = ["datasource"]
    return Series(
        calls=Counter("connect_upstream_calls", "Calls to datasources that load options, by outcome.",
                      ["datasource", "outcome"], registry=registry),
        duration=Histogram("connect_upstream_duration_seconds",
                           "Time of a call to a datasource and of reading its answer.", by_source,
                           buckets=DURATION_BUCKETS, registry=registry),
        cache_hits=Counter("connect_cache_hits", "Options answered from the cache.", by_source,
                           registry=registry),
        cache_misses=Counter("connect_cache_misses", "Options looked up in the cache and not found there.",
                             by_source, registry=registry),
        rejections=Counter("connect_limiter_rejections",
                           "Callers turned away because the datasource had its limit of calls in flight.",
                           by_source, registry=registry),
    )


@functools.lru_cache(maxsize=1)
def _process_series() -> Series:
    """The one set of series of this process, in multiprocess mode."""
    return _series(None)


def multiprocess_dir() -> str | None:
    """The multiprocess folder, when prometheus_client counts in files. The variable
    alone is not enough: set after prometheus_client was imported, it is not used."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return None
    if not getattr(values.ValueClass, "_multiprocess", False):
        log.warning("%s is set but prometheus_client was imported before it was: each worker's metrics "
                    "answer for that worker alone. Set it in the environment the server starts with.",
                    MULTIPROC_ENV)
        return None
    return path


class ConnectMetrics:
    """The series of one app, the counting hooks, and the answer to a scrape."""

    def __init__(self, token: str | None = None, stats=None):
        # The per-datasource stats (connect_plugin/stats/recorder.py), keyed by id,
        # counted by the same hooks.
        self.stats = stats
        self.directory = multiprocess_dir()
        if self.directory:
            os.makedirs(self.directory, exist_ok=True)
            self.registry = None
            self.series = _process_series()
        else:
            self.registry = CollectorRegistry()
            self.series = _series(self.registry)
        self._token = token.encode("utf-8") if token else None
        if token:
            register_secret(token)  # never in a log line or an answer

    # -- who may read ----------------------------------------------------------------

    def token_matches(self, authorization: str | None) -> bool:
        """Whether an ``Authorization: Bearer …`` header carries the configured token
        (compared in constant time; never true when no token is configured)."""
        if self._token is None or not authorization:
            return False
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return False
        return hmac.compare_digest(given.strip().encode("utf-8"), self._token)

    # -- counting hooks ----------------------------------------------------------------

    @contextmanager
    def upstream_call(self, datasource: str, datasource_id: int | None = None) -> Iterator[None]:
        """Counts the call made inside the block, by outcome, and times it. A caller
        the limiter turned away made no call: the limiter counted it already.
        ``datasource`` is the name (the metrics' label), ``datasource_id`` the key
        of the stats."""
        started = time.perf_counter()
        try:
            yield
        except UpstreamBusy:
            raise
        except Exception as exc:
            self._called(datasource, datasource_id, exc, started)
            raise
        self._called(datasource, datasource_id, None, started)

    def _called(self, datasource: str, datasource_id: int | None, exc: BaseException | None,
                started: float) -> None:
        seconds = time.perf_counter() - started
        outcome = "ok" if exc is None else outcome_of(exc)
        self.series.calls.labels(datasource, outcome).inc()
        self.series.duration.labels(datasource).observe(seconds)
        if self.stats is not None and datasource_id is not None:
            self.stats.call(datasource_id, None if exc is None else outcome, seconds,
                            None if exc is None else getattr(exc, "message", None) or type(exc).__name__)

    def cache_lookup(self, datasource: str, lookup: Callable[[], tuple[T, bool]],
                     datasource_id: int | None = None) -> tuple[T, bool]:
        """Runs ``lookup`` (which answers ``(answer, came_from_cache)``) and counts a
        hit or a miss; a lookup that fails was a miss."""
        try:
            answer, cached = lookup()
        except Exception:
            self._looked_up(datasource, datasource_id, False)
            raise
        self._looked_up(datasource, datasource_id, cached)
        return answer, cached

    def _looked_up(self, datasource: str, datasource_id: int | None, hit: bool) -> None:
        (self.series.cache_hits if hit else self.series.cache_misses).labels(datasource).inc()
        if self.stats is not None and datasource_id is not None:
            self.stats.cache(datasource_id, hit)

    def rejected(self, datasource: str, datasource_id: int | None = None) -> None:
        """The in-flight limiter's hook: a caller of ``datasource`` was turned away.
        It counts as a failed call of kind ``busy``, without a time."""
        self.series.rejections.labels(datasource).inc()
        self.series.calls.labels(datasource, "busy").inc()
        if self.stats is not None and datasource_id is not None:
            self.stats.call(datasource_id, "busy", None, f"{datasource} is busy: its limit of calls was in flight.")

    # -- the scrape ----------------------------------------------------------------------

    def exposition(self) -> bytes:
        """Every series in the Prometheus text format; in multiprocess mode the sum
        over every worker's files."""
        if self.directory:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.directory)
            return generate_latest(registry)
        return generate_latest(self.registry)
