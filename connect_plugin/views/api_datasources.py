"""JSON API: datasource types, datasources, test connection, cache clear, stats."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..datasources import DATASOURCE_TYPES
from ..datasources import service as service
from .. import for_hosts
from ..datasources.connector import test_connection
from ..state import session, state
from ..stats.report import parse_hours, stats_for
from .guards import actor, api_admin
from .payloads import json_body


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
    datasource = service.create(db, json_body(), box=state().box, policy=state().policy, actor=actor())
    db.commit()
    return jsonify(service.serialize(datasource, state().box)), 201


@api_admin
def get_datasource(datasource_id: int):
    return jsonify(service.serialize(service.get(session(), datasource_id), state().box))


@api_admin
def patch_datasource(datasource_id: int):
    db = session()
    datasource = service.update(db, service.get(db, datasource_id), json_body(), box=state().box,
                                policy=state().policy, actor=actor())
    db.commit()
    state().tokens.drop_datasource(datasource.id)
    return jsonify(service.serialize(datasource, state().box))


@api_admin
def delete_datasource(datasource_id: int):
    db = session()
    service.delete(db, service.get(db, datasource_id), actor=actor())
    state().stats.forget(datasource_id, session=db)
    db.commit()
    state().tokens.drop_datasource(datasource_id)
    return "", 204


@api_admin
def test_datasource(datasource_id: int):
    return jsonify(test_connection(state(), service.get(session(), datasource_id)))


@api_admin
def clear_datasource_cache(datasource_id: int):
    for_hosts.clear_datasource_cache(datasource_id, actor=actor())
    return jsonify({"ok": True})


@api_admin
def datasource_stats(datasource_id: int):
    hours = parse_hours(request.args.get("hours"))
    service.get(session(), datasource_id)  # 404 for an unknown id
    return jsonify(stats_for(state().stats, datasource_id, hours))


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
    rule("/api/datasources/<int:datasource_id>/stats", view_func=datasource_stats, methods=["GET"])
