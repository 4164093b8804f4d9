"""Loopback HTTPS servers for tests.

Everything here listens on loopback only (127.0.0.1 by default, any 127.x or
::1 on request) on an ephemeral port, and stops by itself when the test ends.

    ca = make_ca()                                  # a trustme.CA
    bundle = write_ca_pem(ca, tmp_path / "ca.pem")  # for CONNECT_CA_BUNDLE
    with HTTPSServer(ca, {"/items": Json({"items": []})}) as server:
        server.url("/items")                         # https://127.0.0.1:PORT/items
        server.requests[0].headers["authorization"]  # what arrived
        server.accepted_connections                  # TCP connections accepted

A route maps a path (without query) to either a behaviour object or a callable
``handler(request: RecordedRequest)`` returning a behaviour or a
``(status, headers, body)`` tuple. Behaviours: :class:`Reply`, :class:`Json`,
:class:`Redirect`, :class:`Sleep` (slow headers), :class:`Drip` (slow body),
:class:`Huge` (large body, sized or chunked), :class:`Stall` (claims a length,
sends nothing), :class:`GzipBomb`, :class:`Chunked`.
"""

from __future__ import annotations

import functools
import json as _json
import socket
import ssl
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

import trustme

LOOPBACK_HOSTNAMES = ("127.0.0.1", "localhost")


# --- certificates --------------------------------------------------------------------


def make_ca() -> trustme.CA:
    """A fresh test certificate authority."""
    return trustme.CA()


def write_ca_pem(ca: trustme.CA, path: str | Path) -> str:
    """Write the CA's certificate (PEM) to ``path``; return the path as a string."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, hostnames: Iterable[str] = LOOPBACK_HOSTNAMES) -> ssl.SSLContext:
    """A server-side TLS context with a leaf certificate for ``hostnames``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*hostnames).configure_cert(context)
    return context


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# --- what arrived --------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    server_name: str | None = None  # SNI sent by the client, if any

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


# --- behaviours ------------------------------------------------------------------------


class Behaviour:
    """Something a route does with the connection."""

    def serve(self, handler: "_Handler") -> None:  # pragma: no cover - interface
        raise NotImplementedError


def _header_items(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    if not headers:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


@dataclass
class Reply(Behaviour):
    status: int = 200
    headers: Mapping[str, str] | None = None
    body: bytes | str = b""

    def serve(self, handler: "_Handler") -> None:
        body = self.body.encode("utf-8") if isinstance(self.body, str) else self.body
        items = _header_items(self.headers)
        if not any(k.lower() == "content-length" for k, _ in items):
            items.append(("Content-Length", str(len(body))))
        handler.send_head(self.status, items)
        if handler.command != "HEAD":
            handler.write(body)


def Json(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    merged = {"Content-Type": "application/json"}
    merged.update(headers or {})
    return Reply(status, merged, _json.dumps(obj).encode("utf-8"))


def Redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, {"Location": location}, b"")


@dataclass
class Sleep(Behaviour):
    """Wait ``seconds`` before sending anything (slow headers), then ``then``."""

    seconds: float
    then: Behaviour | None = None

    def serve(self, handler: "_Handler") -> None:
        if handler.server.stopping.wait(self.seconds):
            handler.close_connection = True
            return
        (self.then or Reply(200, {"Content-Type": "application/json"}, b"{}")).serve(handler)


@dataclass
class Drip(Behaviour):
    """Send the headers at once, then the body one byte every ``interval`` s."""

    body: bytes = b"x" * 100
    interval: float = 0.2
    status: int = 200
    headers: Mapping[str, str] | None = None

    def serve(self, handler: "_Handler") -> None:
        items = _header_items(self.headers) + [("Content-Length", str(len(self.body)))]
        handler.send_head(self.status, items)
        for i in range(len(self.body)):
            if handler.server.stopping.wait(self.interval):
                break
            if not handler.write(self.body[i : i + 1]):
                break
        handler.close_connection = True


@dataclass
class Huge(Behaviour):
    """``size`` bytes of ``fill``; chunked, or with a Content-Length."""

    size: int
    chunked: bool = False
    status: int = 200
    headers: Mapping[str, str] | None = None
    fill: bytes = b"a"
    block: int = 65536

    def serve(self, handler: "_Handler") -> None:
        items = _header_items(self.headers)
        if self.chunked:
            items.append(("Transfer-Encoding", "chunked"))
        else:
            items.append(("Content-Length", str(self.size)))
        handler.send_head(self.status, items)
        block = (self.fill * (self.block // len(self.fill) + 1))[: self.block]
        left = self.size
        while left > 0 and not handler.server.stopping.is_set():
            part = block[: min(left, self.block)]
            ok = handler.write_chunk(part) if self.chunked else handler.write(part)
            if not ok:
                handler.close_connection = True
                return
            left -= len(part)
        if self.chunked:
            handler.write(b"0\r\n\r\n")


@dataclass
class Chunked(Behaviour):
    """A chunked body made of ``chunks``."""

    chunks: list[bytes]
    status: int = 200
    headers: Mapping[str, str] | None = None

    def serve(self, handler: "_Handler") -> None:
        handler.send_head(self.status, _header_items(self.headers) + [("Transfer-Encoding", "chunked")])
        for chunk in self.chunks:
            if not handler.write_chunk(chunk):
                handler.close_connection = True
                return
        handler.write(b"0\r\n\r\n")


@dataclass
class Stall(Behaviour):
    """Claim ``declared_length`` bytes, send ``prefix``, then hold the
    connection for ``seconds`` without sending more."""

    declared_length: int
    seconds: float = 5.0
    prefix: bytes = b""
    status: int = 200
    headers: Mapping[str, str] | None = None

    def serve(self, handler: "_Handler") -> None:
        handler.send_head(self.status, _header_items(self.headers) + [("Content-Length", str(self.declared_length))])
        if self.prefix:
            handler.write(self.prefix)
        handler.server.stopping.wait(self.seconds)
        handler.close_connection = True


@functools.lru_cache(maxsize=8)
def gzip_bomb(decoded_size: int) -> bytes:
    """gzip of ``decoded_size`` zero bytes, built without holding them in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    parts = []
    left = decoded_size
    while left > 0:
        n = min(left, len(zeros))
        parts.append(compressor.compress(zeros[:n]))
        left -= n
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass
class GzipBomb(Behaviour):
    """A small gzip body that decodes to ``decoded_size`` bytes."""

    decoded_size: int
    chunked: bool = False
    status: int = 200
    headers: Mapping[str, str] | None = None

    def serve(self, handler: "_Handler") -> None:
        payload = gzip_bomb(self.decoded_size)
        items = _header_items(self.headers) + [
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ]
        if self.chunked:
            items.append(("Transfer-Encoding", "chunked"))
            handler.send_head(self.status, items)
            for i in range(0, len(payload), 16384):
                if not handler.write_chunk(payload[i : i + 16384]):
                    handler.close_connection = True
                    return
            handler.write(b"0\r\n\r\n")
        else:
            items.append(("Content-Length", str(len(payload))))
            handler.send_head(self.status, items)
            handler.write(payload)


def _as_behaviour(result: Any) -> Behaviour:
    if isinstance(result, Behaviour):
        return result
    if isinstance(result, tuple) and len(result) == 3:
        status, headers, body = result
        return Reply(status, headers, body)
    raise TypeError(f"a route returned {result!r}; expected a Behaviour or (status, headers, body)")


# --- the server --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_TLSServer"
    timeout = 10  # idle keep-alive connections end by themselves

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # writing helpers: return False once the client is gone
    def send_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.flush()

    def write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except (OSError, ValueError):
            self.close_connection = True
            return False

    def write_chunk(self, data: bytes) -> bool:
        if not data:
            return True
        return self.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def flush(self) -> None:
        try:
            self.wfile.flush()
        except (OSError, ValueError):
            self.close_connection = True

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        record = RecordedRequest(
            method=self.command,
            path=parts.path,
            raw_query=parts.query,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            server_name=getattr(self.connection, "_sni_name", None),
        )
        self.server.record(record)
        route = self.server.routes.get(parts.path)
        if route is None:
            behaviour: Behaviour = Reply(404, {"Content-Type": "text/plain"}, b"no such route")
        elif isinstance(route, Behaviour):
            behaviour = route
        else:
            behaviour = _as_behaviour(route(record))
        try:
            behaviour.serve(self)
        except (OSError, ValueError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, family: int):
        self.address_family = family
        self.ssl_context = context
        self.routes: dict[str, Any] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.recorded: list[RecordedRequest] = []
        self.accepted = 0
        self.tls_errors: list[BaseException] = []
        self.handler_errors: list[BaseException] = []
        self._open: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.recorded.append(request)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        with self._lock:
            self.accepted += 1
        return sock, addr

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        # Runs in the connection's own thread: a slow or failing handshake does
        # not hold the accept loop.
        request.settimeout(10)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError) as exc:
            with self._lock:
                self.tls_errors.append(exc)
            return
        with self._lock:
            self._open.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._open.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        with self._lock:
            self.handler_errors.append(sys.exc_info()[1])  # type: ignore[arg-type]

    def close_open_connections(self) -> None:
        with self._lock:
            socks = list(self._open)
        for sock in socks:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


class HTTPSServer:
    """A threaded HTTPS server on a loopback address and an ephemeral port.

    ``ca`` issues the leaf certificate for ``hostnames`` (default 127.0.0.1 and
    localhost). ``routes`` maps a path to a behaviour or a handler. ``port`` can
    be given to listen on the same port as another server on another loopback
    address.
    """

    def __init__(
        self,
        ca: trustme.CA | None = None,
        routes: Mapping[str, Any] | None = None,
        *,
        hostnames: Iterable[str] = LOOPBACK_HOSTNAMES,
        bind: str = "127.0.0.1",
        port: int = 0,
        context: ssl.SSLContext | None = None,
    ):
        if not (bind.startswith("127.") or bind == "::1"):
            raise ValueError("test servers listen on loopback only")
        self.ca = ca or make_ca()
        self.hostnames = tuple(hostnames)
        self.bind = bind
        self._context = context or server_context(self.ca, self.hostnames)
        self._sni_seen: list[str | None] = []

        def sni_callback(sslobj: Any, name: str | None, ctx: ssl.SSLContext) -> None:
            self._sni_seen.append(name)
            try:
                sslobj._sni_name = name  # read back into RecordedRequest.server_name
            except AttributeError:
                pass

        self._context.sni_callback = sni_callback
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self._server = _TLSServer((bind, port), self._context, family)
        self._server.routes.update(routes or {})
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> "HTTPSServer":
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.close_open_connections()
        self._server.server_close()

    def __enter__(self) -> "HTTPSServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # addresses
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        return self.bind

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or self.bind
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        if not path.startswith("/"):
            path = "/" + path
        return f"https://{host}:{self.port}{path}"

    @property
    def base_url(self) -> str:
        return self.url("").rstrip("/")

    # routes
    @property
    def routes(self) -> dict[str, Any]:
        return self._server.routes

    def route(self, path: str, behaviour: Any) -> None:
        self._server.routes[path] = behaviour

    # observations
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._server._lock:
            return list(self._server.recorded)

    @property
    def accepted_connections(self) -> int:
        with self._server._lock:
            return self._server.accepted

    @property
    def sni_names(self) -> list[str | None]:
        return list(self._sni_seen)

    @property
    def tls_errors(self) -> list[BaseException]:
        with self._server._lock:
            return list(self._server.tls_errors)


class RawTCPServer:
    """A loopback TCP listener that answers every connection with ``reply``
    (raw bytes, no TLS) and closes it; counts accepted connections. Useful for
    "not TLS at all" and "nothing may connect here" checks."""

    def __init__(self, reply: bytes = b"", *, bind: str = "127.0.0.1", port: int = 0):
        if not (bind.startswith("127.") or bind == "::1"):
            raise ValueError("test servers listen on loopback only")
        self.reply = reply
        self._sock = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((bind, port))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.bind = bind
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._accepted = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with self._lock:
                self._accepted += 1
            try:
                conn.settimeout(1)
                if self.reply:
                    conn.sendall(self.reply)
            except OSError:
                pass
            finally:
                conn.close()

    @property
    def accepted_connections(self) -> int:
        with self._lock:
            return self._accepted

    def url(self, path: str = "/") -> str:
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"https://{host}:{self.port}{path}"

    def start(self) -> "RawTCPServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> "RawTCPServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
