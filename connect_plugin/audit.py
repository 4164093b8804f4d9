"""The audit log of admin changes: who, when, what, which fields; never values."""

from __future__ import annotations

from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEntry


def _add(session: Session, actor: str, action: str, obj, fields: list[str]) -> None:
    session.add(AuditEntry(
        actor=actor, action=action, object_type=type(obj).__name__, object_id=getattr(obj, "id", None),
        object_name=getattr(obj, "name", ""), fields=fields,
    ))


def record(session: Session, actor: str, action: str, obj, fields=()) -> None:
    _add(session, actor, action, obj, sorted(set(fields)))


def record_counts(session: Session, actor: str, action: str, obj, counts: Mapping[str, int]) -> None:
    """An action over many records (a refresh of stored values): ``fields`` holds its
    counts in order, as the audit page shows them ("checked 5", "not offered 1")."""
    _add(session, actor, action, obj, [f"{name.replace('_', ' ')} {n}" for name, n in counts.items()])


def recent(session: Session, limit: int = 200) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))
