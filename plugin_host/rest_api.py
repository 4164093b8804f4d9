"""The host's own REST API, shaped like Jira's ``/rest/api/2``."""

from __future__ import annotations

import functools

from flask import Blueprint, jsonify, request, url_for
from sqlalchemy import func, select

from connect_plugin import for_hosts
from connect_plugin.for_hosts import error_json_for, iso_utc
from connect_plugin.errors import ConnectError, ValidationError

from .auth import load_current_user
from .db import session as db_session
from .jql import JqlError, parse
from .jql.translate import search_statement
from .models import Issue
from .permissions import can_create_in, can_edit, issue_by_key, project_by_key
from .issue_service import create_issue, create_project, apply_fields

bp = Blueprint("rest", __name__, url_prefix="/rest/api/2")


def error(message: str, status: int):
    return jsonify({"error": message}), status


def logged_in(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if load_current_user() is None:
            return error("Log in first: send the session cookie or HTTP Basic credentials.", 401)
        return view(*args, **kwargs)

    return wrapper


@bp.errorhandler(ConnectError)
def _typed_error(exc: ConnectError):
    db_session().rollback()
    user = load_current_user()
    return jsonify(error_json_for(exc, admin=bool(user and user.is_admin))), exc.status


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object (Content-Type: application/json).")
    return data


def issue_json(issue: Issue) -> dict:
    fields = {
        "project": {"key": issue.project.key, "name": issue.project.name},
        "summary": issue.summary,
        "description": issue.description,
        "reporter": ({"name": issue.reporter.username, "displayName": issue.reporter.display_name or
                      issue.reporter.username} if issue.reporter else None),
        "created": iso_utc(issue.created_at),
        "updated": iso_utc(issue.updated_at),
    }
    fields.update(issue.custom_fields or {})
    return {"id": str(issue.id), "key": issue.key, "self": url_for("rest.get_issue", key=issue.key, _external=True),
            "fields": fields}


@bp.get("/myself")
@logged_in
def myself():
    user = load_current_user()
    return jsonify({"name": user.username, "displayName": user.display_name or user.username,
                    "emailAddress": user.email, "admin": user.is_admin})


@bp.post("/project")
@logged_in
def post_project():
    if not load_current_user().is_admin:
        return error("Only administrators may create projects.", 403)
    data = body()
    project = create_project(data.get("key"), data.get("name"), data.get("members", []))
    db_session().commit()
    return jsonify({"id": str(project.id), "key": project.key, "name": project.name,
                    "members": [m.username for m in project.members]}), 201


@bp.post("/issue")
@logged_in
def post_issue():
    data = body()
    fields = data.get("fields")
    if not isinstance(fields, dict):
        raise ValidationError("The request needs a fields object.", {"fields": "fields must be an object."})
    project_ref = fields.get("project") or {}
    key = project_ref.get("key") if isinstance(project_ref, dict) else None
    project = project_by_key(key) if isinstance(key, str) else None
    if project is None:
        raise ValidationError("Some fields are not valid.", {"project": f"There is no project {key!r}."})
    user = load_current_user()
    if not can_create_in(user, project):
        return error(f"You are not a member of project {project.key}.", 403)
    issue = create_issue(project, user, fields)
    db_session().commit()
    return jsonify({"id": str(issue.id), "key": issue.key,
                    "self": url_for("rest.get_issue", key=issue.key, _external=True)}), 201


def _issue_for(key: str):
    issue = issue_by_key(key)
    if issue is None:
        return None, error(f"There is no issue {key}.", 404)
    if not can_edit(load_current_user(), issue):
        return None, error(f"You may not see or edit {issue.key}.", 403)
    return issue, None


@bp.get("/issue/<key>")
@logged_in
def get_issue(key: str):
    issue, failure = _issue_for(key)
    return failure or jsonify(issue_json(issue))


@bp.put("/issue/<key>")
@logged_in
def put_issue(key: str):
    issue, failure = _issue_for(key)
    if failure:
        return failure
    fields = body().get("fields")
    if not isinstance(fields, dict):
        raise ValidationError("The request needs a fields object.", {"fields": "fields must be an object."})
    apply_fields(issue, load_current_user(), fields)
    db_session().commit()
    return "", 204


def _search_args() -> tuple[str, int, int]:
    args = body() if request.method == "POST" else request.args
    jql, start, size = args.get("jql", ""), args.get("startAt", 0), args.get("maxResults", 50)
    try:
        start, size = int(start), int(size)
    except (TypeError, ValueError):
        raise JqlError("startAt and maxResults must be whole numbers.") from None
    if start < 0 or not 0 <= size <= 1000:
        raise JqlError("startAt must be 0 or more and maxResults between 0 and 1000.")
    return str(jql), start, size


@bp.route("/search", methods=["GET", "POST"])
@logged_in
def search():
    """Jira's search answer for the issues the caller may see (README "JQL search")."""
    try:
        jql, start, size = _search_args()
        return jsonify(search_answer(jql, load_current_user(), start, size))
    except JqlError as exc:
        return jsonify({"errorMessages": [str(exc)], "errors": {}}), 400


def search_answer(jql: str, user, start: int, size: int) -> dict:
    """Jira's search answer: the total in one COUNT, the page in one SELECT (the
    benchmark of `make bench` times this function). Raises JqlError."""
    statement = search_statement(parse(jql), user, for_hosts.connected_item_ids())
    total = db_session().scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    issues = db_session().scalars(statement.offset(start).limit(size)).all()
    return {"startAt": start, "maxResults": size, "total": total, "issues": [issue_json(issue) for issue in issues]}
