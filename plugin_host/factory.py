"""The app factory of the reference host."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from connect_plugin.for_hosts import Database, needs_csrf_token
from connect_plugin.static_files import ONE_YEAR, folder_digest

from . import auth, issues, rest_api
from .login_throttle import make_throttle
from .cli import register_commands
from .db import close_session
from .plugins import load_plugins
from .security_headers import add_security_headers
from .settings import configure, instance_path

csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=(config or {}).get("INSTANCE_PATH") or instance_path())
    configure(app, config)

    app.extensions["host_db"] = Database(app.config["DATABASE_URL"])
    app.extensions["host_login_throttle"] = make_throttle(app.config)
    app.teardown_appcontext(close_session)

    csrf.init_app(app)
    app.before_request(auth.refuse_throttled_basic)

    @app.before_request
    def _csrf_for_session_calls():
        # The plugin's rule (connect_plugin.csrf_policy), with flask-wtf's full check
        # (its HTTPS referrer check included) for the host's own routes.
        if needs_csrf_token(request.method, basic_auth=auth.uses_basic_auth(),
                            logged_in=auth.load_current_user() is not None):
            csrf.protect()

    app.config.setdefault("CONNECT_BASE_TEMPLATE", "layout.html")
    _cache_static_files(app)

    @app.context_processor
    def _layout_helpers():
        return {
            "host_user": auth.load_current_user,
            "admin_pages": lambda: [page for manifest in app.extensions.get("host_plugins", [])
                                    for page in manifest.admin_pages],
        }

    app.register_blueprint(auth.bp)
    app.register_blueprint(issues.bp)
    app.register_blueprint(rest_api.bp)
    load_plugins(app)
    register_commands(app)
    app.after_request(add_security_headers)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        if request.path.startswith("/rest/") or "/api/" in request.path:
            return jsonify({"error": f"The CSRF token is missing or invalid ({exc.description}). "
                                     "Send the X-CSRFToken header."}), 400
        return render_template("error.html", code=400, message=exc.description), 400

    for code in (403, 404, 405):
        app.register_error_handler(code, _error_page)
    return app


def _error_page(exc):
    if request.path.startswith("/rest/") or "/api/" in request.path:
        return jsonify({"error": exc.description}), exc.code
    return render_template("error.html", code=exc.code, message=exc.description), exc.code


def _cache_static_files(app: Flask) -> None:
    """The host's stylesheet and icon are cached by browsers for a year: their URLs
    carry ``?v=<digest of the static folder>``, which every change of a file changes.
    The stylesheet blocks the page's scripts until it is loaded, so on a warm visit it
    must not cost a round trip (bench scenario 11)."""
    digest = folder_digest(Path(app.static_folder or ""))

    @app.url_defaults
    def _static_version(endpoint: str, values: dict) -> None:
        if endpoint == "static":
            values.setdefault("v", digest)

    original = app.get_send_file_max_age

    def max_age(filename: str | None) -> int | None:
        return ONE_YEAR if request.args.get("v") == digest else original(filename)

    app.get_send_file_max_age = max_age  # type: ignore[method-assign]
