"""Counting in this process, adding to the shared store in batches.

The counting hooks (connect_plugin/metrics.py) call :meth:`StatsRecorder.call` and
:meth:`StatsRecorder.cache`: each takes a lock and adds to a dictionary, nothing
more, so a cache hit costs no database write and no Redis round trip. A background
thread sends what was counted to the store every ``FLUSH_SECONDS``, sooner once
``FLUSH_EVENTS`` events are waiting, and at exit; a read of the stats sends this
process's own counts first, so an answer lags other workers by at most
``FLUSH_SECONDS``.

Memory stays bounded: counts of one (datasource, bucket) share one dictionary of at
most a few dozen names; when the store is unreachable the batch is kept and merged
into the next one, buckets older than the window are dropped, and beyond
``MAX_PENDING`` (datasource, bucket) pairs the oldest pairs are dropped (with one
warning).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field

from ..outbound import redact_known
from .buckets import BUCKET_SECONDS, CALLS, ERRORS, HITS, MISSES, WINDOW_HOURS, bucket_of, latency_bin

log = logging.getLogger("connect_plugin.stats")

FLUSH_SECONDS = 2.0
FLUSH_EVENTS = 2000
MAX_PENDING = 5000
MAX_MESSAGE_CHARS = 500
WARN_INTERVAL_SECONDS = 60.0


@dataclass
class Batch:
    """What one flush sends: counters per (datasource id, bucket start), and per
    datasource the time of its last success and of its last error with the message."""

    counters: dict[tuple[int, int], dict[str, int]] = field(default_factory=dict)
    last_ok: dict[int, float] = field(default_factory=dict)
    last_error: dict[int, tuple[float, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counters or self.last_ok or self.last_error)

    def merge(self, older: "Batch") -> None:
        """Fold an earlier batch (one the store refused) into this one."""
        for key, counters in older.counters.items():
            mine = self.counters.setdefault(key, {})
            for name, count in counters.items():
                mine[name] = mine.get(name, 0) + count
        for ds, at in older.last_ok.items():
            self.last_ok[ds] = max(at, self.last_ok.get(ds, 0.0))
        for ds, error in older.last_error.items():
            if ds not in self.last_error or self.last_error[ds][0] < error[0]:
                self.last_error[ds] = error


class StatsRecorder:
    def __init__(self, store):
        self.store = store
        # The benchmark's switch (benchmarks/profiles.py measures a cache hit with
        # and without recording); nothing in the product turns it off.
        self.recording = True
        self._lock = threading.Lock()
        self._batch = Batch()
        self._events = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._flush_lock = threading.Lock()
        self._last_warning = float("-inf")
        self._dropped = 0
        _at_exit.add(self)

    # -- the counting hooks (the request's path: a lock and a few dictionary updates) --

    def call(self, datasource_id: int, kind: str | None, seconds: float | None,
             message: str | None = None) -> None:
        """One call to a datasource: ``kind`` None when it succeeded, else its error
        kind; ``seconds`` its time (None for a caller turned away before calling)."""
        if not self.recording:
            return
        if kind is not None:
            message = clean_message(message or "")
        now = time.time()
        with self._lock:
            counters = self._counters(datasource_id, now)
            counters[CALLS] = counters.get(CALLS, 0) + 1
            if seconds is not None:
                name = f"h:{latency_bin(seconds * 1000.0)}"
                counters[name] = counters.get(name, 0) + 1
            if kind is None:
                self._batch.last_ok[datasource_id] = now
            else:
                counters[ERRORS] = counters.get(ERRORS, 0) + 1
                name = f"e:{kind}"
                counters[name] = counters.get(name, 0) + 1
                self._batch.last_error[datasource_id] = (now, message)
            self._counted()

    def cache(self, datasource_id: int, hit: bool) -> None:
        if not self.recording:
            return
        now = time.time()
        with self._lock:
            counters = self._counters(datasource_id, now)
            name = HITS if hit else MISSES
            counters[name] = counters.get(name, 0) + 1
            self._counted()

    def _counters(self, datasource_id: int, now: float) -> dict[str, int]:
        if self._pid != os.getpid():  # a forked worker: the parent's counts are the parent's
            self._forked()
        key = (datasource_id, bucket_of(now))
        counters = self._batch.counters.get(key)
        if counters is None:
            counters = self._batch.counters[key] = {}
            if len(self._batch.counters) > MAX_PENDING:
                self._drop_oldest()
        return counters

    def _counted(self) -> None:
        self._events += 1
        if self._thread is None:
            self._start()
        elif self._events >= FLUSH_EVENTS:
            self._wake.set()

    # -- the batches ----------------------------------------------------------------

    def _take(self) -> Batch:
        with self._lock:
            batch, self._batch, self._events = self._batch, Batch(), 0
        return batch

    def flush(self) -> None:
        """Send what this process counted to the store. A failure keeps it for the
        next flush (bounded), logs one warning per interval, and never raises."""
        with self._flush_lock:
            batch = self._take()
            if not batch:
                return
            try:
                self.store.add(batch)
            except Exception as exc:  # the store is down: keep the counts, never fail a caller
                self._keep(batch)
                self._warn(exc)

    def _keep(self, batch: Batch) -> None:
        horizon = bucket_of(time.time()) - WINDOW_HOURS * 3600
        batch.counters = {key: c for key, c in batch.counters.items() if key[1] >= horizon}
        with self._lock:
            batch.merge(self._batch)  # the newer counts win the last-error race
            self._batch = batch
            while len(self._batch.counters) > MAX_PENDING:
                self._drop_oldest()

    def _drop_oldest(self) -> None:
        oldest = min(self._batch.counters, key=lambda key: key[1])
        del self._batch.counters[oldest]
        self._dropped += 1
        if self._dropped == 1:
            log.warning("Connect stats: more than %d datasource buckets waiting for the store; "
                        "the oldest are dropped.", MAX_PENDING)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_INTERVAL_SECONDS:
            self._last_warning = now
            log.warning("Connect stats could not be stored (%s); they are kept and sent again.",
                        type(exc).__name__)

    # -- the background thread --------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="connect-stats-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def _forked(self) -> None:
        self._pid = os.getpid()
        self._batch, self._events, self._thread = Batch(), 0, None
        self._wake, self._stop = threading.Event(), threading.Event()

    def close(self) -> None:
        """Stop the thread and send what is left (at exit, and when an app is disposed)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(5)
        self._thread = None
        if self._pid == os.getpid():
            self.flush()

    # -- reading ----------------------------------------------------------------------

    def read(self, datasource_id: int, hours: int) -> tuple[dict[int, dict[str, int]], tuple[float, str] | None,
                                                             float | None]:
        """This process's counts sent first, then the store's buckets of the last
        ``hours`` hours, the last error and the time of the last success."""
        return self.read_many([datasource_id], hours)[datasource_id]

    def read_many(self, datasource_ids: list[int], hours: int):
        self.flush()
        since = bucket_of(time.time()) - (hours * 3600 - BUCKET_SECONDS)
        return {ds: self.store.read(ds, since) for ds in datasource_ids}

    def forget(self, datasource_id: int, session=None) -> None:
        """A deleted datasource's stats go with it (an SQLite id may be given again);
        with the database store, in ``session``'s transaction (the delete's)."""
        with self._lock:
            self._batch.counters = {k: c for k, c in self._batch.counters.items() if k[0] != datasource_id}
            self._batch.last_ok.pop(datasource_id, None)
            self._batch.last_error.pop(datasource_id, None)
        try:
            self.store.forget(datasource_id, session)
        except Exception as exc:
            self._warn(exc)


def clean_message(message: str) -> str:
    """The last error as stored: every known secret masked, one line, bounded."""
    text = " ".join(redact_known(message or "").split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"


class _Recorders:
    """Every live recorder of this process, flushed at exit (weakly held: an app
    that is gone takes its recorder with it)."""

    def __init__(self):
        self._recorders: "weakref.WeakSet[StatsRecorder]" = weakref.WeakSet()
        atexit.register(self.close_all)

    def add(self, recorder: StatsRecorder) -> None:
        self._recorders.add(recorder)

    def close_all(self) -> None:
        for recorder in list(self._recorders):
            try:
                recorder.close()
            except Exception:  # noqa: BLE001 - at exit, never raise
                pass


_at_exit = _Recorders()
