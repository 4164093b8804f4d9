"""What datasources and connected items share: looked up by id, listed by name,
and named uniquely without regard to case (the name is how admins, the audit log
and configuration files refer to them)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .errors import NotFound
from .models import valid_id

MAX_NAME_LENGTH = 200

Record = TypeVar("Record")


def get(session: Session, model: type[Record], record_id: Any, what: str) -> Record:
    """The record, or NotFound naming ``what`` ("datasource", "connected item")."""
    record = session.get(model, record_id) if valid_id(record_id) else None
    if record is None:
        raise NotFound(f"There is no {what} with id {record_id}.")
    return record


def list_all(session: Session, model: type[Record]) -> list[Record]:
    return list(session.scalars(select(model).order_by(func.lower(model.name))))


def find_by_name(session: Session, model: type[Record], name: str) -> Record | None:
    """The record named ``name`` whatever its case. SQLite's lower() folds ASCII
    only, so the name as written is matched too: a non-ASCII name given again is
    found (and refused) instead of reaching the unique index (a 500)."""
    name = name.strip()
    return session.scalar(select(model).where(or_(func.lower(model.name) == name.lower(), model.name == name))
                          .limit(1))


def check_name(session: Session, model: type[Record], raw: Any, current: Record | None,
               what: str) -> tuple[str, str | None]:
    """The cleaned name and the problem with it, if any: missing, too long, or
    taken by another record (whatever its case)."""
    if not isinstance(raw, str) or not raw.strip():
        return "", "Name is required."
    name = raw.strip()
    if len(name) > MAX_NAME_LENGTH:
        return name, f"Name must be {MAX_NAME_LENGTH} characters or fewer."
    clash = find_by_name(session, model, name)
    if clash is not None and clash is not current:
        return name, f"A {what} named {clash.name!r} already exists."
    return name, None
