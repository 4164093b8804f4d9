"""Times as the API writes them."""

from __future__ import annotations

from datetime import datetime, timezone


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset; SQLite hands stored times back without one."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()
