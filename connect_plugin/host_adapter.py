"""The seam between the plugin and whatever Flask app hosts it.

The plugin never imports the host. A host passes an object with the methods of
``HostAdapter`` to ``ConnectPlugin.init_app(app, host=...)``; everything the plugin
needs to know about people and issues goes through it. Keeping this small is what
lets any Flask app host the plugin (README: "Mounting the plugin in your own Flask
app").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class HostUser:
    """The person making the request, as far as query variables and permissions go."""

    account_id: str
    display_name: str
    email_address: str = ""
    is_admin: bool = False


@dataclass(frozen=True)
class HostIssue:
    """An issue's current values.

    ``fields`` holds the host's plain fields (summary, description, reporter, ...)
    as strings, and connected values under ``connected_item_<id>`` as the stored
    snapshot: ``{"value": ..., "label": ...}`` or a list of those.
    """

    key: str
    project: str
    fields: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class HostAdapter(Protocol):
    """What a host must provide. Every method is called inside a request context
    (or, for the CLI and the tester, an app context)."""

    def current_user(self) -> HostUser | None:
        """The logged-in user (session or HTTP Basic), or None."""

    def login_url(self, next_url: str) -> str:
        """Where a page redirects a visitor who is not logged in."""

    def can_edit_issue(self, user: HostUser, issue_key: str) -> bool:
        """Whether ``user`` may change the fields of the issue."""

    def can_create_issue(self, user: HostUser, project_key: str) -> bool:
        """Whether ``user`` may create issues in the project (False when there is no
        such project): the right to read options on a create screen."""

    def get_issue(self, issue_key: str) -> HostIssue | None:
        """The issue with its field values, or None when it does not exist."""

    def find_user(self, account_id: str) -> HostUser | None:
        """A user by account id, for the admin's configuration tester."""

    def store_connected_value(self, issue_key: str, item_id: int, snapshot: Any) -> None:
        """Persist a connected field's value snapshot on the issue."""

    def issues_with_connected_value(self, item_id: int, *, after: str | None, limit: int) -> list[HostIssue]:
        """Up to ``limit`` issues that hold a value of the item (``connected_item_<id>``
        not empty), ordered by issue key, starting after the key ``after`` (None: from
        the first). The refresh of stored values reads them batch by batch this way,
        so no host has to load every issue at once."""

    def store_refreshed_values(self, item_id: int, changes: list[tuple[str, Any, Any]]) -> set[str]:
        """Write refreshed snapshots in one transaction (committed when it returns).
        Each change is ``(issue_key, snapshot_read, new_snapshot)``; an issue whose
        stored snapshot is no longer ``snapshot_read`` (someone changed it meanwhile)
        is left alone. Returns the keys of the issues written."""

    def request_uses_basic_auth(self) -> bool:
        """True when the current request authenticated with HTTP Basic credentials,
        which carry no CSRF token (as with Jira's REST API)."""

    def release_connections(self) -> None:
        """Optional. Called when the request is about to wait for an upstream API:
        give back the database connections the lookups above hold and no longer
        need, so requests waiting on a slow API do not empty the host's pool. A host
        without it is never asked; it then gives them back itself, or holds them."""


# Methods a host may leave out.
OPTIONAL_METHODS = frozenset({"release_connections"})


def missing_methods(host: object) -> list[str]:
    """The ``HostAdapter`` methods ``host`` lacks, so ``init_app`` refuses an
    incomplete adapter at start-up rather than failing the first request that needs
    one (``can_create_issue`` came later than the others)."""
    wanted = [name for name, value in vars(HostAdapter).items()
              if callable(value) and not name.startswith("_") and name not in OPTIONAL_METHODS]
    return [name for name in wanted if not callable(getattr(host, name, None))]
