"""JSON API: the whole configuration as data (export and import)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..configuration.export import export_config
from ..configuration.importer import import_config
from ..state import session, state
from .api_items import flag_arg
from .guards import actor, api_admin
from .payloads import json_body


@api_admin
def get_config():
    return jsonify(export_config(session(), state().box))


@api_admin
def post_config():
    """Create or update by name, in one transaction; ``?dry_run=1`` writes nothing."""
    dry_run = flag_arg("dry_run")
    plan = import_config(state(), session(), json_body(), actor=actor(), dry_run=dry_run)
    return jsonify({**plan.as_json(), "dry_run": dry_run})


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/api/config", view_func=get_config, methods=["GET"])
    bp.add_url_rule("/api/config", view_func=post_config, methods=["POST"])
