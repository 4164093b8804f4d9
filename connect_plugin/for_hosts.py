"""What a host calls: the plugin's public seam, with the host adapter protocol
(:mod:`.host_adapter`), the manifest and the errors.

* the connected fields of a project's issues, and setting connected values on an
  issue (checked, then stored through the host adapter);
* the refresh of stored values (``refresh_stored_values``), for a host's CLI;
* provisioning datasources and items from code (a host's demo or set-up script),
  through the same services and rules as the admin API, each call one transaction;
* the configuration as data (``export_config``, ``import_config``), for a host's CLI;
* the CSRF rule (``needs_csrf_token``), so host and plugin ask for the token alike;
* what a user is told of an upstream failure (``error_message_for`` /
  ``error_json_for``): the detail for admins, a generic sentence with a reference
  for everyone else;
* the database helpers a host may share (one SQLAlchemy engine setup and naming
  convention, ``end_read`` before a long wait, ISO times as the API writes them).

Call these inside an app context of an app the plugin was initialised on.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import select

from . import named_records
from .connected_items import field_values
from .connected_items.catalogue import field_key, item_id_of
from .csrf_policy import needs_token as needs_csrf_token
from .configuration import importer
from .configuration.export import export_config as _export
from .connected_items import refresh
from .connected_items import service as item_service
from .datasources import service as datasource_service
from .db import NAMING, Database, end_read
from .error_notices import json_for as error_json_for
from .error_notices import message_for as error_message_for
from .host_adapter import HostIssue, HostUser
from .migration_env import run_online
from .models import ConnectedItem, Datasource
from .state import session, state
from .timestamps import iso_utc

__all__ = [
    "NAMING", "Database", "clear_datasource_cache", "connected_fields", "connected_item_ids", "create_datasource",
    "create_item", "end_read", "error_json_for", "error_message_for", "export_config", "field_key",
    "find_datasource", "import_config", "is_connected_field", "iso_utc", "item_ids", "needs_csrf_token",
    "refresh_stored_values", "run_online", "set_connected_fields", "update_datasource",
]


def connected_fields(project_key: str) -> list[dict[str, Any]]:
    """The items whose fields issues of ``project_key`` show, in a stable order."""
    return [item_service.serialize(item) for item in item_service.items_for_project(session(), project_key)]


def is_connected_field(name: str) -> bool:
    return item_id_of(name) is not None


def set_connected_fields(issue: HostIssue, fields: Mapping[str, Any], user: HostUser,
                         other_fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check and store ``connected_item_<id>`` values; ``other_fields`` are plain
    values set in the same request (they count as dependencies). Returns the stored
    snapshots. Raises ValidationError (400) or UpstreamError (502/504), storing nothing."""
    st = state()
    combined = {**(other_fields or {}), **fields}
    snapshots = field_values.resolve(st, session(), issue=issue, user=user, fields=combined)
    for name, snapshot in snapshots.items():
        st.host.store_connected_value(issue.key, item_id_of(name), snapshot)
    return snapshots


def refresh_stored_values(item_id: int | None = None, *, actor: str, dry_run: bool = False,
                          progress: refresh.Progress | None = None) -> refresh.Summary:
    """Re-check every stored value of one item (or of every item) against its
    datasource and update the snapshots that changed (:mod:`.connected_items.refresh`).
    ``progress(item, issues)`` is called as batches are done. Raises NotFound for an
    unknown item."""
    db = session()
    items = [item_service.get(db, item_id)] if item_id is not None else item_service.list_all(db)
    summary = refresh.refresh_items(state(), db, items, actor=actor, dry_run=dry_run, progress=progress)
    db.commit()
    return summary


def export_config() -> dict[str, Any]:
    """Every datasource and connected item as one document, without ids or secrets
    (what ``GET /api/config`` answers)."""
    return _export(session(), state().box)


def import_config(document: Any, *, actor: str, dry_run: bool = False) -> importer.Plan:
    """Apply a configuration document by name in one transaction, as ``POST
    /api/config`` does. Raises ValidationError naming the entry, writing nothing."""
    return importer.import_config(state(), session(), document, actor=actor, dry_run=dry_run)


def find_datasource(name: str) -> dict[str, Any] | None:
    """The datasource named ``name`` (case-insensitive) as the API shows it, or None."""
    found = named_records.find_by_name(session(), Datasource, name)
    return datasource_service.serialize(found, state().box) if found is not None else None


def create_datasource(payload: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
    """Create a datasource from the API's payload; raises ValidationError as the API would."""
    db = session()
    datasource = datasource_service.create(db, dict(payload), box=state().box, policy=state().policy, actor=actor)
    db.commit()
    return datasource_service.serialize(datasource, state().box)


def update_datasource(datasource_id: int, patch: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
    db = session()
    datasource = datasource_service.update(db, datasource_service.get(db, datasource_id), dict(patch),
                                           box=state().box, policy=state().policy, actor=actor)
    db.commit()
    state().tokens.drop_datasource(datasource_id)
    return datasource_service.serialize(datasource, state().box)


def clear_datasource_cache(datasource_id: int, *, actor: str) -> None:
    """"Clear cache" of one datasource, for the API, the datasource page and hosts."""
    db = session()
    datasource_service.clear_cache(db, datasource_service.get(db, datasource_id), actor=actor)
    db.commit()
    state().cache.forget_datasource(datasource_id)


def connected_item_ids() -> set[int]:
    """The ids of every connected item (a host's search refuses the others)."""
    return set(session().scalars(select(ConnectedItem.id)))


def item_ids(datasource_id: int) -> dict[str, int]:
    """Name -> id of the connected items that read from the datasource."""
    return {item.name: item.id for item in session().scalars(
        select(ConnectedItem).where(ConnectedItem.datasource_id == datasource_id))}


def create_item(payload: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
    """Create a connected item from the API's payload, or return the one of that name."""
    db = session()
    found = named_records.find_by_name(db, ConnectedItem, str(payload.get("name") or ""))
    if found is None:
        found = item_service.create(db, dict(payload), actor=actor)
        db.commit()
    return item_service.serialize(found)
