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

from .errors import UpstreamBusy, UpstreamError
from .outbound import register_secret

log = logging.getLogger("connect_plugin.metrics")

OUTCOMES = ("ok", "http_error", "timeout", "refused", "tls", "too_large", "not_json", "busy", "error")
# Calls time out after timeout_seconds (default 60), so the buckets reach that far.
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

T = TypeVar("T")


def outcome_of(exc: BaseException) -> str:
    """The ``outcome`` label of a failed call: the typed error's kind, else ``error``."""
    kind = getattr(exc, "kind", "error") if isinstance(exc, UpstreamError) else "error"
    return kind if kind in OUTCOMES else "error"


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

    def __init__(self, token: str | None = None):
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
    def upstream_call(self, datasource: str) -> Iterator[None]:
        """Counts the call made inside the block, by outcome, and times it. A caller
        the limiter turned away made no call: the limiter counted it already."""
        started = time.perf_counter()
        try:
            yield
        except UpstreamBusy:
            raise
        except Exception as exc:
            self._called(datasource, outcome_of(exc), started)
            raise
        self._called(datasource, "ok", started)

    def _called(self, datasource: str, outcome: str, started: float) -> None:
        self.series.calls.labels(datasource, outcome).inc()
        self.series.duration.labels(datasource).observe(time.perf_counter() - started)

    def cache_lookup(self, datasource: str, lookup: Callable[[], tuple[T, bool]]) -> tuple[T, bool]:
        """Runs ``lookup`` (which answers ``(answer, came_from_cache)``) and counts a
        hit or a miss; a lookup that fails was a miss."""
        try:
            answer, cached = lookup()
        except Exception:
            self.series.cache_misses.labels(datasource).inc()
            raise
        (self.series.cache_hits if cached else self.series.cache_misses).labels(datasource).inc()
        return answer, cached

    def rejected(self, datasource: str) -> None:
        """The in-flight limiter's hook: a caller of ``datasource`` was turned away."""
        self.series.rejections.labels(datasource).inc()
        self.series.calls.labels(datasource, "busy").inc()

    # -- the scrape ----------------------------------------------------------------------

    def exposition(self) -> bytes:
        """Every series in the Prometheus text format; in multiprocess mode the sum
        over every worker's files."""
        if self.directory:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.directory)
            return generate_latest(registry)
        return generate_latest(self.registry)
