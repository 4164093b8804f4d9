"""Turn a parsed JQL tree into one SQLAlchemy ``select`` of the issues a user may see.

Why one statement: a search must not load every issue into Python; the database filters,
counts and pages. Only the host's own fields are searchable so far; an unknown field is
refused with the list of those that are.
"""

from __future__ import annotations

from sqlalchemy import and_, not_, or_, select

from ..models import Issue, Project, User, project_members
from .parse import JqlError

_COLUMNS = {"project": Project.key, "key": Issue.key, "summary": Issue.summary, "reporter": User.username}
_UPPER = {"project", "key"}


def _column(field: str):
    if field not in _COLUMNS:
        raise JqlError(f"Field '{field}' cannot be searched: searchable fields are {', '.join(_COLUMNS)}.")
    return _COLUMNS[field]


def _value(field: str, value: str) -> str:
    return value.upper() if field in _UPPER else value


def condition(tree):
    """The SQL condition for one tree node (pure: no database access)."""
    kind = tree[0]
    if kind in ("and", "or"):
        return (and_ if kind == "and" else or_)(*(condition(part) for part in tree[1]))
    if kind == "not":
        return not_(condition(tree[1]))
    column = _column(tree[1])
    if kind == "cmp":
        field, op, value = tree[1], tree[2], tree[3]
        if op == "~":
            return column.ilike("%" + value.replace("%", r"\%").replace("_", r"\_") + "%", escape="\\")
        return column == _value(field, value) if op == "=" else or_(column != _value(field, value), column.is_(None))
    if kind in ("in", "not in"):
        values = [_value(tree[1], v) for v in tree[2]]
        return column.in_(values) if kind == "in" else or_(column.not_in(values), column.is_(None))
    return column.is_(None) if kind == "empty" else column.is_not(None)


def search_statement(tree, user: User):
    """Issues matching ``tree`` that ``user`` may see, newest key order stable for paging."""
    query = (select(Issue).join(Project, Issue.project_id == Project.id)
             .outerjoin(User, Issue.reporter_id == User.id).where(condition(tree)))
    if not user.is_admin:
        query = query.where(Issue.project_id.in_(
            select(project_members.c.project_id).where(project_members.c.user_id == user.id)))
    return query.order_by(Project.key, Issue.number)
