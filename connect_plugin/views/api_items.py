"""JSON API: connected items, their options, the configuration tester."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..connected_items import access
from ..connected_items import options as options_service
from ..connected_items import read_model
from ..connected_items import refresh as refresh_service
from ..connected_items import tester as item_tester
from ..connected_items import service as service
from ..errors import MissingDependency, ValidationError
from ..state import session, state
from .guards import actor, api_admin, api_user, current_user
from .payloads import json_body


@api_admin
def list_items():
    return jsonify([service.serialize(item) for item in service.list_all(session())])


@api_admin
def create_item():
    db = session()
    item = service.create(db, json_body(), actor=actor())
    db.commit()
    return jsonify(service.serialize(item)), 201


@api_admin
def get_item(item_id: int):
    return jsonify(service.serialize(service.get(session(), item_id)))


@api_admin
def patch_item(item_id: int):
    db = session()
    item = service.update(db, service.get(db, item_id), json_body(), actor=actor())
    db.commit()
    return jsonify(service.serialize(item))


@api_admin
def delete_item(item_id: int):
    db = session()
    service.delete(db, service.get(db, item_id), actor=actor())
    db.commit()
    return "", 204


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number.", {name: f"{name} must be a whole number."}) from None
    if not low <= value <= high:
        raise ValidationError(f"{name} must be between {low} and {high}.", {name: f"between {low} and {high}"})
    return value


def read_deps() -> dict:
    deps = {}
    for key in request.args:
        if key.startswith("deps."):
            values = request.args.getlist(key)
            deps[key[5:]] = values if len(values) > 1 else values[0]
    return deps


@api_user
def item_options(item_id: int):
    """The right first (issue= or project=), then the item (connected_items/access.py)."""
    db = session()
    scope = access.options_scope(state().host, current_user(), issue_key=request.args.get("issue"),
                                 project_key=request.args.get("project"))
    item = read_model.load_item(db, item_id)
    access.require_offered(item, scope)
    limit = _int_arg("limit", options_service.DEFAULT_LIMIT, 1, options_service.MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 10**9)
    try:
        page = options_service.options_for(
            state(), db, item, issue=scope.issue, project=scope.project, user=current_user(), deps=read_deps(),
            query_text=request.args.get("q"), limit=limit, offset=offset,
        )
    except MissingDependency as exc:
        # Not an error: the field waits for another one to be filled in.
        return jsonify({"options": [], "total": 0, "cached": False, "missing": exc.field, "message": exc.message})
    return jsonify(page.as_json())


@api_admin
def test_item(item_id: int):
    """The configuration tester: one uncached evaluation, every step shown."""
    db = session()
    item = service.get(db, item_id)
    body = request.get_json(silent=True) or {}
    issue, user = item_tester.subjects(state().host, body.get("issue"), body.get("user"), current_user())
    deps = body.get("deps") or {}
    if not isinstance(deps, dict):
        raise ValidationError("deps must be an object.", {"deps": "deps must map field names to values."})
    project = body.get("project")
    if project is not None and not isinstance(project, str):
        raise ValidationError("project must be a project key.", {"project": "project must be a project key."})
    result = item_tester.trace(state(), db, item, issue=issue, user=user, deps={str(k): v for k, v in deps.items()},
                               query_text=body.get("q"), project=(project or "").strip() or None)
    return jsonify(result)


def flag_arg(name: str) -> bool:
    """A yes/no query parameter: ``1``/``true``/``yes`` or ``0``/``false``/``no`` (absent: no)."""
    raw = request.args.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ValidationError(f"{name} must be 1 or 0.", {name: f"{name} must be 1 or 0."})


@api_admin
def refresh_item(item_id: int):
    """Re-check the item's stored values (connected_items/refresh.py)."""
    db = session()
    item = service.get(db, item_id)
    summary = refresh_service.refresh_item(state(), db, item, actor=actor(), dry_run=flag_arg("dry_run"))
    db.commit()
    return jsonify(summary.as_json())


def register(bp: Blueprint) -> None:
    rule = bp.add_url_rule
    rule("/api/items", view_func=list_items, methods=["GET"])
    rule("/api/items", view_func=create_item, methods=["POST"])
    rule("/api/items/<int:item_id>", view_func=get_item, methods=["GET"])
    rule("/api/items/<int:item_id>", view_func=patch_item, methods=["PATCH"])
    rule("/api/items/<int:item_id>", view_func=delete_item, methods=["DELETE"])
    rule("/api/items/<int:item_id>/options", view_func=item_options, methods=["GET"])
    rule("/api/items/<int:item_id>/test", view_func=test_item, methods=["POST"])
    rule("/api/items/<int:item_id>/refresh", view_func=refresh_item, methods=["POST"])
