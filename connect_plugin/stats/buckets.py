"""The counters of a 5-minute bucket, and the stats answer built from them.

A bucket of one datasource is a flat mapping of counter names to whole numbers, so
that every store adds batches with one atomic increment per name (Redis
``HINCRBY``, an SQL upsert ``count = count + n``), whichever worker or node sends
them:

- ``calls``, ``errors``, ``hits``, ``misses``;
- ``e:<kind>`` per error kind (connect_plugin/errors.py ``ERROR_KINDS``);
- ``h:<i>``: calls whose time fell in latency bin ``i``.

Latency is a fixed histogram, not a list of samples, so a bucket stays small
whatever the traffic. Bin ``i`` holds times in ``(1.25**(i-1), 1.25**i]`` ms (bin 0:
up to 1 ms; the last bin, ``LAST_BIN``: above ``1.25**(LAST_BIN-1)`` ms, about 56 s).
A percentile is read from the summed bins and interpolated inside its bin, so it
is exact to within one bin: the true value lies between 0.8 and 1.25 times the
estimate (below 1 ms, within 1 ms; in the last bin the bin's lower edge is given).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Mapping

from ..errors import ERROR_KINDS

BUCKET_SECONDS = 300
WINDOW_HOURS = 24
RATIO = 1.25
LAST_BIN = 50
_LOG_RATIO = math.log(RATIO)

CALLS, ERRORS, HITS, MISSES = "calls", "errors", "hits", "misses"


def bucket_of(epoch_seconds: float) -> int:
    """The start (epoch seconds) of the 5-minute bucket holding that moment."""
    return int(epoch_seconds // BUCKET_SECONDS) * BUCKET_SECONDS


def latency_bin(ms: float) -> int:
    if ms <= 1.0:
        return 0
    return min(LAST_BIN, math.ceil(math.log(ms) / _LOG_RATIO - 1e-9))


def bin_edges(index: int) -> tuple[float, float]:
    """The (lower, upper) edges in ms of a latency bin; the last bin's upper edge is
    its lower one (nothing is known beyond it)."""
    if index == 0:
        return 0.0, 1.0
    lower = RATIO ** (index - 1)
    return lower, (lower if index == LAST_BIN else RATIO ** index)


def histogram(counters: Mapping[str, int]) -> dict[int, int]:
    return {int(name[2:]): count for name, count in counters.items() if name.startswith("h:") and count > 0}


def percentile(bins: Mapping[int, int], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of the times in ``bins``, interpolated inside
    its bin; None without any time."""
    total = sum(bins.values())
    if total <= 0:
        return None
    rank = q / 100 * total
    seen = 0
    for index in sorted(bins):
        count = bins[index]
        if seen + count >= rank:
            lower, upper = bin_edges(index)
            inside = (rank - seen) / count if count else 1.0
            return round(lower + (upper - lower) * inside, 1)
        seen += count
    return round(bin_edges(max(bins))[1], 1)


def add_into(total: dict[str, int], counters: Mapping[str, int]) -> dict[str, int]:
    for name, count in counters.items():
        total[name] = total.get(name, 0) + int(count)
    return total


def iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat()


def window(now: float, hours: int) -> list[int]:
    """The starts of the buckets of the last ``hours`` hours, oldest first, the
    current (partial) bucket last."""
    count = hours * 3600 // BUCKET_SECONDS
    current = bucket_of(now)
    return [current - BUCKET_SECONDS * (count - 1 - i) for i in range(count)]


def summarize(buckets: Mapping[int, Mapping[str, int]], last_error: tuple[float, str] | None, *,
              now: float, hours: int = WINDOW_HOURS) -> dict:
    """The stats answer of one datasource (CONTRACT section 5) from its buckets."""
    starts = window(now, hours)
    total: dict[str, int] = {}
    series = []
    for start in starts:
        counters = buckets.get(start) or {}
        add_into(total, counters)
        series.append({"start": iso(start), "calls": int(counters.get(CALLS, 0)),
                       "errors": int(counters.get(ERRORS, 0)), "p95_ms": percentile(histogram(counters), 95)})
    bins = histogram(total)
    error = None
    if last_error is not None and last_error[0] >= starts[0]:
        error = {"at": iso(last_error[0]), "message": last_error[1]}
    return {
        "calls": total.get(CALLS, 0), "errors": total.get(ERRORS, 0),
        "errors_by_kind": {kind: total.get(f"e:{kind}", 0) for kind in ERROR_KINDS},
        "cache_hits": total.get(HITS, 0), "cache_misses": total.get(MISSES, 0),
        "p50_ms": percentile(bins, 50), "p95_ms": percentile(bins, 95),
        "last_error": error, "series": series, "hours": hours, "bucket_seconds": BUCKET_SECONDS,
    }
