"""The values that a query's variables take for one request.

Values being edited but not yet saved (``deps.<field>``) win over the issue's stored
ones, so a field refreshes as soon as the field it depends on changes on screen.
The issue's identity (``key``, ``project``, ``reporter``) is not being edited and is
what the right to ask was checked against, so it never comes from ``deps.``: it is
the issue's own, or on a create screen (no issue) the project given, no key yet, and
the user as reporter (who creates an issue reports it).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..host_adapter import HostIssue, HostUser
from .catalogue import item_id_of

Value = str | list[str] | None

# ``$issue.<field>`` names that ``deps.`` can never set.
IDENTITY_FIELDS = frozenset({"key", "project", "reporter"})


def snapshot_values(snapshot: Any) -> Value:
    """The value(s) of a stored connected-field snapshot ({"value", "label"} or a list)."""
    if snapshot is None:
        return None
    if isinstance(snapshot, list):
        values = [str(s["value"]) for s in snapshot if isinstance(s, dict) and s.get("value") not in (None, "")]
        return values or None
    if isinstance(snapshot, dict):
        value = snapshot.get("value")
        return None if value in (None, "") else str(value)
    return str(snapshot)


def _dep(deps: Mapping[str, Value], name: str) -> tuple[bool, Value]:
    if name in deps:
        value = deps[name]
        if isinstance(value, list):
            value = [v for v in value if v not in (None, "")] or None
        return True, value
    return False, None


def _identity(field: str, issue: HostIssue | None, project: str | None, user: HostUser) -> Value:
    if issue is not None:
        value = {"key": issue.key, "project": issue.project}.get(field, issue.fields.get(field))
    elif project is not None:  # a create screen: the issue does not exist yet
        value = {"key": None, "project": project, "reporter": user.account_id}[field]
    else:  # the admin's tester without an issue
        value = None
    return None if value in (None, "") else str(value)


def build_values(variables: frozenset[str], *, issue: HostIssue | None, user: HostUser,
                 deps: Mapping[str, Value], user_input: str | None, project: str | None = None) -> dict[str, Value]:
    """Map each canonical variable name (``issue.summary``, ``userInput``, ...) to its
    value. ``project`` is the create screen's project when there is no ``issue``."""
    values: dict[str, Value] = {}
    fields = issue.fields if issue else {}
    for name in variables:
        if name == "userInput":
            values[name] = user_input or ""
        elif name.startswith("currentUser."):
            attr = name.split(".", 1)[1]
            values[name] = {
                "accountId": user.account_id, "displayName": user.display_name,
                "emailAddress": user.email_address,
            }.get(attr, "")
        elif name.startswith("issue."):
            field = name.split(".", 1)[1]
            if field in IDENTITY_FIELDS:
                values[name] = _identity(field, issue, project, user)
                continue
            given, value = _dep(deps, field)
            if not given:
                if item_id_of(field) is not None:
                    value = snapshot_values(fields.get(field))
                else:
                    raw = fields.get(field)
                    value = None if raw is None else str(raw)
            values[name] = value
    return values
