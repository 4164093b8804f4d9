"""The reference host plus one bare JSON route, for the benchmark only.

``gunicorn 'benchmarks.bench_app:create_app()'`` serves exactly the product app
(:func:`plugin_host.create_app`) with one more route, ``GET /bench/bare``: the same
login check as every route (:func:`plugin_host.auth.load_current_user`, so the
same session cookie and the same user lookup), then a fixed answer of the options
endpoint's shape (50 options of 500). It is the floor the options endpoint is
measured against: same process, same framework, same hooks, same JSON encoder,
nothing of the plugin.

Every answer also carries ``X-Bench-Worker`` (the worker's pid), so the bench can see
how its connections were spread over the workers. The route is not part of the
product: it exists only in this module.
"""

from __future__ import annotations

import os

from flask import jsonify

from .upstream import make_row

# The first page the options endpoint answers for the bench's 500-row item, byte for byte.
BARE_OPTIONS = [{"value": row["id"], "label": f"{row['name']} ({row['serial']})"}
                for row in map(make_row, range(50))]


def create_app(config: dict | None = None):
    from plugin_host import create_app as create_host_app
    from plugin_host.auth import load_current_user

    app = create_host_app(config)

    def bare():
        if load_current_user() is None:
            return jsonify({"error": "Log in first: send the session cookie or HTTP Basic credentials."}), 401
        return jsonify({"options": BARE_OPTIONS, "total": 500, "cached": True})

    app.add_url_rule("/bench/bare", endpoint="bench_bare", view_func=bare, methods=["GET"])

    @app.after_request
    def _worker_header(response):
        response.headers["X-Bench-Worker"] = str(os.getpid())
        return response

    return app
