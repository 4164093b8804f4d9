"""One thread that fires every outbound call's deadline.

A ``threading.Timer`` per call started an OS thread per call: on a 50-page answer
that was 50 thread starts and stops, about a fifth of the plugin's own cost per
page (bench scenario 10). Here the deadlines wait in one heap, watched by one
daemon thread per process; a call that finishes in time only marks its entry
cancelled (no wake-up, no lock held long).

Cancelled entries are dropped lazily when they reach the top, and the heap is
rebuilt without them once they are the majority, so a burst of quick calls with
long time limits cannot make it grow without bound.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from typing import Callable

logger = logging.getLogger("connect_plugin.outbound")

# Rebuild the heap once this many cancelled entries wait in it and they are the majority.
COMPACT_AFTER = 1024
# How late a deadline may fire rather than wake the thread for it: the pages of one
# answer share one deadline, so each page's entry is due (within rounding) when the
# thread already means to wake, and waking it for each would cost a thread switch
# per call in a busy worker.
LATE_OK = 0.05


class Deadline:
    """One scheduled action; ``cancel`` before it fires and it never runs."""

    __slots__ = ("when", "seq", "action", "cancelled")

    def __init__(self, when: float, seq: int, action: Callable[[], None]):
        self.when = when
        self.seq = seq
        self.action = action
        self.cancelled = False

    def __lt__(self, other: "Deadline") -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class Watchdog:
    """Runs each action at its time (``time.monotonic``), in its own thread."""

    def __init__(self, name: str = "connect-outbound-deadline"):
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[Deadline] = []
        self._cancelled = 0
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._sleeping_until = float("inf")

    def schedule(self, seconds: float, action: Callable[[], None]) -> Deadline:
        entry = Deadline(time.monotonic() + seconds, next(self._seq), action)
        with self._cond:
            self._ensure_thread()
            heapq.heappush(self._heap, entry)
            if entry.when < self._sleeping_until - LATE_OK:
                self._cond.notify()  # the thread sleeps until a later time: wake it for this one
        return entry

    def cancel(self, entry: Deadline) -> None:
        with self._cond:
            if entry.cancelled:
                return
            entry.cancelled = True
            entry.action = _nothing  # let go of the call at once
            self._cancelled += 1
            if self._cancelled >= COMPACT_AFTER and self._cancelled * 2 > len(self._heap):
                self._heap = [e for e in self._heap if not e.cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def pending(self) -> int:
        """Entries waiting to fire (for tests)."""
        with self._cond:
            return sum(1 for entry in self._heap if not entry.cancelled)

    def held(self) -> int:
        """Entries the heap holds, cancelled ones included (for tests)."""
        with self._cond:
            return len(self._heap)

    def _ensure_thread(self) -> None:
        # A forked worker (gunicorn) inherits the heap but not the thread.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                entry = self._next_due()
            try:
                entry.action()
            except Exception:  # noqa: BLE001 - one failed action must not stop the others
                logger.exception("an outbound deadline action failed")

    def _next_due(self) -> Deadline:
        """Wait (holding the condition) until the earliest live entry is due; pop it."""
        while True:
            horizon = None
            while self._heap and self._heap[0].cancelled:
                horizon = heapq.heappop(self._heap).when
                self._cancelled -= 1
            if not self._heap:
                now = time.monotonic()
                if horizon is not None and horizon > now:
                    # A call just ended in time; the next page of its answer will come with the
                    # same deadline: sleep toward it, so scheduling that page wakes nobody.
                    self._sleeping_until = horizon
                    self._cond.wait(horizon - now)
                else:
                    self._sleeping_until = float("inf")
                    self._cond.wait()
                continue
            wait = self._heap[0].when - time.monotonic()
            if wait > 0:
                self._sleeping_until = self._heap[0].when
                self._cond.wait(wait)
                continue
            entry = heapq.heappop(self._heap)
            entry.cancelled = True  # fired: a late cancel is a no-op
            return entry


def _nothing() -> None:
    return None


# One per process: every call of every client shares it.
WATCHDOG = Watchdog()
