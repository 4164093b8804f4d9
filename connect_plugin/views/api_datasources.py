"""JSON API: datasource types, datasources, test connection, cache clear."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..datasources import service as service
from ..datasources.connector import Connector
from ..datasources import DATASOURCE_TYPES
from ..errors import SecretUnreadable, ValidationError
from ..extension import session, state
from ..outbound import check_datasource_url
from .guards import actor, api_admin


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object (Content-Type: application/json).")
    return data


def url_check(url: str, field: str) -> None:
    check_datasource_url(url, field, state().policy)


@api_admin
def datasource_types():
    return jsonify([cls.describe() for cls in DATASOURCE_TYPES.values()])


@api_admin
def list_datasources():
    box = state().box
    return jsonify([service.serialize(ds, box) for ds in service.list_all(session())])


@api_admin
def create_datasource():
    db = session()
    datasource = service.create(db, json_body(), box=state().box, url_check=url_check, actor=actor())
    db.commit()
    return jsonify(service.serialize(datasource, state().box)), 201


@api_admin
def get_datasource(datasource_id: int):
    return jsonify(service.serialize(service.get(session(), datasource_id), state().box))


@api_admin
def patch_datasource(datasource_id: int):
    db = session()
    datasource = service.update(db, service.get(db, datasource_id), json_body(), box=state().box,
                                url_check=url_check, actor=actor())
    db.commit()
    return jsonify(service.serialize(datasource, state().box))


@api_admin
def delete_datasource(datasource_id: int):
    db = session()
    service.delete(db, service.get(db, datasource_id), actor=actor())
    db.commit()
    return "", 204


def run_test(datasource) -> dict:
    """Test connection, shared by the API and the wizard page."""
    st = state()
    try:
        secrets = service.decrypt_secrets(datasource, st.box)
    except SecretUnreadable as exc:
        return {"ok": False, "error": exc.message, "elapsed_ms": 0}
    return Connector(datasource, secrets, client=st.client, limiter=st.limiter).test().as_json()


@api_admin
def test_datasource(datasource_id: int):
    return jsonify(run_test(service.get(session(), datasource_id)))


@api_admin
def clear_datasource_cache(datasource_id: int):
    db = session()
    service.clear_cache(db, service.get(db, datasource_id), actor=actor())
    db.commit()
    return jsonify({"ok": True})


def register(bp: Blueprint) -> None:
    rule = bp.add_url_rule
    rule("/api/datasource-types", view_func=datasource_types, methods=["GET"])
    rule("/api/datasources", view_func=list_datasources, methods=["GET"])
    rule("/api/datasources", view_func=create_datasource, methods=["POST"])
    rule("/api/datasources/<int:datasource_id>", view_func=get_datasource, methods=["GET"])
    rule("/api/datasources/<int:datasource_id>", view_func=patch_datasource, methods=["PATCH"])
    rule("/api/datasources/<int:datasource_id>", view_func=delete_datasource, methods=["DELETE"])
    rule("/api/datasources/<int:datasource_id>/test", view_func=test_datasource, methods=["POST"])
    rule("/api/datasources/<int:datasource_id>/cache/clear", view_func=clear_datasource_cache, methods=["POST"])
