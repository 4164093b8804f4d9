"""The blueprint's routes: the JSON API and the admin pages."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import HTTPException

from ..errors import ConnectError
from . import (admin_audit, admin_datasources, admin_items, admin_oauth, api_config, api_datasources, api_items,
               api_openapi, metrics_scrape)
from .guards import check_csrf, handle_error, handle_http_error


def register_views(bp: Blueprint) -> None:
    bp.before_request(check_csrf)
    bp.register_error_handler(ConnectError, handle_error)
    bp.register_error_handler(HTTPException, handle_http_error)
    for module in (api_datasources, api_items, api_config, api_openapi, admin_datasources, admin_oauth,
                   admin_items, admin_audit, metrics_scrape):
        module.register(bp)
