"""Turn a parsed JQL tree into one SQLAlchemy ``select`` of the issues a user may see.

Why one statement: a search must not load every issue into Python; the database filters,
counts and pages. The host's own fields are columns; a connected item's values are rows
of ``host_connected_value`` (one per value, so single and multi-value items search
alike), reached through ``EXISTS`` so that an issue with two matching values is found
once. An unknown field is refused with the list of those that are.
"""

from __future__ import annotations

import re
from typing import Collection

from sqlalchemy import and_, exists, func, not_, or_, select

from ..models import VALUE_PREFIX, ConnectedValue, Issue, Project, User, project_members
from .parse import JqlError

_COLUMNS = {"project": Project.key, "key": Issue.key, "summary": Issue.summary,
            "description": Issue.description, "reporter": User.username}
_UPPER = {"project", "key"}
_CONNECTED = re.compile(r"connected_item_([1-9][0-9]{0,9})")
SEARCHABLE = ", ".join(_COLUMNS) + " and connected_item_<id>"


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


class _Translator:
    def __init__(self, known_items: Collection[int] | None):
        self.known_items = known_items

    def connected(self, field: str) -> str | None:
        """``field`` when it names a connected item; a JqlError for an unknown one."""
        match = _CONNECTED.fullmatch(field)
        if match is None:
            return None
        if self.known_items is not None and int(match.group(1)) not in self.known_items:
            raise JqlError(f"Field '{field}' does not exist: there is no connected item {match.group(1)}.")
        return field

    def column(self, field: str):
        if field not in _COLUMNS:
            raise JqlError(f"Field '{field}' cannot be searched: searchable fields are {SEARCHABLE}.")
        return _COLUMNS[field]

    def condition(self, tree):
        """The SQL condition for one tree node (pure: no database access)."""
        kind = tree[0]
        if kind in ("and", "or"):
            return (and_ if kind == "and" else or_)(*(self.condition(part) for part in tree[1]))
        if kind == "not":
            return not_(self.condition(tree[1]))
        field = tree[1]
        if self.connected(field):
            return self.connected_condition(tree)
        column = self.column(field)
        if kind == "cmp":
            op, value = tree[2], tree[3]
            if op in ("~", "!~"):
                match = column.ilike(_like(value), escape="\\")
                return match if op == "~" else or_(not_(match), column.is_(None))
            value = value.upper() if field in _UPPER else value
            return column == value if op == "=" else or_(column != value, column.is_(None))
        if kind in ("in", "not in"):
            values = [v.upper() if field in _UPPER else v for v in tree[2]]
            return column.in_(values) if kind == "in" else or_(column.not_in(values), column.is_(None))
        return column.is_(None) if kind == "empty" else column.is_not(None)

    @staticmethod
    def connected_condition(tree):
        """``=``/``in`` by stored value (indexed on the field and the value's prefix),
        ``~`` by label; the negations and ``is EMPTY`` are the issues with no such row."""
        kind, field = tree[0], tree[1]
        rows = [ConnectedValue.issue_id == Issue.id, ConnectedValue.field == field]
        negate = False
        if kind == "cmp":
            op, value = tree[2], tree[3]
            negate = op in ("!=", "!~")
            if op in ("~", "!~"):
                rows.append(ConnectedValue.label.ilike(_like(value), escape="\\"))
            else:
                rows += [ConnectedValue.value_prefix == value[:VALUE_PREFIX], ConnectedValue.value == value]
        elif kind in ("in", "not in"):
            negate = kind == "not in"
            rows += [ConnectedValue.value_prefix.in_({v[:VALUE_PREFIX] for v in tree[2]}),
                     ConnectedValue.value.in_(tree[2])]
        else:
            negate = kind == "empty"
        found = exists().where(*rows)
        return not_(found) if negate else found

    def sort_keys(self, order):
        """ORDER BY terms, then project and number so that paging is stable. A
        connected item sorts by its (first) label; empty values sort last."""
        terms = []
        for field, direction in order:
            if self.connected(field):
                label = (select(func.min(ConnectedValue.label))
                         .where(ConnectedValue.issue_id == Issue.id, ConnectedValue.field == field)
                         .scalar_subquery())
                keys = [label]
            elif field == "key":
                keys = [Project.key, Issue.number]
            else:
                keys = [self.column(field)]
            for key in keys:
                key = key.desc() if direction == "desc" else key.asc()
                terms.append(key.nulls_last())
        return terms + [Project.key, Issue.number]


def search_statement(tree, user: User, known_items: Collection[int] | None = None):
    """Issues matching ``tree`` that ``user`` may see, in its ORDER BY (else by key).
    ``known_items``: ids of the connected items that exist (others are refused)."""
    translator = _Translator(known_items)
    where, order = (tree[1], tree[2]) if tree[0] == "order" else (tree, ())
    query = (select(Issue).join(Project, Issue.project_id == Project.id)
             .outerjoin(User, Issue.reporter_id == User.id))
    if where is not None:
        query = query.where(translator.condition(where))
    if not user.is_admin:
        query = query.where(Issue.project_id.in_(
            select(project_members.c.project_id).where(project_members.c.user_id == user.id)))
    return query.order_by(*translator.sort_keys(order))
