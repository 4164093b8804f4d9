"""One outbound call's deadline: the time left, the watchdog and the sockets it guards.

A call has one deadline for DNS, connect, TLS, headers and the whole body. Socket
timeouts alone cannot enforce it (a server dripping a byte a second resets them on
every byte), so a timer shuts every socket of the call down when the deadline
passes (one watchdog thread for all calls, :mod:`.watchdog`). The connection classes reach the call through :data:`CURRENT_CALL`:
urllib3 runs the connection code in the calling thread.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from contextvars import ContextVar

from urllib3.util.connection import allowed_gai_family

from connect_plugin.errors import ResolveFailure, UpstreamTimeout

from .lookups import Lookups, LookupsBusy
from .policy import OutboundPolicy, normalize_host_name
from .redact import Redactor
from .watchdog import WATCHDOG

logger = logging.getLogger("connect_plugin.outbound")


class Call:
    """State of one ``request``: its deadline, watchdog and sockets.

    Reached from the connection class through a ContextVar: urllib3 runs the
    connection code in the calling thread.
    """

    def __init__(
        self,
        *,
        source: str,
        timeout_seconds: float,
        policy: OutboundPolicy,
        redactor: Redactor,
        lookups: Lookups,
        limit_seconds: float | None = None,
        max_bytes: int | None = None,
    ):
        self.source = source
        # The body size cap of this call: the policy's, or what is left of it when
        # the call is one page of a longer answer (all pages count together).
        self.max_bytes = policy.max_response_bytes if max_bytes is None else min(max_bytes,
                                                                                 policy.max_response_bytes)
        self.timeout_seconds = timeout_seconds
        # The limit the admin set, for messages: a call that is one step of a longer
        # request (a token fetch, then the API call) gets only what is left of it.
        self.limit_seconds = limit_seconds if limit_seconds is not None else timeout_seconds
        self.policy = policy
        self.redactor = redactor
        self.lookups = lookups
        self.started = time.monotonic()
        self.deadline = self.started + timeout_seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []  # dup'ed descriptors, for shutdown
        self._live: dict[int, socket.socket] = {}  # sockets in use, for settimeout
        self._deadline = WATCHDOG.schedule(timeout_seconds, self._expire)

    # deadline ---------------------------------------------------------------------

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def timeout_error(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"{self.source} did not answer within {self.limit_seconds:g} s")

    def op_timeout(self, cap: float | None = None) -> float:
        """Socket timeout for the next operation: what is left of the deadline."""
        left = self.remaining()
        if self.expired or left <= 0:
            raise self.timeout_error()
        if cap is not None and cap > 0:
            left = min(left, cap)
        return max(left, 0.001)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._watched)
        for sock in socks:
            _shutdown(sock)

    # sockets ----------------------------------------------------------------------

    def watch(self, sock: socket.socket) -> None:
        """Let the watchdog shut ``sock`` down at the deadline. A duplicate
        descriptor is kept so that this survives ``ssl.wrap_socket`` detaching
        the plain socket and cannot hit a reused descriptor number."""
        try:
            dup = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)
        except OSError:
            return
        with self._lock:
            self._watched.append(dup)
            expired = self.expired
        if expired:
            _shutdown(dup)

    def attach(self, sock: socket.socket | None) -> None:
        """A connection (new or from the pool) is about to be used by this call."""
        if sock is None:
            return
        with self._lock:
            known = id(sock) in self._live
            self._live[id(sock)] = sock
        if not known:
            self.watch(sock)
        self.tighten()

    def tighten(self) -> None:
        """Set every live socket's timeout to what is left of the deadline."""
        timeout = self.op_timeout()
        with self._lock:
            socks = list(self._live.values())
        for sock in socks:
            try:
                sock.settimeout(timeout)
            except OSError:
                pass

    def finish(self) -> None:
        WATCHDOG.cancel(self._deadline)
        with self._lock:
            socks, self._watched = self._watched, []
            self._live.clear()
        for sock in socks:
            try:
                sock.close()
            except OSError:
                pass

    # resolution -------------------------------------------------------------------

    def resolve(self, host: str, port: int) -> list:
        shown = normalize_host_name(host)
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            literal = True
        except ValueError:
            literal = False
        family = allowed_gai_family()
        try:
            if literal:
                return self.lookups.resolver(host, port, family, socket.SOCK_STREAM)
            try:
                return self.lookups.resolve(host, port, family, socket.SOCK_STREAM, source=self.source,
                                            timeout=self.op_timeout())
            except TimeoutError:
                raise self.timeout_error() from None
            except LookupsBusy as busy:
                raise ResolveFailure(
                    f"{self.source}: the host name {shown} could not be resolved: {busy.pending} lookups of "
                    "this datasource are still waiting for the name server"
                ) from None
        except (OSError, UnicodeError) as exc:
            logger.debug("%s: resolving %s failed: %s", self.source, shown, exc)
            raise ResolveFailure(f"{self.source}: the host name {shown} could not be resolved") from None


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


CURRENT_CALL: ContextVar[Call | None] = ContextVar("connect_outbound_call", default=None)


def current_call() -> Call:
    """The call this thread is making; connections outside one are refused."""
    call = CURRENT_CALL.get()
    if call is None:
        raise RuntimeError("outbound connections must go through OutboundClient.request")
    return call
