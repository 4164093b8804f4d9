"""A per-datasource limit on upstream calls in flight, in each worker process.

A hanging API must never occupy every worker thread: callers beyond the limit wait
briefly for a slot, then fail with ``UpstreamBusy`` (503) while other datasources
and the host's own pages keep their threads. Three rules keep the threads that one
datasource can take small, whatever the number of requests for it:

- at most ``limit`` calls in flight;
- at most half as many callers waiting for a slot (at least one); one more is
  refused at once, so one datasource holds at most 1.5 x ``limit`` threads of a
  worker and a worker with more threads keeps some for everything else;
- waiting only helps while calls succeed: when no call has succeeded for
  ``wait_seconds`` since the datasource became busy (the API hangs, or every call
  times out), callers are refused at once instead of each holding a thread for
  ``wait_seconds``. A failed or timed-out call is not progress.

A slot is re-entrant per thread: a caller that already holds one for a datasource
(e.g. while it waits for another worker's call to the same key) does not take a
second one for the call itself.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from ..errors import UpstreamBusy


class _Slots:
    """The slots of one datasource."""

    def __init__(self, limit: int):
        self.limit = limit
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
            if wait_seconds <= 0 or self.waiting >= max(self.limit // 2, 1) or now - self.progress >= wait_seconds:
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
    def __init__(self, wait_seconds: float = 2.0, on_reject: Callable[[str], None] | None = None):
        self.wait_seconds = wait_seconds
        self.on_reject = on_reject  # told the datasource's name of each caller turned away (metrics)
        self._lock = threading.Lock()
        self._slots: dict[int, _Slots] = {}
        self._held = threading.local()

    def _for(self, datasource_id: int, limit: int) -> _Slots:
        limit = max(int(limit), 1)
        with self._lock:
            slots = self._slots.get(datasource_id)
            if slots is None:
                slots = self._slots[datasource_id] = _Slots(limit)
        if slots.limit != limit:
            with slots.condition:  # a changed limit applies to the next callers
                slots.limit = limit
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
        slots = self._for(datasource_id, limit)
        if not slots.acquire(self.wait_seconds):
            if self.on_reject is not None:
                self.on_reject(source)
            raise UpstreamBusy(f"{source} is busy: {slots.limit} calls are already in flight. "
                               "Try again in a moment.")
        held[datasource_id] = 1
        succeeded = False
        try:
            yield
            succeeded = True
        finally:
            del held[datasource_id]
            slots.release(succeeded)
