"""The host's pages: the issue list and an issue with its fields."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field as dataclass_field

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from connect_plugin import for_hosts
from connect_plugin.errors import UpstreamError, ValidationError

from .jql import JqlError, parse
from .jql.translate import search_statement
from .auth import load_current_user
from .db import session as db_session
from .issue_service import apply_fields, create_issue
from .models import Issue
from .permissions import can_create_in, can_edit, issue_by_key, project_by_key, visible_projects

bp = Blueprint("issues", __name__)


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if load_current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


class IssueForm(FlaskForm):
    summary = StringField("Summary", validators=[DataRequired(), Length(max=500)])
    description = TextAreaField("Description", validators=[Length(max=20000)])


@bp.route("/")
@login_required
def index():
    user = load_current_user()
    projects = visible_projects(user)
    jql = request.args.get("jql", "").strip()
    if jql:
        try:
            issues = list(db_session().scalars(search_statement(parse(jql), user, for_hosts.connected_item_ids())))
        except JqlError as exc:
            return render_template("index.html", projects=projects, issues=[], user=user, jql=jql,
                                   jql_error=str(exc)), 400
    else:
        issues = list(db_session().scalars(
            select(Issue).where(Issue.project_id.in_([p.id for p in projects])).order_by(Issue.project_id, Issue.number)
        )) if projects else []
    return render_template("index.html", projects=projects, issues=issues, user=user, jql=jql, jql_error=None)


def _connected_form_values(fields: list[dict]) -> dict:
    values = {}
    for field in fields:
        key = field["field_key"]
        if field["editor"] == "readonly" or key not in request.form and f"{key}__present" not in request.form:
            continue
        raw = request.form.getlist(key) if field["editor"] == "multiselect" else request.form.get(key, "")
        values[key] = [v for v in raw if v] if isinstance(raw, list) else raw
    return values


@dataclass
class Submission:
    """What an issue form's POST came to: the saved issue, or the errors, the status
    and the connected values sent (shown again on the refused form)."""

    saved: Issue | None = None
    errors: dict = dataclass_field(default_factory=dict)
    status: int = 200
    submitted: dict = dataclass_field(default_factory=dict)


def _submit(form: IssueForm, fields: list[dict], save) -> Submission:
    """On POST, ``save(values)`` with the summary, description and the connected
    values picked, in one transaction (all or nothing); on GET, nothing."""
    if request.method != "POST":
        return Submission()
    submitted = _connected_form_values(fields)
    if not form.validate_on_submit():
        return Submission(None, {k: " ".join(v) for k, v in form.errors.items()}, 400, submitted)
    try:
        issue = save({"summary": form.summary.data, "description": form.description.data, **submitted})
        db_session().commit()
        return Submission(issue, {}, 200, submitted)
    except ValidationError as exc:
        db_session().rollback()
        return Submission(None, exc.fields or {"form": exc.message}, 400, submitted)
    except UpstreamError as exc:
        db_session().rollback()
        user = load_current_user()
        shown = for_hosts.error_message_for(exc, admin=bool(user and user.is_admin))
        return Submission(None, {"form": f"Nothing was saved: {shown}"}, exc.status, submitted)


@bp.route("/browse/<key>", methods=["GET", "POST"])
@login_required
def browse(key: str):
    user = load_current_user()
    issue = issue_by_key(key)
    if issue is None:
        abort(404, f"There is no issue {key}.")
    if not can_edit(user, issue):
        abort(403, f"You may not see {issue.key}: you are not a member of project {issue.project.key}.")
    fields = for_hosts.connected_fields(issue.project.key)
    form = IssueForm(obj=issue)
    done = _submit(form, fields, lambda values: apply_fields(issue, user, values) or issue)
    if done.saved is not None:
        flash(f"{issue.key} saved.")
        return redirect(url_for("issues.browse", key=issue.key))
    if request.method == "POST":
        issue = issue_by_key(key)  # as stored, after the rollback
    values = {**(issue.custom_fields or {}), **_as_snapshots(done.submitted)}
    return render_template("browse.html", issue=issue, form=form, fields=fields, errors=done.errors,
                           values=values), done.status


@bp.route("/projects/<project_key>/create", methods=["GET", "POST"])
@login_required
def create(project_key: str):
    """The create screen: summary, description and the project's connected fields,
    whose options load with ``project=`` (there is no issue yet)."""
    user = load_current_user()
    project = project_by_key(project_key)
    if project is None:
        abort(404, f"There is no project {project_key}.")
    if not can_create_in(user, project):
        abort(403, f"You may not create issues in {project.key}: you are not a member of the project.")
    fields = for_hosts.connected_fields(project.key)
    form = IssueForm()
    done = _submit(form, fields, lambda values: create_issue(project, user, values))
    if done.saved is not None:
        flash(f"{done.saved.key} created.")
        return redirect(url_for("issues.browse", key=done.saved.key))
    return render_template("create.html", project=project, form=form, fields=fields, errors=done.errors,
                           values=_as_snapshots(done.submitted)), done.status


def _as_snapshots(submitted: dict) -> dict:
    """What the user picked on a form that was refused, shaped like stored snapshots
    so the page shows it again (the field script then loads the real labels)."""
    shaped = {}
    for key, raw in submitted.items():
        if isinstance(raw, list):
            shaped[key] = [{"value": v, "label": v} for v in raw]
        else:
            shaped[key] = {"value": raw, "label": raw} if raw else None
    return shaped
