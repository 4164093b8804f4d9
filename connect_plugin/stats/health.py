"""The health badge of a datasource on the datasources list.

- ``idle``: no call in the last hour;
- ``failing``: the last call failed, or more than half of the calls of the most
  recent 5-minute bucket that has calls (in the last hour) failed;
- ``ok``: otherwise.

A cache hit is not a call: a datasource whose answers all come from the cache is
idle until the cache expires.
"""

from __future__ import annotations

from typing import Mapping

from .buckets import CALLS, ERRORS, window

IDLE_HOURS = 1
FAILING_RATIO = 0.5
LABELS = {"ok": "OK", "failing": "Failing", "idle": "Idle"}


def health(buckets: Mapping[int, Mapping[str, int]], last_error: tuple[float, str] | None,
           last_ok: float | None, *, now: float) -> str:
    recent = [buckets.get(start) or {} for start in window(now, IDLE_HOURS)]
    with_calls = [counters for counters in recent if counters.get(CALLS, 0) > 0]
    if not with_calls:
        return "idle"
    if last_error is not None and (last_ok is None or last_error[0] > last_ok):
        return "failing"
    latest = with_calls[-1]
    return "failing" if latest.get(ERRORS, 0) / latest[CALLS] > FAILING_RATIO else "ok"
