"""What the API and the pages ask of the stats: one datasource's answer, and the
health badges of many."""

from __future__ import annotations

import time

from ..errors import ValidationError
from .buckets import WINDOW_HOURS, summarize
from .health import IDLE_HOURS, health
from .recorder import StatsRecorder


def parse_hours(raw: str | None) -> int:
    """``?hours=``: a whole number of hours from 1 to 24 (default 24)."""
    if raw is None or raw == "":
        return WINDOW_HOURS
    if not raw.isdigit() or not 1 <= int(raw) <= WINDOW_HOURS:
        raise ValidationError(f"hours must be a whole number from 1 to {WINDOW_HOURS}.",
                              {"hours": f"A whole number from 1 to {WINDOW_HOURS}."})
    return int(raw)


def stats_for(recorder: StatsRecorder, datasource_id: int, hours: int = WINDOW_HOURS) -> dict:
    buckets, last_error, _last_ok = recorder.read(datasource_id, hours)
    return summarize(buckets, last_error, now=time.time(), hours=hours)


def health_of(recorder: StatsRecorder, datasource_ids: list[int]) -> dict[int, str]:
    now = time.time()
    found = recorder.read_many(datasource_ids, IDLE_HOURS)
    return {ds: health(buckets, last_error, last_ok, now=now)
            for ds, (buckets, last_error, last_ok) in found.items()}
