"""The plugin's tables: datasources, their encrypted secrets, connected items, and
the audit log of admin changes, and the OAuth2 Connect flows under way."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .connected_items.catalogue import field_key
from .db import Base


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Ids are INTEGER columns (32 bits on PostgreSQL). A larger number names no row and
# must not reach the database, which refuses it with an error instead of no row.
MAX_ID = 2**31 - 1


def valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class Datasource(Base):
    __tablename__ = "connect_datasource"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    # Plain configuration only (base URL, timeouts, ...); secrets live in
    # DatasourceSecret so that no code path can serialise them by accident.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    auth_mode: Mapped[str] = mapped_column(String(40), default="none")
    auth_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Part of every cache key: bumped on each edit (version) and on each
    # "clear cache" (cache_generation), which every worker and node sees at once.
    version: Mapped[int] = mapped_column(Integer, default=1)
    cache_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    secrets: Mapped[list["DatasourceSecret"]] = relationship(
        back_populates="datasource", cascade="all, delete-orphan", lazy="selectin"
    )
    items: Mapped[list["ConnectedItem"]] = relationship(back_populates="datasource")

    def __repr__(self) -> str:  # never include configuration or secrets
        return f"<Datasource {self.id} {self.name!r}>"


class DatasourceSecret(Base):
    __tablename__ = "connect_datasource_secret"

    datasource_id: Mapped[int] = mapped_column(
        ForeignKey("connect_datasource.id", ondelete="CASCADE"), primary_key=True
    )
    # An auth field name, or header:<name> for a secret header (names up to 100).
    field: Mapped[str] = mapped_column(String(120), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)

    datasource: Mapped[Datasource] = relationship(back_populates="secrets")

    def __repr__(self) -> str:
        return f"<DatasourceSecret {self.datasource_id}.{self.field}>"


class ItemFieldMixin:
    """What a connected item is as an issue field; shared by the model and the
    read-only row the options endpoint loads."""

    id: int
    editor: str
    projects: list[str] | None

    def offered_in(self, project_key: str | None) -> bool:
        """Whether issues of ``project_key`` show this field: ``projects`` None means
        every project."""
        return self.projects is None or project_key in self.projects

    @property
    def field_key(self) -> str:
        return field_key(self.id)

    @property
    def multi(self) -> bool:
        return self.editor == "multiselect"

    @property
    def detail_templates(self) -> tuple[tuple[str, str], ...]:
        """``(name, template)`` pairs, hashable, as ``compile_mapping`` takes them."""
        return tuple((d["name"], d["template"]) for d in (self.details or ()))

    def mapping_spec(self) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
        """The arguments of ``compile_mapping`` for this item."""
        return self.options_path, self.value_template, self.label_template, self.detail_templates


class ConnectedItem(ItemFieldMixin, Base):
    __tablename__ = "connect_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    datasource_id: Mapped[int] = mapped_column(ForeignKey("connect_datasource.id", ondelete="RESTRICT"))
    editor: Mapped[str] = mapped_column(String(20))
    query: Mapped[str] = mapped_column(Text, default="")
    options_path: Mapped[str] = mapped_column(Text)
    value_template: Mapped[str] = mapped_column(Text)
    label_template: Mapped[str] = mapped_column(Text)
    # None: every project shows the field; otherwise a list of project keys.
    projects: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=None)
    # Option details: [{"name": "Serial", "template": "${row.serial}"}], at most 10.
    details: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, server_default="[]")
    # The item's own pagination (datasources/pagination_setting.py); None: its datasource's.
    pagination: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
    # GET or POST; a POST's JSON body template (None: no body); the item's own headers
    # [{"name", "value"}] (connected_items/item_request.py).
    method: Mapped[str] = mapped_column(String(10), default="GET", server_default="GET")
    body: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    headers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, server_default="[]")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    datasource: Mapped[Datasource] = relationship(back_populates="items", lazy="joined")


class AuditEntry(Base):
    """Who changed what and when; ``fields`` names changed fields, never values."""

    __tablename__ = "connect_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    object_name: Mapped[str] = mapped_column(String(200), default="")
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)


class OAuthFlow(Base):
    """A Connect begun and not yet finished (``views.admin_oauth``): the state's
    digest, never the state, the digest of the browser session's binding, and when
    it lapses. The callback deletes its row, so a state works once, whatever copy
    of the session cookie comes back with it."""

    __tablename__ = "connect_oauth_flow"

    state_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    datasource_id: Mapped[int] = mapped_column(ForeignKey("connect_datasource.id", ondelete="CASCADE"))
    session_digest: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
