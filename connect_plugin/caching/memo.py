"""The in-process memo of mapped answers, bounded by an estimate of its bytes.

A hit is one dictionary lookup under a lock: the size of an entry is estimated
once, when it is stored. Counting entries would not bound anything (one 50,000-row
answer weighs as much as thousands of small ones), so the memo counts bytes:
``CONNECT_CACHE_MAX_BYTES`` per process. An answer larger than the whole bound is
served but not kept.

Each entry carries its lineage (the item's id and version, the datasource's id,
version and cache generation). Storing an entry drops at once the entries that
lineage has made unreachable: the same item under an older version, and any item
of the same datasource under an older version or cache generation. A miss does the same
before its load, so the old answers are gone before the new one is built: an edit or
a "clear cache" frees them at once, not when newer ones push them out.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from typing import NamedTuple, Protocol

# Options sampled to estimate an answer's size (evenly spaced): enough for a stable
# estimate, few enough that storing a 50,000-row answer costs well under a millisecond.
SIZE_SAMPLE = 256
_POINTER = 8  # a list slot


class Lineage(NamedTuple):
    item_id: int
    item_version: int
    datasource_id: int
    datasource_version: int
    generation: int

    def supersedes(self, other: "Lineage") -> bool:
        """True when ``other``'s entries can no longer be asked for once this one is."""
        if other.item_id == self.item_id and other.item_version < self.item_version:
            return True
        return (other.datasource_id == self.datasource_id
                and (other.datasource_version, other.generation) != (self.datasource_version, self.generation)
                and other.datasource_version <= self.datasource_version and other.generation <= self.generation)


class Answer(Protocol):
    """What the memo stores (``answer.CachedAnswer``)."""

    def __len__(self) -> int: ...

    def sample(self, count: int) -> list[tuple]: ...

    def container_bytes(self) -> int: ...


def estimate_bytes(answer: Answer) -> int:
    """The bytes an answer holds in this process, case-folded labels included (they
    are built on the first search): what holds its options, and each option's strings
    and details, from an evenly spaced sample of the options."""
    count = len(answer)
    total = sys.getsizeof(answer) + answer.container_bytes() + sys.getsizeof([]) + _POINTER * count
    if not count:
        return total
    sample = answer.sample(SIZE_SAMPLE)
    sampled = sum(map(_option_bytes, sample))
    return total + sampled * count // len(sample)


def _option_bytes(option: tuple) -> int:
    # The label, its folded copy, and the copy joined into the LabelIndex with its offset.
    size = sys.getsizeof(option[0]) + 2 * sys.getsizeof(option[1]) + len(option[1]) + 9
    if len(option) > 2 and isinstance(option[2], dict):
        details = option[2]
        size += sys.getsizeof(details) + sum(sys.getsizeof(text) for text in details.values())
    return size


class _Meta(NamedTuple):
    size: int
    lineage: Lineage | None


class Memo:
    """An LRU of answers with their expiry, at most ``max_bytes`` (estimated) in all."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        self._meta: dict[str, _Meta] = {}
        self._by_item: dict[int, set[str]] = {}
        self._by_datasource: dict[int, set[str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> Answer | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[0] <= time.time():
                self._remove(key)
                return None  # the expired answer is freed here, outside the lock
            self._data.move_to_end(key)
            return entry[1]

    def put(self, key: str, answer: Answer, expires_at: float, lineage: Lineage | None = None) -> None:
        size = estimate_bytes(answer)  # outside the lock: other threads keep hitting
        freed = []
        with self._lock:
            freed.append(self._remove(key))
            if lineage is not None:
                freed += self._drop_superseded(lineage)
            if size > self.max_bytes:
                return  # served, not kept: it alone would exceed the bound
            self._data[key] = (expires_at, answer)
            self._meta[key] = _Meta(size, lineage)
            self.bytes += size
            if lineage is not None:
                self._by_item.setdefault(lineage.item_id, set()).add(key)
                self._by_datasource.setdefault(lineage.datasource_id, set()).add(key)
            if self.bytes > self.max_bytes:
                freed += self._remove_expired()
            while self.bytes > self.max_bytes:
                freed.append(self._remove(next(iter(self._data))))
        del freed  # the answers are freed here, outside the lock (see _remove)

    def drop_superseded(self, lineage: Lineage) -> None:
        """Drop the entries that ``lineage`` makes unreachable (see :meth:`Lineage.supersedes`)."""
        with self._lock:
            freed = self._drop_superseded(lineage)
        del freed

    def drop_datasource(self, datasource_id: int) -> None:
        """Free this process's entries of one datasource now (its "clear cache"). The
        new generation already makes them unreachable, but they would be freed only
        at the next load of each key, by the user waiting for it (25,000 options
        take a few milliseconds to free)."""
        with self._lock:
            freed = [self._remove(key) for key in list(self._by_datasource.get(datasource_id, ()))]
        del freed

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._meta.clear()
            self._by_item.clear()
            self._by_datasource.clear()
            self.bytes = 0

    # -- under the lock ---------------------------------------------------------
    #
    # Removing returns the answers it removed, for the caller to drop after the lock is
    # released: freeing 25,000 options takes milliseconds, and every hit of the
    # process would wait for it on the lock.

    def _drop_superseded(self, lineage: Lineage) -> list[Answer | None]:
        keys = self._by_item.get(lineage.item_id, set()) | self._by_datasource.get(lineage.datasource_id, set())
        return [self._remove(key) for key in keys if lineage.supersedes(self._meta[key].lineage)]

    def _remove_expired(self) -> list[Answer | None]:
        now = time.time()
        return [self._remove(key) for key in [key for key, (expires_at, _answer) in self._data.items()
                                               if expires_at <= now]]

    def _remove(self, key: str) -> Answer | None:
        entry = self._data.pop(key, None)
        if entry is None:
            return None
        meta = self._meta.pop(key)
        self.bytes -= meta.size
        if meta.lineage is not None:
            for index, owner in ((self._by_item, meta.lineage.item_id),
                                 (self._by_datasource, meta.lineage.datasource_id)):
                keys = index[owner]
                keys.discard(key)
                if not keys:
                    del index[owner]
        return entry[1]
