"""Name resolution for outbound calls, kept apart per datasource.

``getaddrinfo`` cannot be interrupted: lookups run on a few threads of the client's
own, and a call stops waiting at its deadline while the lookup keeps its thread
until the name server answers. So that one datasource whose DNS hangs cannot take
the lookups of every other datasource:

- concurrent lookups of one name (and port) share one resolver call, however many
  callers wait for it;
- one datasource (a call's ``source``) has at most ``per_source`` lookups queued or
  running. A lookup whose caller gave up still counts until the resolver returns,
  since it still holds a thread; a lookup beyond that is refused at once;
- a queued lookup whose callers have all left (their deadline passed) is cancelled
  and never runs.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Callable

Resolver = Callable[..., list]

LOOKUP_THREADS = 16
LOOKUPS_PER_SOURCE = 4


class LookupsBusy(Exception):
    """The datasource has its share of lookups waiting for the name server."""

    def __init__(self, pending: int):
        super().__init__(pending)
        self.pending = pending


@dataclass
class _Lookup:
    key: tuple
    source: str
    future: Future
    callers: int = 0


class Lookups:
    """The client's lookups: ``resolve`` answers what ``resolver`` (a
    ``getaddrinfo``-like callable) answers, within ``timeout`` seconds."""

    def __init__(self, resolver: Resolver, *, threads: int = LOOKUP_THREADS,
                 per_source: int = LOOKUPS_PER_SOURCE):
        self.resolver = resolver
        self.per_source = per_source
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="connect-dns")
        # Re-entrant: cancelling a future runs its done callback in the cancelling thread.
        self._lock = threading.RLock()
        self._running: dict[tuple, _Lookup] = {}
        self._per_source: dict[str, int] = {}

    def resolve(self, host: str, port: int, family: int = 0, type: int = socket.SOCK_STREAM, *,
                source: str, timeout: float) -> list:
        """The resolver's answer. Raises ``TimeoutError`` at ``timeout``,
        ``LookupsBusy`` when ``source`` has its share of lookups pending, and
        whatever the resolver raises."""
        lookup = self._join((host, port, family, type), source)
        try:
            return lookup.future.result(timeout=timeout)
        except FutureTimeout:
            raise TimeoutError(f"resolving {host} took longer than {timeout:g} s") from None
        except CancelledError:  # the client was closed
            raise socket.gaierror(socket.EAI_AGAIN, "the lookup was cancelled") from None
        finally:
            with self._lock:
                lookup.callers -= 1
                if lookup.callers == 0:
                    lookup.future.cancel()  # still queued: it never runs

    def _join(self, key: tuple, source: str) -> _Lookup:
        with self._lock:
            lookup = self._running.get(key)
            if lookup is None:
                pending = self._per_source.get(source, 0)
                if pending >= self.per_source:
                    raise LookupsBusy(pending)
                self._per_source[source] = pending + 1
                lookup = _Lookup(key, source, self._executor.submit(self.resolver, *key))
                self._running[key] = lookup
                lookup.future.add_done_callback(lambda _future: self._done(lookup))
            lookup.callers += 1
            return lookup

    def _done(self, lookup: _Lookup) -> None:
        with self._lock:
            if self._running.get(lookup.key) is lookup:
                del self._running[lookup.key]
            left = self._per_source.get(lookup.source, 1) - 1
            if left > 0:
                self._per_source[lookup.source] = left
            else:
                self._per_source.pop(lookup.source, None)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
