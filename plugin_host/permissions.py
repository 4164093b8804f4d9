"""Who may see and edit what: members edit their projects' issues, admins all."""

from __future__ import annotations

from sqlalchemy import select

from .db import session as db_session
from .models import Issue, Project, User, project_members


def visible_projects(user: User) -> list[Project]:
    query = select(Project).order_by(Project.key)
    if not user.is_admin:
        query = query.join(project_members).where(project_members.c.user_id == user.id)
    return list(db_session().scalars(query))


def is_member(user: User | None, project_id: int) -> bool:
    """Members create and edit the issues of their projects; admins those of all."""
    if user is None:
        return False
    if user.is_admin:
        return True
    return db_session().execute(
        select(project_members).where(project_members.c.project_id == project_id,
                                      project_members.c.user_id == user.id)
    ).first() is not None


def can_edit(user: User | None, issue: Issue) -> bool:
    return is_member(user, issue.project_id)


def can_create_in(user: User | None, project: Project | None) -> bool:
    return project is not None and is_member(user, project.id)


def project_by_key(key: str) -> Project | None:
    return db_session().scalar(select(Project).where(Project.key == key))


def issue_by_key(key: str) -> Issue | None:
    return db_session().scalar(select(Issue).where(Issue.key == key.upper()))
