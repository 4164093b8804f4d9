"""The benchmark's upstream: a threaded HTTPS JSON API on loopback, in its own process.

``python -m benchmarks.upstream --cert-dir DIR [--port 0]`` prints ``LISTENING <port>``
once it accepts connections. Its certificate comes from
:func:`plugin_host.demo.certs.ensure_certs` (``DIR/ca.pem`` is the CA to trust).

Routes (GET, HTTP/1.1 keep-alive):

* ``/rows?n=N[&delay=S]`` -> ``{"items": [row, ...]}`` with ``N`` rows of about 163
  bytes each (50,000 rows are about 8 MB), answered after ``S`` seconds. The bodies
  are built once per ``N`` and kept, so serving costs only the copy to the socket.
* ``/pages?per=M&pages=K[&page=P]`` -> page ``P`` (1 first) of ``K`` pages of ``M`` rows,
  ``{"items": [...]}``, with ``Link: </pages?per=M&pages=K&page=P+1>; rel="next"`` on every
  page but the last (GitHub's shape; the rows are those of ``/rows``, in order).
* ``/hang?seconds=S`` -> nothing for ``S`` seconds (default 30), then ``{}``: a
  datasource that hangs.
* ``/__stats`` -> ``{"<path?query>": calls, ...}``; ``/__reset`` zeroes the counts.
  These two are not counted.

Every other request is counted by its full target (path and query), so the bench
can tell how many upstream calls one scenario made.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WORDS = ("Laptop", "Monitor", "Phone", "Keyboard", "Headset", "Dock", "Tablet", "Printer", "Router", "Camera")
HANG_CAP_SECONDS = 60.0


def make_row(i: int) -> dict:
    word = WORDS[i % len(WORDS)]
    return {
        "id": f"A-{i:07d}",
        "name": f"{word} {i} of team {i % 97}",
        "serial": f"SN{(i * 2654435761) & 0xFFFFFFFF:08X}",
        "owner": f"user{i % 1000}@example.com",
        "type": word,
        "location": f"Building {i % 7}, floor {i % 5}, room {i % 300}",
    }


class _Bodies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[int, bytes] = {}

    def get(self, n: int) -> bytes:
        with self._lock:
            body = self._bodies.get(n)
            if body is None:
                body = json.dumps({"items": [make_row(i) for i in range(n)]}, separators=(",", ":")).encode()
                self._bodies[n] = body
            return body

    def page(self, per: int, pages: int, page: int) -> tuple[bytes, str]:
        """Page ``page`` of ``pages`` and its Link header (built once, like the rows)."""
        key = -(per * 1_000_000 + page)
        with self._lock:
            body = self._bodies.get(key)
            if body is None:
                rows = [make_row(i) for i in range((page - 1) * per, page * per)]
                body = json.dumps({"items": rows}, separators=(",", ":")).encode()
                self._bodies[key] = body
        link = f'</pages?per={per}&pages={pages}&page={page + 1}>; rel="next"' if page < pages else ""
        return body, link


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, context: ssl.SSLContext):
        self.context = context
        self.bodies = _Bodies()
        self.counts: Counter[str] = Counter()
        self.counts_lock = threading.Lock()
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's own thread. No Nagle: headers and
        # body leave as separate writes, which must not wait for a delayed ACK.
        request.settimeout(120)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ValueError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *_args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, link: str = "") -> None:
        self.send_response(status)
        if link:
            self.send_header("Link", link)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        args = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/__stats":
            with self.server.counts_lock:
                self._send(200, json.dumps(dict(self.server.counts)).encode())
            return
        if parts.path == "/__reset":
            with self.server.counts_lock:
                self.server.counts.clear()
            self._send(200, b"{}")
            return
        with self.server.counts_lock:
            self.server.counts[self.path] += 1
        if parts.path == "/rows":
            n = int(args.get("n", "50"))
            delay = float(args.get("delay", "0"))
            if delay > 0 and self.server.stopping.wait(delay):
                return
            self._send(200, self.server.bodies.get(n))
        elif parts.path == "/pages":
            body, link = self.server.bodies.page(int(args.get("per", "500")), int(args.get("pages", "50")),
                                                 int(args.get("page", "1")))
            self._send(200, body, link)
        elif parts.path == "/hang":
            seconds = min(float(args.get("seconds", "30")), HANG_CAP_SECONDS)
            if self.server.stopping.wait(seconds):
                self.close_connection = True
                return
            self._send(200, b"{}")
        else:
            self._send(404, b'{"error":"no such route"}')


def serve(cert_dir: str, port: int = 0, prebuild: tuple[int, ...] = ()) -> None:
    from plugin_host.demo.certs import ensure_certs

    found = ensure_certs(cert_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(found.cert), str(found.key))
    server = _Server(("127.0.0.1", port), context)
    for n in prebuild:
        server.bodies.get(n)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        # Stop when the parent closes our stdin (or dies), never later than an hour.
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            if not sys.stdin.readline():
                break
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert-dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prebuild", default="", help="comma-separated row counts to build at start")
    args = parser.parse_args(argv)
    prebuild = tuple(int(n) for n in args.prebuild.split(",") if n.strip())
    serve(args.cert_dir, args.port, prebuild)


if __name__ == "__main__":
    main()
