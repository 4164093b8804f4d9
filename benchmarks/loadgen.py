"""Small, lean HTTP/1.1 clients for the benchmark (loopback only).

The client's own cost is part of every figure, the same for both sides of each
ratio, so it is kept low: requests are pre-built bytes, answers are read with one
``recv`` loop and parsed only for the status, ``Content-Length`` and the worker pid.

* :class:`Connection` — one blocking keep-alive connection, for latency series.
* :func:`closed_loop` — many non-blocking keep-alive connections on one selector,
  each sending its next request as soon as its answer is in (throughput, load).
* :func:`burst` — N connections that each send one request at the same moment.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def build_request(path: str, host: str, port: int, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    latency: float = 0.0

    @property
    def worker(self) -> str:
        return self.headers.get("x-bench-worker", "?")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


class _Parser:
    """Incremental parser of one answer at a time (Content-Length bodies only, which
    is what gunicorn sends for Flask's JSON answers)."""

    __slots__ = ("buffer", "status", "headers", "need")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.need = -1

    def feed(self, data: bytes) -> Response | None:
        self.buffer += data
        if self.need < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return None
            self.status, self.headers = _parse_head(bytes(self.buffer[:end]))
            if "content-length" not in self.headers:
                raise RuntimeError(f"answer without Content-Length (status {self.status})")
            del self.buffer[:end + 4]
            self.need = int(self.headers["content-length"])
        if len(self.buffer) < self.need:
            return None
        body = bytes(self.buffer[:self.need])
        del self.buffer[:self.need]
        response = Response(self.status, self.headers, body)
        self.need = -1
        self.status, self.headers = 0, {}
        return response


def _connect(host: str, port: int, timeout: float | None) -> socket.socket:
    if host not in LOOPBACK:
        raise ValueError("the benchmark only talks to loopback servers")
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Connection:
    """One blocking keep-alive connection."""

    def __init__(self, host: str, port: int, timeout: float = 60.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = _connect(host, port, timeout)
        self.parser = _Parser()

    def request(self, raw: bytes) -> Response:
        started = time.perf_counter()
        self.sock.sendall(raw)
        while True:
            data = self.sock.recv(262144)
            if not data:
                raise ConnectionError("the server closed the connection")
            response = self.parser.feed(data)
            if response is not None:
                response.latency = time.perf_counter() - started
                if response.headers.get("connection", "").lower() == "close":
                    self.reopen()
                return response

    def reopen(self) -> None:
        self.close()
        self.sock = _connect(self.host, self.port, self.timeout)
        self.parser = _Parser()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


@dataclass
class LoopResult:
    responses: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.responses / self.elapsed if self.elapsed > 0 else 0.0


class _Slot:
    __slots__ = ("sock", "parser", "sent_at", "count", "raw", "busy")

    def __init__(self, sock: socket.socket, raw: bytes):
        self.sock = sock
        self.parser = _Parser()
        self.sent_at = 0.0
        self.count = 0
        self.raw = raw
        self.busy = False


def balanced_sockets(host: str, port: int, probe: bytes, *, per_worker: int, workers: int,
                     attempts: int = 400) -> list[socket.socket]:
    """``per_worker`` keep-alive connections to each of ``workers`` gunicorn workers.

    A burst of new connections tends to land on whichever worker wakes first, which
    would measure one worker instead of all of them. Each new connection sends
    ``probe`` and reads ``X-Bench-Worker``; it is kept while its worker has fewer
    than ``per_worker`` connections, else closed and another one is made."""
    kept: list[socket.socket] = []
    counts: dict[str, int] = {}
    for _ in range(attempts):
        if len(kept) >= per_worker * workers:
            return kept
        conn = Connection(host, port)
        response = conn.request(probe)
        worker = response.worker
        if counts.get(worker, 0) < per_worker and (worker in counts or len(counts) < workers):
            counts[worker] = counts.get(worker, 0) + 1
            kept.append(conn.sock)
        else:
            conn.close()
    for sock in kept:
        sock.close()
    raise RuntimeError(f"could not spread {per_worker * workers} connections over {workers} workers: {counts}")


def closed_loop(host: str, port: int, raw: bytes | list[bytes], *, connections: int = 0, seconds: float,
                max_requests: int | None = None, pause: float = 0.0, keep_latencies: bool = False,
                stop=None, drain_seconds: float = 5.0, sockets: list[socket.socket] | None = None) -> LoopResult:
    """``connections`` keep-alive connections (or the given ``sockets``), each sending
    its next request as soon as (or ``pause`` seconds after) its answer is in, for
    ``seconds`` (or until ``stop`` is set or ``max_requests`` answers per connection).
    ``raw`` may be one request or one per connection. Requests in flight at the end
    are awaited ``drain_seconds``. The sockets are closed at the end."""
    socks = list(sockets) if sockets is not None else [_connect(host, port, None) for _ in range(connections)]
    connections = len(socks)
    raws = raw if isinstance(raw, list) else [raw] * connections
    result = LoopResult()
    selector = selectors.DefaultSelector()
    slots: list[_Slot] = []
    for i, sock in enumerate(socks):
        sock.setblocking(False)
        slot = _Slot(sock, raws[i % len(raws)])
        slots.append(slot)
        selector.register(sock, selectors.EVENT_READ, slot)
    started = time.perf_counter()
    end = started + seconds
    waiting: list[tuple[float, _Slot]] = []  # (when, slot) for paused connections

    def send(slot: _Slot) -> None:
        slot.sent_at = time.perf_counter()
        slot.busy = True
        slot.sock.sendall(slot.raw)  # small requests: fits the socket buffer

    for slot in slots:
        send(slot)
    try:
        while True:
            now = time.perf_counter()
            stopping = now >= end or (stop is not None and stop.is_set())
            if stopping and not any(s.busy for s in slots):
                break
            if stopping and now >= end + drain_seconds:
                break
            if waiting and not stopping:
                ready = [w for w in waiting if w[0] <= now]
                waiting = [w for w in waiting if w[0] > now]
                for _when, slot in ready:
                    send(slot)
            timeout = 0.05
            if waiting:
                timeout = max(0.0, min(timeout, min(w[0] for w in waiting) - now))
            for key, _mask in selector.select(timeout):
                slot: _Slot = key.data
                try:
                    data = slot.sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    result.errors += 1
                    selector.unregister(slot.sock)
                    slot.busy = False
                    slot.sock.close()
                    continue
                response = slot.parser.feed(data)
                if response is None:
                    continue
                finished = time.perf_counter()
                slot.busy = False
                slot.count += 1
                result.responses += 1
                result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
                result.workers[response.worker] = result.workers.get(response.worker, 0) + 1
                if keep_latencies:
                    result.latencies.append(finished - slot.sent_at)
                if finished >= end or (stop is not None and stop.is_set()):
                    continue
                if max_requests is not None and slot.count >= max_requests:
                    continue
                if pause > 0:
                    waiting.append((finished + pause, slot))
                else:
                    send(slot)
            if max_requests is not None and all(s.count >= max_requests for s in slots):
                break
    finally:
        result.elapsed = min(time.perf_counter(), end) - started
        for slot in slots:
            try:
                selector.unregister(slot.sock)
            except (KeyError, ValueError):
                pass
            slot.sock.close()
        selector.close()
    return result


def burst(host: str, port: int, raw: bytes, *, connections: int, timeout: float = 60.0) -> list[Response]:
    """Open ``connections`` connections, then send one request on each as close to
    the same moment as possible; return every answer (raises on a missing one)."""
    socks = [_connect(host, port, timeout) for _ in range(connections)]
    selector = selectors.DefaultSelector()
    parsers = {}
    sent = {}
    for sock in socks:
        sock.setblocking(False)
        parsers[sock] = _Parser()
        selector.register(sock, selectors.EVENT_READ)
    for sock in socks:
        sent[sock] = time.perf_counter()
        sock.sendall(raw)
    responses: list[Response] = []
    deadline = time.perf_counter() + timeout
    open_socks = set(socks)
    try:
        while open_socks and time.perf_counter() < deadline:
            for key, _mask in selector.select(0.05):
                sock = key.fileobj
                try:
                    data = sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                if not data:
                    raise ConnectionError("a burst connection was closed before its answer")
                response = parsers[sock].feed(data)
                if response is not None:
                    response.latency = time.perf_counter() - sent[sock]
                    responses.append(response)
                    selector.unregister(sock)
                    open_socks.discard(sock)
    finally:
        selector.close()
        for sock in socks:
            sock.close()
    if open_socks:
        raise TimeoutError(f"{len(open_socks)} of {connections} burst requests got no answer in {timeout:g} s")
    return responses


def open_loop(host: str, port: int, raw: bytes, *, rate: float, seconds: float, max_connections: int = 256,
              drain_seconds: float = 10.0, fresh: bool = True) -> LoopResult:
    """Requests sent on a fixed schedule (``rate`` per second for ``seconds``), whatever
    the answers do, and their latency counted from their scheduled time. A closed loop
    would stop asking while its connections are stuck and so never see the stall; this
    one does. With ``fresh`` every request has a connection of its own (many users:
    the server's workers take them as they come, as they would take real users');
    otherwise idle keep-alive connections are reused. Requests still unanswered
    ``drain_seconds`` after the end count with the time they waited (``errors`` tells
    how many)."""
    interval = 1.0 / rate
    result = LoopResult()
    selector = selectors.DefaultSelector()
    idle: list[socket.socket] = []
    parsers: dict[socket.socket, _Parser] = {}
    scheduled: dict[socket.socket, float] = {}
    backlog: list[float] = []
    opened = 0

    def connection() -> socket.socket | None:
        nonlocal opened
        if idle:
            return idle.pop()
        if opened >= max_connections:
            return None
        sock = _connect(host, port, None)
        sock.setblocking(False)
        opened += 1
        parsers[sock] = _Parser()
        selector.register(sock, selectors.EVENT_READ)
        return sock

    started = time.perf_counter()
    end = started + seconds
    next_at = started
    try:
        while True:
            now = time.perf_counter()
            while next_at <= now and next_at < end:
                backlog.append(next_at)
                next_at += interval
            while backlog:
                sock = connection()
                if sock is None:
                    break
                scheduled[sock] = backlog.pop(0)
                sock.sendall(raw)
            if now >= end and not scheduled and not backlog:
                break
            if now >= end + drain_seconds:
                break
            timeout = 0.01 if now >= end else max(0.0, min(0.01, next_at - now))
            for key, _mask in selector.select(timeout):
                sock = key.fileobj
                try:
                    data = sock.recv(262144)
                except (BlockingIOError, InterruptedError):
                    continue
                if not data:
                    selector.unregister(sock)
                    del parsers[sock]
                    scheduled.pop(sock, None)
                    sock.close()
                    opened -= 1
                    result.errors += 1
                    continue
                response = parsers[sock].feed(data)
                if response is None:
                    continue
                finished = time.perf_counter()
                result.latencies.append(finished - scheduled.pop(sock))
                result.responses += 1
                result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
                result.workers[response.worker] = result.workers.get(response.worker, 0) + 1
                if fresh:
                    selector.unregister(sock)
                    del parsers[sock]
                    sock.close()
                    opened -= 1
                else:
                    idle.append(sock)
    finally:
        stopped = time.perf_counter()
        for when in list(scheduled.values()) + backlog:
            result.latencies.append(stopped - when)
            result.errors += 1
        result.elapsed = seconds
        for sock in list(parsers):
            try:
                selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
        selector.close()
    return result
