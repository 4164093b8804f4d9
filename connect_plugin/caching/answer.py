"""One mapped answer as the cache keeps it: its options, when it was fetched, and
the index its label searches use.

An answer without details is kept as the dict the row loop filled (value -> label,
in the order of the rows) rather than as a list of (value, label) tuples: a first
load of 25,000 options then builds no tuple at all (building them took about 2 ms
and a dozen garbage collections in a worker, and freeing them later as long), the
entry holds a third fewer objects, a stored value is looked up by its key, and a
page of options is read straight from the dict. The list of tuples, which tests and
other callers may ask for, is built on first use. An answer with details is a list
of (value, label, details) from the start.
"""

from __future__ import annotations

import re
import sys
import time
from array import array
from bisect import bisect_right
from itertools import accumulate, islice
from typing import Any

import orjson

__all__ = ["CachedAnswer", "LabelIndex", "as_answer"]

# Ends every label in LabelIndex.text; a label holding it is searched label by label.
LABEL_END = "\x00"
# Labels a search samples to tell a broad needle (label by label) from a narrow one.
LABEL_SAMPLE = 512


class LabelIndex:
    """The case-folded labels of one answer, built once per entry and process (on the
    first search): as a list, and joined into one string, each label ended by
    ``LABEL_END``, with the offset where each starts. A narrow search is one regular
    expression scan over that string in C, which jumps to the end of a label after
    each match; a broad one (held by more than a quarter of an evenly spaced sample
    of about 512 labels) tests label by label, which is cheaper then."""

    __slots__ = ("folded", "text", "starts", "sample")

    def __init__(self, labels: list[str]):
        self.folded = folded = [label.casefold() for label in labels]
        text = LABEL_END.join(folded) + LABEL_END
        joinable = text.count(LABEL_END) == len(folded)
        self.text = text if joinable else None
        self.starts = array("q", accumulate((len(label) + 1 for label in folded), initial=0)) if joinable else None
        self.sample = folded[::max(1, len(folded) // LABEL_SAMPLE)]

    def matching(self, needle: str, first: int) -> tuple[int, list[int]]:
        """How many labels hold ``needle`` (already case-folded), and the indexes of the
        first ``first`` of them."""
        folded = self.folded
        text = self.text
        sample = self.sample
        if text is None or sum(needle in label for label in sample) * 4 > len(sample):
            hits = [index for index, label in enumerate(folded) if needle in label]
            return len(hits), hits[:first]
        if LABEL_END in needle:
            return 0, []
        found = re.compile(re.escape(needle) + "[^\x00]*").finditer(text)
        starts, indexes = self.starts, []
        for match in found:
            if len(indexes) == first:
                return first + 1 + sum(1 for _ in found), indexes
            indexes.append(bisect_right(starts, match.start()) - 1)
        return len(indexes), indexes


class CachedAnswer:
    """The options of one answer: ``options`` (value, label) or (value, label,
    details) tuples given as a list, or (value -> label) as a dict (see the module's
    docstring). Read them with :meth:`page`, :meth:`at` and :meth:`offered`, which
    never build the list of tuples of a dict."""

    __slots__ = ("_by_value", "_options", "_values", "fetched_at", "truncated", "folded")

    def __init__(self, options: list[tuple] | dict[str, str], fetched_at: float, truncated: bool = False):
        self._by_value: dict[str, str] | None = options if isinstance(options, dict) else None
        self._options: list[tuple] | None = None if isinstance(options, dict) else options
        self._values: list[str] | None = None  # the dict's keys by position, for searches
        self.fetched_at = fetched_at
        self.truncated = truncated  # more pages existed than the item's max_pages
        self.folded: LabelIndex | None = None

    @property
    def options(self) -> list[tuple]:
        if self._options is None:
            self._options = list(self._by_value.items())
        return self._options

    def __len__(self) -> int:
        return len(self._by_value) if self._by_value is not None else len(self._options)

    def page(self, offset: int, limit: int) -> list[tuple]:
        """The options from ``offset``, at most ``limit`` of them."""
        if self._by_value is not None:
            return list(islice(self._by_value.items(), offset, offset + limit))
        return self._options[offset:offset + limit]

    def at(self, indexes: list[int]) -> list[tuple]:
        """The options at these positions (a search's hits)."""
        if self._by_value is None:
            return [self._options[index] for index in indexes]
        if self._values is None:
            self._values = list(self._by_value)
        values, by_value = self._values, self._by_value
        return [(values[index], by_value[values[index]]) for index in indexes]

    def offered(self, value: str) -> tuple | None:
        """The option whose value is ``value``, or None."""
        if self._by_value is not None:
            label = self._by_value.get(value)
            return None if label is None else (value, label)
        return next((option for option in self._options if option[0] == value), None)

    def sample(self, count: int) -> list[tuple]:
        """About ``count`` options, evenly spaced (for a size estimate)."""
        step = max(1, len(self) // count)
        if self._by_value is not None:
            by_value = self._by_value  # its keys: a third of the cost of stepping through its items
            return [(value, by_value[value]) for value in islice(by_value, 0, None, step)]
        return self._options[::step]

    def container_bytes(self) -> int:
        """The bytes of what holds the options (not the texts in them): the dict and
        the list of its keys a search builds, or the list and its tuples."""
        if self._by_value is not None:
            return sys.getsizeof(self._by_value) + sys.getsizeof([]) + 8 * len(self._by_value)
        options = self._options
        return sys.getsizeof(options) + (sys.getsizeof(options[0]) * len(options) if options else 0)

    def label_index(self) -> LabelIndex:
        """The case-folded labels for filtering, built once per entry and process."""
        if self.folded is None:
            labels = list(self._by_value.values()) if self._by_value is not None \
                else [option[1] for option in self._options]
            self.folded = LabelIndex(labels)
        return self.folded

    def __getstate__(self) -> dict[str, Any]:
        # The shared backend pickles what it stores: one orjson blob is several times
        # cheaper to write and read than pickling 50,000 tuples. The folded labels are
        # rebuilt where needed, not shipped.
        options = self._by_value if self._by_value is not None else self._options
        return {"json": orjson.dumps([self.fetched_at, options]), "truncated": self.truncated}

    def __setstate__(self, state: dict[str, Any]) -> None:
        fetched_at, options = orjson.loads(state["json"])
        self.__init__(options if isinstance(options, dict) else [tuple(option) for option in options], fetched_at,
                      bool(state.get("truncated", False)))


def as_answer(loaded: CachedAnswer | list[tuple] | dict[str, str]) -> CachedAnswer:
    """What a cache's ``load`` gave as an entry: an answer as it is, options as a fresh one."""
    return loaded if isinstance(loaded, CachedAnswer) else CachedAnswer(loaded, time.time())
