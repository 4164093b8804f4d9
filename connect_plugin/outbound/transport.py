"""The connection layer under requests: where the address guard and TLS rules bite.

:class:`GuardedHTTPSConnection` resolves its host itself, checks every candidate
address with :func:`guard.check_address` and connects to a checked IP only, while
SNI and the certificate check keep using the URL's host name (urllib3 connects to
``self._dns_host`` in ``_new_conn`` and hands ``self.host`` to TLS). Checking at
connect time, on the address actually used, is what defeats DNS rebinding: a
check of the name before the call would judge a different answer.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import logging
import os
import socket
import ssl
import sys
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool

from connect_plugin.errors import ConnectError, ConnectFailure, ResolveFailure

from .deadline import CURRENT_CALL, Call, current_call
from .guard import check_address
from .policy import OutboundPolicy, normalize_host_name

logger = logging.getLogger("connect_plugin.outbound")

Candidate = tuple[int, int, int, tuple]


class GuardedHTTPSConnection(HTTPSConnection):
    """HTTPS connection that resolves its host itself, connects only to an IP
    the policy allows, and cannot be told to skip certificate verification."""

    def _force_verification(self) -> None:
        self.cert_reqs = "CERT_REQUIRED"
        self.assert_hostname = None
        self.assert_fingerprint = None
        self.server_hostname = None  # SNI and the hostname check use self.host

    def connect(self) -> None:
        call = current_call()
        if self.proxy is not None or self._tunnel_host is not None:
            raise RuntimeError("outbound connections do not go through proxies")
        if self.ssl_context is None or self.ssl_context.verify_mode != ssl.CERT_REQUIRED:
            raise RuntimeError("outbound connections need a verifying TLS context")
        self._force_verification()
        super().connect()
        call.attach(self.sock)

    def _new_conn(self) -> socket.socket:
        call = current_call()
        dns_host = self._dns_host
        if dns_host.startswith("[") and dns_host.endswith("]"):
            dns_host = dns_host[1:-1]
        port = self.port or 443
        candidates = allowed_candidates(call, dns_host, call.resolve(dns_host, port))
        return self._connect_first(call, candidates, normalize_host_name(dns_host), port)

    def _connect_first(self, call: Call, candidates: list[Candidate], shown: str, port: int) -> socket.socket:
        """A socket to the first candidate that accepts, within the deadline."""
        last_error: OSError | None = None
        cap = self.timeout if isinstance(self.timeout, (int, float)) else None
        for family, socktype, proto, sockaddr in candidates:
            timeout = call.op_timeout(cap)
            sock = socket.socket(family, socktype, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                call.watch(sock)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                last_error = exc
                if call.expired or call.remaining() <= 0:
                    raise call.timeout_error() from None
                logger.debug("%s: connecting to %s failed: %s", call.source, sockaddr[0], exc)
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        raise connect_failure(call, last_error, shown, port)

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        call = current_call()
        call.attach(self.sock)  # a pooled connection joins this call's watchdog
        super().request(*args, **kwargs)

    def getresponse(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        call = CURRENT_CALL.get()
        if call is not None:
            self.timeout = call.op_timeout()
        return super().getresponse(*args, **kwargs)


def allowed_candidates(call: Call, dns_host: str, infos: list) -> list[Candidate]:
    """The resolved addresses the policy allows, in resolver order, each once.

    Raises the guard's own error when every address was refused, so the admin
    learns *why* (a private address, not "could not be resolved")."""
    candidates: list[Candidate] = []
    blocked: ConnectError | None = None
    seen = set()
    for family, socktype, proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or (family, sockaddr) in seen:
            continue
        seen.add((family, sockaddr))
        try:
            check_address(dns_host, ipaddress.ip_address(sockaddr[0]), call.policy, source=call.source)
        except ValueError:
            continue
        except ConnectError as exc:
            logger.warning("%s", exc.message)
            blocked = blocked or exc
            continue
        candidates.append((family, socktype, proto, sockaddr))
    if candidates:
        return candidates
    if blocked is not None:
        raise blocked
    raise ResolveFailure(f"{call.source}: the host name {normalize_host_name(dns_host)} could not be resolved")


def connect_failure(call: Call, last_error: OSError | None, shown: str, port: int) -> Exception:
    """The error for a host none of whose addresses accepted a connection."""
    if isinstance(last_error, TimeoutError):
        return call.timeout_error()
    if isinstance(last_error, ConnectionRefusedError) or (
        last_error is not None and last_error.errno == errno.ECONNREFUSED
    ):
        return ConnectFailure(f"{call.source}: the connection to {shown} port {port} was refused")
    reason = (last_error.strerror or type(last_error).__name__) if last_error else "no address"
    return ConnectFailure(f"{call.source}: the connection to {shown} port {port} failed ({reason})")


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose pools use :class:`GuardedHTTPSConnection`, with
    the client's TLS context, no proxies and no way to turn verification off."""

    def __init__(self, ssl_context: ssl.SSLContext, *, pool_connections: int = 10, pool_maxsize: int = 10):
        self._ssl_context = ssl_context
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        manager = self.poolmanager
        manager.pool_classes_by_scheme = {"https": GuardedHTTPSConnectionPool}
        manager.key_fn_by_scheme = {"https": manager.key_fn_by_scheme["https"]}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if not url.lower().startswith("https://"):
            raise RuntimeError("only HTTPS URLs reach the adapter")
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise RuntimeError("outbound connections do not go through proxies")


def build_ssl_context(policy: OutboundPolicy) -> ssl.SSLContext:
    """Verifying context: system default CAs, certifi's, and ``policy.ca_bundle``.

    Parsing the trust stores costs about 50 ms, so apps in one process (a host with
    several app objects, the test suite) share one context per bundle. The bundle's
    size and modification time are part of the key: an edited bundle is read again.
    The context is never changed after it is built, and is safe to share."""
    return _ssl_context(policy.ca_bundle or "", _file_stamp(policy.ca_bundle))


def _file_stamp(path: str | None) -> tuple[int, int] | None:
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None  # _ssl_context words the error
    return info.st_mtime_ns, info.st_size


@functools.lru_cache(maxsize=8)
def _ssl_context(ca_bundle: str, _stamp: tuple[int, int] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):  # pragma: no cover - certifi ships with requests
        pass
    if ca_bundle:
        try:
            if os.path.isdir(ca_bundle):
                context.load_verify_locations(capath=ca_bundle)
            else:
                context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"CONNECT_CA_BUNDLE {ca_bundle!r} could not be loaded ({exc}).") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["http/1.1"])
    return context
