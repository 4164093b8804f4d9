"""The host itself over HTTPS on loopback, for the demo's issue picker.

Datasources call HTTPS only, with certificates verified. The demo's issue picker
reads this tracker's own Jira-shaped API (``/rest/api/2/search``), so ``make run``
also serves the same app on a second, HTTPS, loopback port with the demo's
certificate (trusted through ``CONNECT_CA_BUNDLE`` like the sample API). People
keep using the plain ``http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from .certs import CertPaths
from .upstream import server_context, stop_server

HOST = "127.0.0.1"


class TrackerTLS:
    def __init__(self, app: Flask, certs: CertPaths):
        self.app = app
        self.certs = certs
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "TrackerTLS":
        self._server = make_server(HOST, 0, self.app, threaded=True, ssl_context=server_context(self.certs))
        self._thread = threading.Thread(target=self._server.serve_forever, name="connect-demo-tracker-tls",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        stop_server(server, thread)

    @property
    def api_url(self) -> str:
        if self._server is None:
            raise RuntimeError("The tracker's HTTPS port is not started.")
        return f"https://{HOST}:{self._server.server_port}/rest/api/2"
