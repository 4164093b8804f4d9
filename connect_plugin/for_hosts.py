"""What a host calls: the connected fields of a project's issues, and setting
connected values on an issue (checked, then stored through the host adapter)."""

from __future__ import annotations

from typing import Any, Mapping

from .connected_items import field_values
from .connected_items import service as item_service
from .extension import session, state
from .host_adapter import HostIssue, HostUser


def connected_fields(project_key: str) -> list[dict[str, Any]]:
    """The items whose fields issues of ``project_key`` show, in a stable order."""
    return [item_service.serialize(item) for item in item_service.items_for_project(session(), project_key)]


def is_connected_field(name: str) -> bool:
    return field_values.item_id_of(name) is not None


def set_connected_fields(issue: HostIssue, fields: Mapping[str, Any], user: HostUser,
                         other_fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check and store ``connected_item_<id>`` values; ``other_fields`` are plain
    values set in the same request (they count as dependencies). Returns the stored
    snapshots. Raises ValidationError (400) or UpstreamError (502/504), storing nothing."""
    st = state()
    combined = {**(other_fields or {}), **fields}
    snapshots = field_values.resolve(st, session(), issue=issue, user=user, fields=combined)
    for name, snapshot in snapshots.items():
        st.host.store_connected_value(issue.key, field_values.item_id_of(name), snapshot)
    return snapshots
