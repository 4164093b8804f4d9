"""Limits on upstream calls in flight, in each worker process.

A hanging API must never occupy every worker thread: callers beyond the limit wait
briefly for a slot, then fail with ``UpstreamBusy`` (503) while other datasources
and the host's own pages keep their threads. The rules keep the threads that
outbound calls take small, whatever the number of requests and of threads:

- at most ``limit`` calls of a datasource in flight: its own setting, and never
  more than half of the worker's threads ``T`` (``T // 2``), since a hanging API
  keeps each of them for its whole timeout;
- at most half as many callers waiting for a slot (one at least, unless so few
  threads are left that waiting would take the others' last one, below); one more
  is refused at once. A waiter holds its
  thread for ``wait_seconds`` at most;
- the callers of every datasource together, in flight and waiting, hold at most
  ``T - max(T // 4, 1)`` threads (6 of 8, 12 of 16), and one datasource's callers
  leave at least one of those to the others: several hanging APIs still leave
  threads for the host's pages and the cached answers, one leaves some for the
  calls of the others. A caller beyond the share is refused at once;
- waiting only helps while calls succeed: when no call has succeeded for
  ``wait_seconds`` since the datasource became busy (the API hangs, or every call
  times out), callers are refused at once instead of each holding a thread for
  ``wait_seconds``. A failed or timed-out call is not progress.

``T`` is ``CONNECT_WORKER_THREADS`` when set (the shipped gunicorn hooks set it from
gunicorn's ``--threads``), else the size of the thread pool running the call
(gunicorn's gthread worker runs requests in a ``ThreadPoolExecutor``). A server that
starts a thread per request (werkzeug's) has no such bound: its datasources keep
their own limits.

A slot is re-entrant per thread: a caller that already holds one for a datasource
(e.g. while it waits for another worker's call to the same key) does not take a
second one for the call itself.
"""

from __future__ import annotations

import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from ..errors import UpstreamBusy


def serving_threads() -> int | None:
    """The number of threads of the pool running this call, when a
    ``ThreadPoolExecutor`` runs it (as gunicorn's gthread worker does), else ``None``.

    The executor is reached through the weak reference it hands each of its
    threads as their first argument; a thread that is not an executor's, or an
    executor that is gone, counts as unbounded."""
    args = getattr(threading.current_thread(), "_args", None)
    if not args or not isinstance(args[0], weakref.ref):
        return None
    executor = args[0]()
    if not isinstance(executor, ThreadPoolExecutor):
        return None
    threads = getattr(executor, "_max_workers", None)
    return threads if isinstance(threads, int) and threads > 0 else None


def outbound_share(threads: int | None) -> int | None:
    """The threads that the callers of every datasource together may hold, or ``None``."""
    return None if threads is None else max(threads - max(threads // 4, 1), 1)


@dataclass(frozen=True)
class Bounds:
    """What one datasource may hold in a worker: calls in flight, callers waiting."""

    limit: int
    waiters: int

    @classmethod
    def of(cls, limit: int, threads: int | None) -> "Bounds":
        """The datasource's ``limit``, at most half of ``threads``, and its waiters,
        who leave at least one thread of the outbound share to the other datasources."""
        limit = max(int(limit), 1)
        if threads is None:
            return cls(limit, max(limit // 2, 1))
        limit = min(limit, max(threads // 2, 1))
        return cls(limit, max(min(limit // 2, outbound_share(threads) - limit - 1), 0))


class _Slots:
    """The slots of one datasource."""

    def __init__(self, bounds: Bounds):
        self.limit = bounds.limit
        self.waiters = bounds.waiters
        self.in_flight = 0
        self.waiting = 0
        # When a call last succeeded, or the datasource went from idle to busy.
        self.progress = time.monotonic()
        self.condition = threading.Condition()

    def acquire(self, wait_seconds: float) -> bool:
        with self.condition:
            if self.in_flight < self.limit:
                self._take()
                return True
            now = time.monotonic()
            if wait_seconds <= 0 or self.waiting >= self.waiters or now - self.progress >= wait_seconds:
                return False  # crowded, or stalled: waiting would only hold a thread
            deadline = now + wait_seconds
            self.waiting += 1
            try:
                while self.in_flight >= self.limit:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self.condition.wait(left)
                self._take()
                return True
            finally:
                self.waiting -= 1

    def _take(self) -> None:
        if self.in_flight == 0:
            self.progress = time.monotonic()
        self.in_flight += 1

    def release(self, succeeded: bool) -> None:
        with self.condition:
            self.in_flight -= 1
            if succeeded:
                self.progress = time.monotonic()
            self.condition.notify()


class CallLimiter:
    def __init__(self, wait_seconds: float = 2.0, on_reject: Callable[[str, int], None] | None = None,
                 threads: int | None = None):
        self.wait_seconds = wait_seconds
        self.on_reject = on_reject  # told the datasource's name and id of each caller turned away (metrics)
        self.threads = threads  # CONNECT_WORKER_THREADS; None: the pool running each call
        self._lock = threading.Lock()
        self._slots: dict[int, _Slots] = {}
        self._holding = 0  # threads in slot(), in flight or waiting, every datasource together
        self._held = threading.local()

    def _for(self, datasource_id: int, bounds: Bounds) -> _Slots:
        with self._lock:
            slots = self._slots.get(datasource_id)
            if slots is None:
                slots = self._slots[datasource_id] = _Slots(bounds)
        if (slots.limit, slots.waiters) != (bounds.limit, bounds.waiters):
            with slots.condition:  # a changed limit applies to the next callers
                slots.limit, slots.waiters = bounds.limit, bounds.waiters
                slots.condition.notify_all()
        return slots

    def _held_ids(self) -> dict[int, int]:
        held = getattr(self._held, "ids", None)
        if held is None:
            held = self._held.ids = {}
        return held

    def in_flight(self, datasource_id: int) -> int:
        slots = self._slots.get(datasource_id)
        return slots.in_flight if slots is not None else 0

    def holding(self) -> int:
        """Threads of this process that hold or wait for a slot, every datasource together."""
        return self._holding

    def _enter(self, share: int | None) -> bool:
        """Count this thread, unless the callers of every datasource hold their share."""
        with self._lock:
            if share is not None and self._holding >= share:
                return False
            self._holding += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self._holding -= 1

    def _refuse(self, source: str, datasource_id: int, message: str) -> UpstreamBusy:
        if self.on_reject is not None:
            self.on_reject(source, datasource_id)
        return UpstreamBusy(f"{source} is busy: {message}. Try again in a moment.")

    @contextmanager
    def slot(self, datasource_id: int, limit: int, source: str) -> Iterator[None]:
        held = self._held_ids()
        if held.get(datasource_id):  # this thread already holds one
            held[datasource_id] += 1
            try:
                yield
            finally:
                held[datasource_id] -= 1
            return
        threads = self.threads or serving_threads()
        counted = not held  # a thread that holds a slot of another datasource is counted already
        if counted and not self._enter(outbound_share(threads)):
            raise self._refuse(source, datasource_id,
                               "the calls to all APIs hold every thread this server lets them take")
        try:
            slots = self._for(datasource_id, Bounds.of(limit, threads))
            if not slots.acquire(self.wait_seconds):
                raise self._refuse(source, datasource_id, f"{slots.limit} calls are already in flight")
            held[datasource_id] = 1
            succeeded = False
            try:
                yield
                succeeded = True
            finally:
                del held[datasource_id]
                slots.release(succeeded)
        finally:
            if counted:
                self._leave()
