"""The configuration document of an instance, built from the API's own shapes.

A datasource is what ``GET /api/datasources/<id>`` answers, cut to the parts a
create takes (``name``, ``type``, ``config``, ``auth``), without any ``<field>_set``
flag and without state (``connected``); an item is what ``GET /api/items/<id>``
answers without its id and the keys derived from the others, naming its datasource
by name and the items it reads by name (:mod:`.references`). Whatever keys the
API's shapes gain flow into the document unchanged. Secrets are never part of
those shapes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..connected_items import service as item_service
from ..datasources import service as datasource_service
from ..models import ConnectedItem, Datasource
from ..secret_box import SecretBox
from . import references

VERSION = 1
DATASOURCE_PARTS = ("name", "type", "config", "auth")
# What an auth answer says of the datasource's state, not of its settings (an OAuth2
# authorization-code datasource's "connected" and why it lost its connection).
AUTH_STATE = frozenset({"connected", "connection_lost"})
# What the item API answers besides what an admin writes: ids, and what follows from the rest.
ITEM_DERIVED = frozenset({"id", "field_key", "datasource_id", "datasource_name", "depends_on", "uses_user_input",
                          "version", "created_at", "updated_at"})


def without_flags(value: Any) -> Any:
    """``value`` without the ``<field>_set`` flags of secrets, at any depth."""
    if isinstance(value, dict):
        return {k: without_flags(v) for k, v in value.items() if not k.endswith("_set")}
    if isinstance(value, list):
        return [without_flags(v) for v in value]
    return value


def datasource_entry(datasource: Datasource, box: SecretBox) -> dict[str, Any]:
    shown = datasource_service.serialize(datasource, box)
    entry = {part: without_flags(shown[part]) for part in DATASOURCE_PARTS}
    entry["auth"] = {k: v for k, v in entry["auth"].items() if k not in AUTH_STATE}
    return entry


def item_entry(item: ConnectedItem, names: dict[int, str]) -> dict[str, Any]:
    """The item as a file holds it; ``names`` maps every item id to its name."""
    shown = item_service.serialize(item)
    entry: dict[str, Any] = {"name": shown["name"], "datasource": shown["datasource_name"]}
    for key, value in shown.items():
        if key not in ITEM_DERIVED and key not in entry:
            entry[key] = references.walk(value, lambda text: references.to_names(text, names))
    return entry


def export_config(session: Session, box: SecretBox) -> dict[str, Any]:
    """Every datasource and connected item, ordered by name, without ids or secrets."""
    items = item_service.list_all(session)
    names = {item.id: item.name for item in items}
    return {
        "version": VERSION,
        "datasources": [datasource_entry(ds, box) for ds in datasource_service.list_all(session)],
        "items": [item_entry(item, names) for item in items],
    }
