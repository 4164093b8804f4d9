"""Keep the search rows of an issue's connected values (``ConnectedValue``) equal
to the snapshots in ``Issue.custom_fields``.

Every write of a connected value goes through :func:`index_field`, so JQL finds
what the issue page shows; the snapshot stays the record and these rows can always
be rebuilt from it (the migration that adds them does so).
"""

from __future__ import annotations

from typing import Any, Iterator

from .models import VALUE_PREFIX, ConnectedValue, Issue


def snapshot_rows(snapshot: Any) -> Iterator[tuple[str, str]]:
    """``(value, label)`` of each value a stored snapshot holds: one for a single
    value, several for a multi-value item, none when it is empty."""
    for one in snapshot if isinstance(snapshot, list) else [snapshot]:
        if isinstance(one, dict) and one.get("value") not in (None, ""):
            yield str(one["value"]), str(one.get("label") or "")


def index_field(issue: Issue, field: str, snapshot: Any) -> None:
    """Replace the issue's search rows of ``field`` by those of ``snapshot``."""
    kept = [row for row in issue.connected_values if row.field != field]
    fresh = [ConnectedValue(field=field, value_prefix=value[:VALUE_PREFIX], value=value, label=label)
             for value, label in snapshot_rows(snapshot)]
    issue.connected_values = kept + fresh
