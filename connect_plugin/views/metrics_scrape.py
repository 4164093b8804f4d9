"""``GET /plugins/connect/metrics``: the Prometheus scrape of connect_plugin/metrics.py.

Admins may read it like any admin route, and so may a scraper that sends
``Authorization: Bearer <CONNECT_METRICS_TOKEN>``; anyone else gets what every
admin-only API route answers: 401 when not logged in, 403 otherwise.
"""

from __future__ import annotations

import functools
from typing import Callable

from flask import Blueprint, Response, request

from ..state import state
from ..metrics import CONTENT_TYPE
from .guards import api_admin


def admin_or_metrics_token(view: Callable) -> Callable:
    """Admins, or a caller with the metrics token."""
    as_admin = api_admin(view)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if state().metrics.token_matches(request.headers.get("Authorization")):
            return view(*args, **kwargs)
        return as_admin(*args, **kwargs)

    wrapper.connect_audience = "admin"
    return wrapper


@admin_or_metrics_token
def metrics():
    return Response(state().metrics.exposition(), headers={"Content-Type": CONTENT_TYPE,
                                                           "Cache-Control": "no-store"})


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
