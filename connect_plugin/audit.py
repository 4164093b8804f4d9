"""The audit log of admin changes: who, when, what, which fields; never values."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEntry


def record(session: Session, actor: str, action: str, obj, fields=()) -> None:
    session.add(AuditEntry(
        actor=actor, action=action, object_type=type(obj).__name__, object_id=getattr(obj, "id", None),
        object_name=getattr(obj, "name", ""), fields=sorted(set(fields)),
    ))


def recent(session: Session, limit: int = 200) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
