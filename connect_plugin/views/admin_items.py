"""Admin pages for connected items: the list, the create/edit form with the
configuration tester, and deletion with a confirmation step."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from .. import forms, item_forms
from ..connected_items import refresh as refresh_service
from ..connected_items import tester as item_tester
from ..connected_items.catalogue import field_key
from ..connected_items import service as item_service
from ..datasources import service as datasource_service
from ..errors import ValidationError
from ..state import session, state
from ..models import ConnectedItem
from .confirm_delete import confirm_delete
from .guards import actor, current_user, page_admin


def _datasource_choices() -> list[tuple[int, str]]:
    return [(ds.id, ds.name) for ds in datasource_service.list_all(session())]


def _dependencies(data: dict) -> list[dict]:
    """The items this one depends on, for the tester's inputs."""
    deps = []
    for dep_id in data["depends_on"]:
        other = session().get(ConnectedItem, dep_id)
        deps.append({"key": field_key(dep_id), "name": other.name if other else f"Item {dep_id}"})
    return deps


def _render_form(form, item=None, errors=None, other=None, status=200, tester=None, tester_form=None,
                 tester_errors=None, refreshed=None):
    data = item_service.serialize(item) if item is not None else None
    deps = _dependencies(data) if data else []
    return render_template(
        "connect/item_form.html", form=form, item=data, errors=errors or {}, other_errors=other or [],
        variables=item_forms.QUERY_VARIABLES, has_datasources=len(form.datasource_id.choices) > 1,
        tester=tester, tester_form=tester_form or item_forms.TesterForm(formdata=None),
        tester_errors=tester_errors or {},
        tester_deps=deps, tester_values=request.form if tester is not None or tester_errors else {},
        refresh_form=item_forms.RefreshForm(formdata=None), refreshed=refreshed,
    ), status


@page_admin
def items_list():
    items = [item_service.serialize(item) for item in item_service.list_all(session())]
    return render_template("connect/items_list.html", items=items, editors=item_service.EDITORS)


def _save(item=None):
    form = item_forms.item_form(_datasource_choices())
    db = session()
    try:
        payload = item_forms.item_payload(form)
        if item is None:
            item = item_service.create(db, payload, actor=actor())
        else:
            item = item_service.update(db, item, payload, actor=actor())
    except ValidationError as exc:
        db.rollback()
        errors, other = forms.split_errors(exc.fields, item_forms.ITEM_ERROR_MAP)
        if not exc.fields:
            other.append(exc.message)
        current = item_service.get(db, item.id) if item is not None else None
        return _render_form(form, current, errors, other, 400)
    db.commit()
    flash(f"Connected item {item.name} saved.")
    return redirect(url_for(".item_detail", item_id=item.id))


@page_admin
def item_new():
    if request.method == "POST":
        return _save()
    return _render_form(item_forms.item_form(_datasource_choices(), from_request=False))


@page_admin
def item_detail(item_id: int):
    item = item_service.get(session(), item_id)
    if request.method == "POST":
        return _save(item)
    return _render_form(item_forms.item_form(_datasource_choices(), item_service.serialize(item), from_request=False),
                        item)


@page_admin
def item_test(item_id: int):
    """The configuration tester without JavaScript (admin.js calls the API instead)."""
    db = session()
    item = item_service.get(db, item_id)
    tester_form = item_forms.TesterForm()
    errors: dict[str, str] = {}
    issue = user = None
    try:
        issue, user = item_tester.subjects(state().host, tester_form.issue.data, tester_form.user.data,
                                           current_user())
    except ValidationError as exc:
        errors = exc.fields
    deps = {key[5:]: value for key, value in request.form.items() if key.startswith("deps.") and value != ""}
    form = item_forms.item_form(_datasource_choices(), item_service.serialize(item), from_request=False)
    if errors:
        return _render_form(form, item, tester_form=tester_form, tester_errors=errors, status=400)
    result = item_tester.trace(state(), db, item, issue=issue, user=user, deps=deps,
                                   query_text=tester_form.q.data or None)
    return _render_form(form, item, tester=result, tester_form=tester_form)


@page_admin
def item_refresh(item_id: int):
    """"Refresh stored values": the summary is shown on the item's page."""
    db = session()
    item = item_service.get(db, item_id)
    dry_run = item_forms.RefreshForm().dry_run.data
    summary = refresh_service.refresh_item(state(), db, item, actor=actor(), dry_run=dry_run)
    db.commit()
    form = item_forms.item_form(_datasource_choices(), item_service.serialize(item), from_request=False)
    return _render_form(form, item, refreshed={"summary": summary.line(), "dry_run": dry_run})


@page_admin
def item_delete(item_id: int):
    item = item_service.get(session(), item_id)
    return confirm_delete(item, kind="connected item", delete=item_service.delete,
                          cancel_url=url_for(".item_detail", item_id=item.id), done_url=url_for(".items_list"))


def register(bp: Blueprint) -> None:
    rule = bp.add_url_rule
    rule("/admin/items", "items_list", items_list, methods=["GET"])
    rule("/admin/items/new", "item_new", item_new, methods=["GET", "POST"])
    rule("/admin/items/<int:item_id>", "item_detail", item_detail, methods=["GET", "POST"])
    rule("/admin/items/<int:item_id>/test", "item_test", item_test, methods=["POST"])
    rule("/admin/items/<int:item_id>/refresh", "item_refresh", item_refresh, methods=["POST"])
    rule("/admin/items/<int:item_id>/delete", "item_delete", item_delete, methods=["GET", "POST"])
