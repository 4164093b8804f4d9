"""A per-datasource limit on upstream calls in flight.

A hanging API must never occupy every worker thread: callers beyond the limit wait
briefly for a slot, then fail with ``UpstreamBusy`` (503) while other datasources
and the host's own pages keep their threads.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from .errors import UpstreamBusy


class InflightLimiter:
    def __init__(self, wait_seconds: float = 2.0):
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._slots: dict[int, tuple[int, threading.BoundedSemaphore]] = {}

    def _semaphore(self, datasource_id: int, limit: int) -> threading.BoundedSemaphore:
        with self._lock:
            entry = self._slots.get(datasource_id)
            if entry is None or entry[0] != limit:
                # A changed limit gets a fresh semaphore; calls holding the old one
                # release it harmlessly.
                entry = (limit, threading.BoundedSemaphore(limit))
                self._slots[datasource_id] = entry
            return entry[1]

    @contextmanager
    def slot(self, datasource_id: int, limit: int, source: str) -> Iterator[None]:
        semaphore = self._semaphore(datasource_id, limit)
        if not semaphore.acquire(timeout=self.wait_seconds):
            raise UpstreamBusy(f"{source} is busy: {limit} calls are already in flight. Try again in a moment.")
        try:
            yield
        finally:
            semaphore.release()
