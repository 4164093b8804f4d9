"""Creating issues and changing their fields, shared by the REST API and the pages.

Plain fields are the host's; ``connected_item_<id>`` fields are checked and stored
by the plugin (``connect_plugin.for_hosts``), with the plain values set in the same
change counting as its dependencies. Either everything is saved or nothing.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from connect_plugin import for_hosts
from connect_plugin.errors import ValidationError

from .adapter import to_host_issue, to_host_user
from .auth import find_user
from .db import session as db_session
from .models import Issue, Project, User

PLAIN_FIELDS = ("summary", "description")
PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")


def split_fields(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    plain, connected, unknown = {}, {}, []
    for name, value in fields.items():
        if name in PLAIN_FIELDS:
            plain[name] = value
        elif for_hosts.is_connected_field(name):
            connected[name] = value
        elif name != "project":
            unknown.append(name)
    if unknown:
        raise ValidationError("Some fields are not valid.",
                              {name: f"{name} is not a field of this issue." for name in unknown})
    errors = {}
    if "summary" in plain and (not isinstance(plain["summary"], str) or not plain["summary"].strip()):
        errors["summary"] = "Summary is required."
    if "description" in plain and plain["description"] is not None and not isinstance(plain["description"], str):
        errors["description"] = "Description must be text."
    if errors:
        raise ValidationError("Some fields are not valid.", errors)
    return plain, connected


def apply_fields(issue: Issue, user: User, fields: dict[str, Any]) -> None:
    plain, connected = split_fields(fields)
    if "summary" in plain:
        issue.summary = plain["summary"].strip()[:500]
    if "description" in plain:
        issue.description = plain["description"] or ""
    if connected:
        db_session().flush()
        for_hosts.set_connected_fields(to_host_issue(issue), connected, to_host_user(user), other_fields=plain)


def create_project(key: Any, name: Any, member_names: Any) -> Project:
    errors = {}
    if not isinstance(key, str) or not PROJECT_KEY.match(key):
        errors["key"] = "Key must be 2 to 10 capital letters or digits, starting with a letter."
    elif db_session().scalar(select(Project).where(Project.key == key)) is not None:
        errors["key"] = f"A project with key {key} already exists."
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "Name is required."
    members = []
    if member_names is not None and not isinstance(member_names, list):
        errors["members"] = "members must be a list of user names."
    for username in member_names or []:
        user = find_user(str(username))
        if user is None:
            errors["members"] = f"There is no user {username!r}."
        else:
            members.append(user)
    if errors:
        raise ValidationError("The project is not valid.", errors)
    project = Project(key=key, name=name.strip(), members=members)
    db_session().add(project)
    db_session().flush()
    return project


def create_issue(project: Project, reporter: User, fields: dict[str, Any]) -> Issue:
    if not isinstance(fields.get("summary"), str) or not fields["summary"].strip():
        raise ValidationError("Some fields are not valid.", {"summary": "Summary is required."})
    number = project.next_number
    project.next_number = number + 1
    issue = Issue(key=f"{project.key}-{number}", project=project, number=number, summary="",
                  description="", reporter=reporter, custom_fields={})
    db_session().add(issue)
    apply_fields(issue, reporter, fields)
    return issue
