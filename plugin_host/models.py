"""Users, projects and issues of the reference host."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .db import Base
from .passwords import new_hash, password_matches
from .usernames import username_key


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


project_members = Table(
    "host_project_member", Base.metadata,
    Column("project_id", ForeignKey("host_project.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "host_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    # The normalised name (usernames.username_key) that logins look up: one account
    # per spelling, whatever white space, case or compatibility form is typed.
    username_key: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str] = mapped_column(String(255), default="")
    display_name: Mapped[str] = mapped_column(String(255), default="")

    projects: Mapped[list["Project"]] = relationship(secondary=project_members, back_populates="members")

    @validates("username")
    def _keep_key(self, _attribute: str, value: str) -> str:
        self.username_key = username_key(value)
        return value

    def set_password(self, password: str) -> None:
        self.password_hash = new_hash(password)

    def check_password(self, password: str) -> bool:
        return password_matches(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class Project(Base):
    __tablename__ = "host_project"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    next_number: Mapped[int] = mapped_column(Integer, default=1)

    members: Mapped[list[User]] = relationship(secondary=project_members, back_populates="projects")


class Issue(Base):
    __tablename__ = "host_issue"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("host_project.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"), nullable=True)
    # Connected fields, stored as snapshots: {"connected_item_3": {"value": .., "label": ..}}
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship(lazy="joined")
    reporter: Mapped[User | None] = relationship(lazy="joined")
    connected_values: Mapped[list["ConnectedValue"]] = relationship(
        back_populates="issue", cascade="all, delete-orphan", passive_deletes=True)


# Values longer than this are compared in full, but found through their first
# VALUE_PREFIX characters: a B-tree entry must stay small (PostgreSQL refuses
# index rows over about 2.7 kB), and an upstream's value may be of any length.
VALUE_PREFIX = 200


class ConnectedValue(Base):
    """One stored connected value of an issue, for search. ``Issue.custom_fields``
    keeps the snapshot the API answers with; these rows (one per value, so a
    multi-value item has several) let JQL find issues by value or label with an
    index, in one SQL statement, on SQLite and PostgreSQL alike."""

    __tablename__ = "host_connected_value"
    __table_args__ = (Index("ix_host_connected_value_lookup", "field", "value_prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("host_issue.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    value_prefix: Mapped[str] = mapped_column(String(VALUE_PREFIX))
    value: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text, default="")

    issue: Mapped[Issue] = relationship(back_populates="connected_values")
