"""Who may call what, CSRF, and turning typed errors into answers.

Every route of the blueprint declares its audience with one of the decorators
below; ``tests/security/test_authz_matrix.py (table: tests/security/access_table.py)`` fails for a route that declares none.
"""

from __future__ import annotations

import functools
import logging
from typing import Callable

from flask import abort, g, jsonify, redirect, render_template, request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError as WTFValidationError

from ..csrf_policy import needs_token, submitted_token
from ..error_notices import concerns_admins, json_for, message_for
from ..errors import ConnectError, Forbidden, Unauthorized, UpstreamBusy
from ..state import state
from ..host_adapter import HostUser

log = logging.getLogger("connect_plugin.views")



def current_user() -> HostUser | None:
    if "connect_user" not in g:
        g.connect_user = state().host.current_user()
    return g.connect_user


def actor() -> str:
    user = current_user()
    return user.account_id if user else "anonymous"


def _is_api() -> bool:
    return "/api/" in request.path or request.endpoint == f"{request.blueprint}.metrics"


def api_user(view: Callable) -> Callable:
    """JSON route for any logged-in user: 401 otherwise."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            raise Unauthorized("Log in first: send the session cookie or HTTP Basic credentials.")
        return view(*args, **kwargs)

    wrapper.connect_audience = "user"
    return wrapper


def api_admin(view: Callable) -> Callable:
    """JSON route for admins: 401 when not logged in, 403 when not an admin."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            raise Unauthorized("Log in first: send the session cookie or HTTP Basic credentials.")
        if not user.is_admin:
            raise Forbidden("Only administrators may manage datasources and connected items.")
        return view(*args, **kwargs)

    wrapper.connect_audience = "admin"
    return wrapper


def page_admin(view: Callable) -> Callable:
    """Admin page: a visitor who is not logged in goes to the login page, others get 403."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect(state().host.login_url(request.full_path.rstrip("?")))
        if not user.is_admin:
            abort(403, "Only administrators manage datasources and connected items.")
        return view(*args, **kwargs)

    wrapper.connect_audience = "admin"
    return wrapper


def public(view: Callable) -> Callable:
    """Routes anyone may read (static assets, the API description)."""
    view.connect_audience = "public"
    return view


def check_csrf() -> None:
    """The plugin's routes under the one CSRF rule of :mod:`connect_plugin.csrf_policy`."""
    if not needs_token(request.method, basic_auth=state().host.request_uses_basic_auth(),
                       logged_in=current_user() is not None):
        return
    try:
        validate_csrf(submitted_token(request.headers, request.form, request.mimetype))
    except (WTFValidationError, CSRFError) as exc:
        raise ConnectError(f"The CSRF token is missing or invalid ({exc}). Reload the page and try again.",
                           status=400) from None


def handle_error(exc: ConnectError):
    """An upstream's detail for admins only (:mod:`..error_notices`)."""
    if exc.status >= 500 and not concerns_admins(exc):
        log.info("%s %s answered %s: %s", request.method, request.path, exc.status, exc.message)
    # A busy datasource frees a slot within moments; the field script retries then.
    headers = {"Retry-After": "1"} if isinstance(exc, UpstreamBusy) else {}
    user = current_user()
    admin = bool(user and user.is_admin)
    if _is_api():
        return jsonify(json_for(exc, admin=admin)), exc.status, headers
    return (render_template("connect/error.html", error=exc, message=message_for(exc, admin=admin)),
            exc.status, headers)


def handle_http_error(exc):
    """JSON for API paths (the API never answers HTML), the host's page otherwise."""
    if _is_api():
        return jsonify({"error": exc.description or exc.name}), exc.code
    return exc
