"""The read model of the options endpoint: what a request needs of an item and its
datasource, read in one Core query into plain read-only rows (no ORM objects: on a
cache hit this query is most of the plugin's own cost)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..db import end_read
from ..models import ConnectedItem, Datasource, DatasourceSecret, ItemFieldMixin, valid_id
from .access import unknown_item

# The datasource's secrets are read only when a miss calls the connector.
_ITEMS = ConnectedItem.__table__
_DATASOURCES = Datasource.__table__
_ITEM_ROW = (
    select(_ITEMS.c.id, _ITEMS.c.name, _ITEMS.c.datasource_id, _ITEMS.c.editor, _ITEMS.c.query,
           _ITEMS.c.options_path, _ITEMS.c.value_template, _ITEMS.c.label_template, _ITEMS.c.projects, _ITEMS.c.details,
           _ITEMS.c.pagination, _ITEMS.c.method, _ITEMS.c.body, _ITEMS.c.headers,
           _ITEMS.c.version, _DATASOURCES.c.name.label("ds_name"), _DATASOURCES.c.type.label("ds_type"),
           _DATASOURCES.c.config.label("ds_config"), _DATASOURCES.c.auth_mode.label("ds_auth_mode"),
           _DATASOURCES.c.auth_config.label("ds_auth_config"), _DATASOURCES.c.version.label("ds_version"),
           _DATASOURCES.c.cache_generation.label("ds_cache_generation"))
    .join(_DATASOURCES, _DATASOURCES.c.id == _ITEMS.c.datasource_id)
    .where(_ITEMS.c.id == bindparam("item_id"))
)
_SECRETS = select(DatasourceSecret).where(DatasourceSecret.datasource_id == bindparam("datasource_id"))


@dataclass(frozen=True, eq=False)
class DatasourceRow:
    """The columns of a ``Datasource`` that calls need, read in one query; its
    ``secrets`` (the model's relationship) are loaded on first use."""

    id: int
    name: str
    type: str
    config: dict[str, Any]
    auth_mode: str
    auth_config: dict[str, Any]
    version: int
    cache_generation: int
    _session: Session = field(repr=False, compare=False)

    @property
    def secrets(self) -> list[DatasourceSecret]:
        secrets = list(self._session.scalars(_SECRETS, {"datasource_id": self.id}))
        end_read(self._session)  # read just before an upstream call: don't hold a connection during it
        return secrets


@dataclass(frozen=True, eq=False)
class ItemRow(ItemFieldMixin):
    """The columns of a ``ConnectedItem`` with its datasource, for the options
    endpoint (same attribute names as the models, read-only)."""

    id: int
    name: str
    datasource_id: int
    editor: str
    query: str
    options_path: str
    value_template: str
    label_template: str
    projects: list[str] | None
    details: list[dict[str, str]]
    pagination: dict[str, Any] | None
    method: str
    body: Any
    headers: list[dict[str, str]]
    version: int
    datasource: DatasourceRow


def load_item(session: Session, item_id: int) -> ItemRow:
    """The item for an options request, as ``item_service.get`` finds it (same
    NotFound), as plain values rather than ORM objects."""
    # On the session's connection: a Core statement needs none of Session.execute's ORM steps.
    row = session.connection().execute(_ITEM_ROW, {"item_id": item_id}).first() if valid_id(item_id) else None
    if row is None:
        raise unknown_item(item_id)
    datasource = DatasourceRow(id=row.datasource_id, name=row.ds_name, type=row.ds_type, config=row.ds_config or {},
                               auth_mode=row.ds_auth_mode, auth_config=row.ds_auth_config or {},
                               version=row.ds_version, cache_generation=row.ds_cache_generation, _session=session)
    return ItemRow(id=row.id, name=row.name, datasource_id=row.datasource_id, editor=row.editor, query=row.query,
                   options_path=row.options_path, value_template=row.value_template,
                   label_template=row.label_template, projects=row.projects, details=row.details or [],
                   pagination=row.pagination, method=row.method or "GET", body=row.body,
                   headers=row.headers or [], version=row.version,
                   datasource=datasource)
