"""Who may read a connected item's options, and for which issue or project.

Options show what an upstream API holds, so reading them takes the right that
setting the field takes (CONTRACT sections 3 and 5): editing the issue, or on a
create screen, creating issues in the project. The options endpoint asks
:func:`options_scope` and then :func:`require_offered`; the check of values set on
an issue (``field_values.resolve``, called by the host after its own edit check)
asks the same :meth:`~connect_plugin.models.ItemFieldMixin.offered_in` rule, and
both evaluate with :func:`~connect_plugin.connected_items.variables.build_values`,
where the issue's key, project and reporter never come from ``deps.``.

The order is what keeps the errors from telling anything: the right is checked
before the item is looked at, and an item not offered in the project gets the very
answer an unknown item id gets. So a user without the right learns nothing about
items, and one with it learns nothing about other projects' items.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Forbidden, NotFound, ValidationError
from ..host_adapter import HostAdapter, HostIssue, HostUser
from ..models import ItemFieldMixin


@dataclass(frozen=True)
class Scope:
    """Where options are evaluated: an existing ``issue``, or (``issue`` None) the
    create screen of an issue in ``project``."""

    project: str
    issue: HostIssue | None = None


def unknown_item(item_id: object) -> NotFound:
    """The one answer for an item id that does not exist and for an item the
    project does not show."""
    return NotFound(f"There is no connected item with id {item_id}.")


def options_scope(host: HostAdapter, user: HostUser, *, issue_key: str | None,
                  project_key: str | None) -> Scope:
    """The scope of an options request, once the user's right there is checked.

    ``issue_key``: 404 for an unknown issue, 403 unless ``user`` may edit it; a
    ``project_key`` given with it must be the issue's own. Without an issue,
    ``project_key`` is required (400 naming ``project``) and ``user`` must be able to
    create issues there (403, the same whether or not the project exists)."""
    issue_key = (issue_key or "").strip()
    project_key = (project_key or "").strip()
    if issue_key:
        issue = host.get_issue(issue_key)
        if issue is None:
            raise NotFound(f"There is no issue {issue_key}.")
        if not host.can_edit_issue(user, issue.key):
            raise Forbidden(f"You may not edit {issue.key}.")
        if project_key and project_key != issue.project:
            raise ValidationError(f"{issue.key} is an issue of project {issue.project}, not {project_key}.",
                                  {"project": "Leave project out when you give issue, or give the issue's project."})
        return Scope(project=issue.project, issue=issue)
    if not project_key:
        raise ValidationError(
            "Say where the options are for: issue=KEY for an existing issue, or project=KEY on a create screen.",
            {"project": "project is required when issue is not given."})
    if not host.can_create_issue(user, project_key):
        raise Forbidden(f"You may not create issues in project {project_key}.")
    return Scope(project=project_key)


def require_offered(item: ItemFieldMixin, scope: Scope) -> None:
    """404, worded as for an unknown id, when the item's ``projects`` leave out the
    scope's project."""
    if not item.offered_in(scope.project):
        raise unknown_item(item.id)
