"""The host's side of the plugin seam (``connect_plugin.host_adapter.HostAdapter``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context, url_for
from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm.attributes import flag_modified

from connect_plugin.for_hosts import end_read, field_key
from connect_plugin.host_adapter import HostIssue, HostUser

from .auth import find_user, load_current_user, uses_basic_auth
from .connected_index import index_field
from .db import session as db_session
from .models import Issue, Project, User, project_members
from .permissions import issue_by_key, is_member


def to_host_user(user: User) -> HostUser:
    return HostUser(account_id=user.username, display_name=user.display_name or user.username,
                    email_address=user.email or "", is_admin=user.is_admin)


def to_host_issue(issue: Issue) -> HostIssue:
    fields: dict[str, Any] = {
        "summary": issue.summary,
        "description": issue.description or "",
        "reporter": issue.reporter.username if issue.reporter else "",
    }
    fields.update(issue.custom_fields or {})
    return HostIssue(key=issue.key, project=issue.project.key, fields=fields)


@dataclass(frozen=True)
class _IssueRead:
    """What the options endpoint needs of an issue, read in one query with whether
    the request's user (``member_id``) is a member of its project."""

    issue: HostIssue
    project_id: int
    member_id: int | None
    member: bool


_issues, _projects, _users = Issue.__table__, Project.__table__, User.__table__
_reporters = _users.alias("reporter")


def _member_of(project_id) -> Any:
    return exists().where(project_members.c.project_id == project_id,
                          project_members.c.user_id == bindparam("user_id"))


# One Core statement (compiled once, cached by SQLAlchemy): the issue, its project's
# key, its reporter's name and the membership, without building ORM objects.
_ISSUE_READ = (
    select(_issues.c.key, _issues.c.summary, _issues.c.description, _issues.c.custom_fields,
           _issues.c.project_id, _projects.c.key.label("project_key"), _reporters.c.username.label("reporter"),
           _member_of(_issues.c.project_id).label("member"))
    .join(_projects, _projects.c.id == _issues.c.project_id)
    .outerjoin(_reporters, _reporters.c.id == _issues.c.reporter_id)
    .where(_issues.c.key == bindparam("key"))
)
_PROJECT_READ = select(_projects.c.id, _member_of(_projects.c.id).label("member")).where(
    _projects.c.key == bindparam("key"))


def _issue(issue_key: str) -> _IssueRead | None:
    """The issue by key, looked up once per request (the options endpoint asks for it
    and then whether the user may edit it), with the current user's membership."""
    found = g.setdefault("host_issues", {})
    key = issue_key.upper()
    if key not in found:
        # Outside a request (the CLI's refresh) there is no user to read the membership for.
        user = load_current_user() if has_request_context() else None
        user_id = user.id if user is not None else None
        row = db_session().connection().execute(_ISSUE_READ, {"key": key, "user_id": user_id}).first()
        found[key] = None if row is None else _IssueRead(
            issue=HostIssue(key=row.key, project=row.project_key, fields={
                "summary": row.summary, "description": row.description or "", "reporter": row.reporter or "",
                **(row.custom_fields or {})}),
            project_id=row.project_id, member_id=user_id, member=bool(row.member))
    return found[key]


def _may_edit(user: User | None, read: _IssueRead) -> bool:
    """``permissions.can_edit`` on the issue read: the membership read with it when
    ``user`` is the one it was read for."""
    if user is None:
        return False
    if user.is_admin:
        return True
    if read.member_id is not None and user.id == read.member_id:
        return read.member
    return is_member(user, read.project_id)


def _host_user(user: HostUser | None) -> User | None:
    """The host's user behind ``user``: usually the user of the request, whom the
    host already loaded."""
    if user is None:
        return None
    current = load_current_user()
    return current if current is not None and current.username == user.account_id else find_user(user.account_id)


class ReferenceHostAdapter:
    """The lookups keep the request's connection: the plugin calls
    ``release_connections`` when the request is about to wait for an upstream API,
    so a request waiting on one holds no connection of the host's pool, and a cache
    hit reads the user, the issue and the membership on one connection with no
    commit between them."""

    def release_connections(self) -> None:
        end_read(db_session())

    def current_user(self) -> HostUser | None:
        user = load_current_user()
        return to_host_user(user) if user else None

    def login_url(self, next_url: str) -> str:
        return url_for("auth.login", next=next_url)

    def can_edit_issue(self, user: HostUser, issue_key: str) -> bool:
        read = _issue(issue_key)
        return read is not None and _may_edit(_host_user(user), read)

    def can_create_issue(self, user: HostUser, project_key: str) -> bool:
        """``permissions.can_create_in`` in one query: the project and the membership."""
        host_user = _host_user(user)
        if host_user is None:
            allowed = False
        else:
            row = db_session().connection().execute(
                _PROJECT_READ, {"key": project_key, "user_id": host_user.id}).first()
            allowed = row is not None and (host_user.is_admin or bool(row.member))
        return allowed

    def get_issue(self, issue_key: str) -> HostIssue | None:
        read = _issue(issue_key)
        return read.issue if read else None

    def find_user(self, account_id: str) -> HostUser | None:
        user = find_user(account_id)
        return to_host_user(user) if user else None

    def store_connected_value(self, issue_key: str, item_id: int, snapshot: Any) -> None:
        issue = issue_by_key(issue_key)
        fields = dict(issue.custom_fields or {})
        fields[field_key(item_id)] = snapshot
        issue.custom_fields = fields
        flag_modified(issue, "custom_fields")
        index_field(issue, field_key(item_id), snapshot)
        g.pop("host_issues", None)  # the issue read earlier in this request is stale now

    def issues_with_connected_value(self, item_id: int, *, after: str | None, limit: int) -> list[HostIssue]:
        """Filtered and paged in the database (keyset on the unique key), so a refresh
        never loads every issue. As text, a missing key and a JSON null are both NULL
        on SQLite and PostgreSQL alike; an empty value or list is left out too."""
        stored = Issue.custom_fields[field_key(item_id)].as_string()
        query = (select(Issue).where(stored.is_not(None), stored.not_in(["", "[]"]))
                 .order_by(Issue.key).limit(limit))
        if after is not None:
            query = query.where(Issue.key > after)
        return [to_host_issue(issue) for issue in db_session().scalars(query)]

    def store_refreshed_values(self, item_id: int, changes: list[tuple[str, Any, Any]]) -> set[str]:
        db = db_session()
        key = field_key(item_id)
        written = set()
        try:
            for issue_key, read, fresh in changes:
                issue = db.scalar(select(Issue).where(Issue.key == issue_key))
                if issue is None or (issue.custom_fields or {}).get(key) != read:
                    continue  # gone, or changed by someone since it was read
                issue.custom_fields = {**issue.custom_fields, key: fresh}
                flag_modified(issue, "custom_fields")
                index_field(issue, key, fresh)
                written.add(issue_key)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        g.pop("host_issues", None)  # the issues looked up earlier in this request are stale now
        return written

    def request_uses_basic_auth(self) -> bool:
        return uses_basic_auth()
