"""The one way the plugin talks to an upstream API.

``OutboundClient.request`` enforces, by construction:

* HTTPS only, for the URL and every redirect hop;
* the address guard at connect time, on the IP actually connected to: the
  connection class resolves the host itself, checks every candidate with
  :func:`guard.check_address` and connects to a checked IP only, while SNI and
  the certificate check keep using the URL's host name (urllib3 connects to
  ``self._dns_host`` in ``_new_conn`` and hands ``self.host`` to TLS);
* certificate verification that cannot be switched off (system/certifi trust
  store plus ``CONNECT_CA_BUNDLE``);
* manual redirects: at most ``max_redirects`` hops, each one re-checked, auth
  headers and auth query parameters sent to the original origin only;
* one deadline per call, for DNS, connect, TLS, headers and the whole body,
  enforced by per-operation socket timeouts and a watchdog that shuts the
  sockets down when the deadline passes (a server dripping a byte a second
  cannot hold a call);
* a cap on the decoded body size (checked on ``Content-Length`` first);
* secrets masked with ``***`` in messages, URLs, excerpts and log records.

Every failure is one of the typed errors of :mod:`connect_plugin.errors`.
"""

from __future__ import annotations

import errno
import http
import ipaddress
import logging
import os
import socket
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, unquote_plus, urlencode, urljoin, urlsplit, urlunsplit

import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.util.connection import allowed_gai_family

from connect_plugin.errors import (
    BadUpstreamData,
    ConnectError,
    ConnectFailure,
    InsecureURL,
    ResolveFailure,
    ResponseTooLarge,
    TLSFailure,
    TooManyRedirects,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeout,
)

from .guard import check_address
from .policy import OutboundPolicy, normalize_host_name
from .redact import Redactor, install_log_redaction, redact_known, register_redactor

logger = logging.getLogger("connect_plugin.outbound")

USER_AGENT = "connect-plugin/0.1"
DEFAULT_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "application/json, */*;q=0.1",
    "Accept-Encoding": "gzip, deflate",
}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CROSS_ORIGIN_DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
STREAM_CHUNK = 65536
EXCERPT_CHARS = 200

Resolver = Callable[..., list]


# --- the per-call context ----------------------------------------------------------


class _Call:
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
        resolver: Resolver,
    ):
        self.source = source
        self.timeout_seconds = timeout_seconds
        self.policy = policy
        self.redactor = redactor
        self.resolver = resolver
        self.started = time.monotonic()
        self.deadline = self.started + timeout_seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []  # dup'ed descriptors, for shutdown
        self._live: dict[int, socket.socket] = {}  # sockets in use, for settimeout
        self._timer = threading.Timer(timeout_seconds, self._expire)
        self._timer.daemon = True
        self._timer.name = "connect-outbound-deadline"
        self._timer.start()

    # deadline ---------------------------------------------------------------------

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def timeout_error(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"{self.source} did not answer within {self.timeout_seconds:g} s")

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
        self._timer.cancel()
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
        try:
            if literal:
                return self.resolver(host, port, allowed_gai_family(), socket.SOCK_STREAM)
            future = _dns_executor().submit(
                self.resolver, host, port, allowed_gai_family(), socket.SOCK_STREAM
            )
            try:
                return future.result(timeout=self.op_timeout())
            except FutureTimeout:
                raise self.timeout_error() from None
        except (OSError, UnicodeError) as exc:
            logger.debug("%s: resolving %s failed: %s", self.source, shown, exc)
            raise ResolveFailure(f"{self.source}: the host name {shown} could not be resolved") from None


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


_CALL: ContextVar[_Call | None] = ContextVar("connect_outbound_call", default=None)
_DNS_LOCK = threading.Lock()
_DNS_EXECUTOR: ThreadPoolExecutor | None = None


def _dns_executor() -> ThreadPoolExecutor:
    """getaddrinfo cannot be interrupted: it runs here so a call can stop
    waiting for it at its deadline."""
    global _DNS_EXECUTOR
    with _DNS_LOCK:
        if _DNS_EXECUTOR is None:
            _DNS_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="connect-dns")
        return _DNS_EXECUTOR


# --- urllib3 / requests plumbing -----------------------------------------------------


class GuardedHTTPSConnection(HTTPSConnection):
    """HTTPS connection that resolves its host itself, connects only to an IP
    the policy allows, and cannot be told to skip certificate verification."""

    def _force_verification(self) -> None:
        self.cert_reqs = "CERT_REQUIRED"
        self.assert_hostname = None
        self.assert_fingerprint = None
        self.server_hostname = None  # SNI and the hostname check use self.host

    def connect(self) -> None:
        call = _CALL.get()
        if call is None:
            raise RuntimeError("outbound connections must go through OutboundClient.request")
        if self.proxy is not None or self._tunnel_host is not None:
            raise RuntimeError("outbound connections do not go through proxies")
        if self.ssl_context is None or self.ssl_context.verify_mode != ssl.CERT_REQUIRED:
            raise RuntimeError("outbound connections need a verifying TLS context")
        self._force_verification()
        super().connect()
        call.attach(self.sock)

    def _new_conn(self) -> socket.socket:
        call = _CALL.get()
        if call is None:
            raise RuntimeError("outbound connections must go through OutboundClient.request")
        dns_host = self._dns_host
        if dns_host.startswith("[") and dns_host.endswith("]"):
            dns_host = dns_host[1:-1]
        shown = normalize_host_name(dns_host)
        port = self.port or 443

        infos = call.resolve(dns_host, port)
        candidates = []
        blocked: ConnectError | None = None
        seen = set()
        for family, socktype, proto, _canon, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            if (family, sockaddr) in seen:
                continue
            seen.add((family, sockaddr))
            try:
                ip = ipaddress.ip_address(sockaddr[0])
                check_address(dns_host, ip, call.policy, source=call.source)
            except ValueError:
                continue
            except ConnectError as exc:
                logger.warning("%s", exc.message)
                blocked = blocked or exc
                continue
            candidates.append((family, socktype, proto, sockaddr))
        if not candidates:
            if blocked is not None:
                raise blocked
            raise ResolveFailure(f"{call.source}: the host name {shown} could not be resolved")

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

        if isinstance(last_error, TimeoutError):
            raise call.timeout_error()
        if isinstance(last_error, ConnectionRefusedError) or (
            last_error is not None and last_error.errno == errno.ECONNREFUSED
        ):
            raise ConnectFailure(f"{call.source}: the connection to {shown} port {port} was refused")
        reason = (last_error.strerror or type(last_error).__name__) if last_error else "no address"
        raise ConnectFailure(f"{call.source}: the connection to {shown} port {port} failed ({reason})")

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        call = _CALL.get()
        if call is None:
            raise RuntimeError("outbound connections must go through OutboundClient.request")
        call.attach(self.sock)  # a pooled connection joins this call's watchdog
        super().request(*args, **kwargs)

    def getresponse(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        call = _CALL.get()
        if call is not None:
            self.timeout = call.op_timeout()
        return super().getresponse(*args, **kwargs)


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
    """Verifying context: system default CAs, certifi's, and ``policy.ca_bundle``."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        import certifi

        context.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):  # pragma: no cover - certifi ships with requests
        pass
    if policy.ca_bundle:
        try:
            if os.path.isdir(policy.ca_bundle):
                context.load_verify_locations(capath=policy.ca_bundle)
            else:
                context.load_verify_locations(cafile=policy.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"CONNECT_CA_BUNDLE {policy.ca_bundle!r} could not be loaded ({exc}).") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["http/1.1"])
    return context


# --- response ------------------------------------------------------------------------


def _excerpt(body: bytes, redactor: Redactor | None, limit: int) -> str:
    """First ``limit`` characters of a body, whitespace collapsed, secrets masked.
    Masks before cutting so that a secret cut in two cannot slip through."""
    if not body:
        return ""
    window = body[: limit * 4 + 4096].decode("utf-8", "replace")
    text = " ".join(window.split())
    text = redact_known(text)
    if redactor is not None:
        text = redactor.redact(text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


@dataclass
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    elapsed_ms: int
    redirects: int
    source: str = "The datasource"
    _redactor: Redactor | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "") or ""

    @property
    def reason(self) -> str:
        try:
            return http.HTTPStatus(self.status).phrase
        except ValueError:
            return ""

    def redact(self, text: str) -> str:
        text = redact_known(text)
        return self._redactor.redact(text) if self._redactor is not None else text

    def excerpt(self, limit: int = EXCERPT_CHARS) -> str:
        return _excerpt(self.body, self._redactor, limit)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            content_type = self.redact(self.content_type) or "none"
            if not self.body.strip():
                message = f"{self.source}: the answer is empty, not JSON (Content-Type {content_type})"
            else:
                start = _excerpt(self.body, self._redactor, 40)
                message = (
                    f"{self.source}: the answer is not JSON "
                    f"(Content-Type {content_type}; starts with '{start}')"
                )
            raise BadUpstreamData(message, upstream_status=self.status, excerpt=self.excerpt()) from None


def raise_for_status(response: UpstreamResponse, source: str | None = None) -> None:
    """Raise :class:`UpstreamHTTPError` unless the status is 2xx."""
    if 200 <= response.status < 300:
        return
    source = source or response.source
    excerpt = response.excerpt(EXCERPT_CHARS)
    status_text = f"{response.status} {response.reason}".rstrip()
    if excerpt:
        message = f"{source} answered {status_text}: {excerpt}"
    else:
        message = f"{source} answered {status_text}."
    raise UpstreamHTTPError(message, upstream_status=response.status, excerpt=excerpt)


# --- helpers ---------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, normalize_host_name(parts.hostname or ""), port


def _strip_params(url: str, names: Iterable[str]) -> str:
    names = set(names)
    parts = urlsplit(url)
    if not parts.query or not names:
        return url
    kept = [p for p in parts.query.split("&") if p and unquote_plus(p.partition("=")[0]) not in names]
    return urlunsplit(parts._replace(query="&".join(kept)))


def _set_params(url: str, params: Mapping[str, Any]) -> str:
    """``url`` with each of ``params`` set (replacing parameters of the same name)."""
    if not params:
        return url
    parts = urlsplit(_strip_params(url, params.keys()))
    query = "&".join(p for p in (parts.query, urlencode(list(params.items()))) if p)
    return urlunsplit(parts._replace(query=query))


# RFC 3986 characters that may stand unencoded in a path or a query ('%' included:
# existing escapes are kept exactly as they are).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def _as_built(prepared_url: str, url: str, params: list[tuple[str, Any]]) -> str:
    """The URL as the caller built it, with requests' host normalisation (IDNA) but
    not its path normalisation: requests decodes ``%2E`` to ``.`` and removes dot
    segments, which would let an encoded ``..`` inside a substituted value climb
    the path the admin wrote. Only characters that cannot stand raw are encoded."""
    built = urlsplit(url)
    query = built.query
    if params:
        query = "&".join(p for p in (query, urlencode(params)) if p)
    prepared = urlsplit(prepared_url)
    return urlunsplit((prepared.scheme, prepared.netloc, quote(built.path or "/", safe=_PATH_SAFE),
                       quote(query, safe=_QUERY_SAFE), ""))


def _drop_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """The exception, its causes, contexts and wrapped reasons."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.append(current.__cause__)
        todo.append(current.__context__)
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                todo.append(arg)


def _format_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


_HOSTNAME_MISMATCH_CODES = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_EXPIRED_CODES = {10}


def _tls_message(exc: BaseException, source: str, host: str) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        text = f"{getattr(exc, 'verify_message', '')} {exc}".lower()
        if code in _HOSTNAME_MISMATCH_CODES or "mismatch" in text or "doesn't match" in text:
            return f"{source}: certificate does not match host name {host}"
        if code in _EXPIRED_CODES or "expired" in text:
            return f"{source}: certificate for {host} has expired"
        return f"{source}: certificate for {host} is not trusted"
    reason = getattr(exc, "reason", None) or type(exc).__name__
    reason = str(reason).lower().replace("_", " ")
    return f"{source}: the TLS handshake with {host} failed ({reason})"


# --- the client --------------------------------------------------------------------


class OutboundClient:
    """Makes outbound HTTPS calls under an :class:`OutboundPolicy`.

    One client may be shared by many threads; it keeps a connection pool per
    origin. ``resolver`` (a ``getaddrinfo``-like callable) exists for tests; the
    address guard judges whatever it returns.
    """

    def __init__(
        self,
        policy: OutboundPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        pool_maxsize: int = 10,
    ):
        self.policy = policy if policy is not None else OutboundPolicy()
        self._ssl_context = build_ssl_context(self.policy)
        self._adapter = GuardedAdapter(self._ssl_context, pool_maxsize=pool_maxsize)
        self._resolver: Resolver = resolver or socket.getaddrinfo
        install_log_redaction()

    def close(self) -> None:
        self._adapter.close()

    def __enter__(self) -> "OutboundClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # public -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        source: str,
        timeout_seconds: float,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        data: Any = None,
        auth_headers: Mapping[str, str] | None = None,
        auth_params: Mapping[str, Any] | None = None,
        secrets: Iterable[str] = (),
    ) -> UpstreamResponse:
        """Call ``url`` and return the answer, whatever its status.

        Raises a subclass of :class:`connect_plugin.errors.UpstreamError` when no
        usable answer arrives (blocked address, TLS, timeout, size, redirects...).
        """
        if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) or timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be a positive number")
        auth_headers = dict(auth_headers or {})
        auth_params = {k: ("" if v is None else str(v)) for k, v in (auth_params or {}).items()}

        redactor = Redactor()
        for value in auth_headers.values():
            redactor.add_header_value(value)
        for value in auth_params.values():
            redactor.add(value)
        for secret in secrets:
            redactor.add(secret)
        register_redactor(redactor)

        call = _Call(
            source=source,
            timeout_seconds=float(timeout_seconds),
            policy=self.policy,
            redactor=redactor,
            resolver=self._resolver,
        )
        token = _CALL.set(call)
        try:
            return self._run(
                call,
                method.upper(),
                url,
                headers=dict(headers or {}),
                params=params,
                data=data,
                auth_headers=auth_headers,
                auth_params=auth_params,
            )
        except ConnectError as exc:
            logger.debug("%s", call.redactor.redact(exc.message))
            raise
        finally:
            _CALL.reset(token)
            call.finish()

    # internals ------------------------------------------------------------------

    def _redact_url(self, call: _Call, url: str, secret_params: Iterable[str]) -> str:
        return call.redactor.redact(redact_known(call.redactor.redact_url(url, secret_params)))

    def _check_url(self, call: _Call, url: str, secret_params: Iterable[str], redirected: bool) -> None:
        shown = self._redact_url(call, url, secret_params)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise InsecureURL(f"{call.source}: the URL {shown} is not valid") from None
        scheme = parts.scheme.lower()
        if scheme != "https":
            if redirected:
                label = f"{scheme}://" if scheme else "a URL without https://"
                raise InsecureURL(
                    f"{call.source}: a redirect to {label} was refused ({shown}); only HTTPS URLs are accepted"
                )
            raise InsecureURL(f"{call.source}: only HTTPS URLs are accepted, not {shown}")
        if not parts.hostname:
            raise InsecureURL(f"{call.source}: the URL {shown} has no host")
        if "@" in parts.netloc:
            raise InsecureURL(f"{call.source}: the URL {shown} contains a user name or password, which is refused")

    def _run(
        self,
        call: _Call,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        params: Any,
        data: Any,
        auth_headers: dict[str, str],
        auth_params: dict[str, str],
    ) -> UpstreamResponse:
        secret_params = tuple(auth_params)
        if not isinstance(url, str):
            raise InsecureURL(f"{call.source}: the URL is not text")
        url = url.strip()
        if not url:
            raise InsecureURL(f"{call.source}: the URL is empty")
        self._check_url(call, url, secret_params, redirected=False)
        url = _drop_fragment(url)

        # The first hop: the caller's params, then the auth params, which replace
        # any parameter of the same name in the URL or in ``params``.
        if auth_params:
            url = _strip_params(url, secret_params)
        merged: list[tuple[str, Any]] = []
        if params:
            items = params.items() if isinstance(params, Mapping) else params
            merged.extend((k, v) for k, v in items if k not in auth_params)
        merged.extend(auth_params.items())
        try:
            first = requests.Request(method, url, params=merged).prepare()
        except (requests.RequestException, ValueError, UnicodeError):
            raise InsecureURL(
                f"{call.source}: the URL {self._redact_url(call, url, secret_params)} is not valid"
            ) from None
        current_url = _as_built(first.url, url, merged)
        origin = _origin(current_url)
        visited = {current_url}
        redirects = 0
        body = data

        while True:
            same_origin = _origin(current_url) == origin
            hop_headers = CaseInsensitiveDict(DEFAULT_HEADERS)
            for name, value in headers.items():
                if same_origin or name.lower() not in CROSS_ORIGIN_DROPPED_HEADERS:
                    hop_headers[name] = value
            if same_origin:
                hop_headers.update(auth_headers)
            try:
                prepared = requests.Request(method, current_url, headers=hop_headers, data=body).prepare()
                prepared.url = current_url
            except (requests.RequestException, ValueError, UnicodeError) as exc:
                # Never echo the exception: it may quote a header value.
                raise InsecureURL(
                    f"{call.source}: the request to {self._redact_url(call, current_url, secret_params)} "
                    f"could not be prepared ({type(exc).__name__})"
                ) from None
            host = normalize_host_name(urlsplit(current_url).hostname or "")
            response = self._send(call, prepared, host)
            try:
                status = response.status_code
                location = response.headers.get("Location")
                if status in REDIRECT_STATUSES and location:
                    shown_next = self._redact_url(call, urljoin(current_url, location.strip()), secret_params)
                    if redirects >= call.policy.max_redirects:
                        raise TooManyRedirects(
                            f"{call.source}: more than {call.policy.max_redirects} redirects "
                            f"(the last one pointed to {shown_next})"
                        )
                    next_url = _drop_fragment(urljoin(current_url, location.strip()))
                    self._check_url(call, next_url, secret_params, redirected=True)
                    if _origin(next_url) == origin:
                        next_url = _set_params(next_url, auth_params)
                    else:
                        next_url = _strip_params(next_url, secret_params)
                    if next_url in visited:
                        raise TooManyRedirects(
                            f"{call.source}: the redirects loop back to {shown_next}"
                        )
                    visited.add(next_url)
                    redirects += 1
                    if status == 303 and method != "HEAD" or status in (301, 302) and method == "POST":
                        method = "GET"
                        body = None
                        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
                    logger.debug(
                        "%s: %s redirected (%d) to %s",
                        call.source,
                        self._redact_url(call, current_url, secret_params),
                        status,
                        shown_next,
                    )
                    self._discard_body(call, response)
                    current_url = next_url
                    continue

                payload = self._read_body(call, response, method, host)
                elapsed_ms = int((time.monotonic() - call.started) * 1000)
                final_url = self._redact_url(call, current_url, secret_params)
                logger.debug(
                    "%s: %s %s -> %d in %d ms (%d redirects, %d bytes)",
                    call.source,
                    method,
                    final_url,
                    status,
                    elapsed_ms,
                    redirects,
                    len(payload),
                )
                return UpstreamResponse(
                    status=status,
                    headers=CaseInsensitiveDict(response.headers),
                    body=payload,
                    url=final_url,
                    elapsed_ms=elapsed_ms,
                    redirects=redirects,
                    source=call.source,
                    _redactor=call.redactor,
                )
            finally:
                response.close()

    def _send(self, call: _Call, prepared: requests.PreparedRequest, host: str) -> requests.Response:
        try:
            timeout = call.op_timeout()
            return self._adapter.send(
                prepared, stream=True, timeout=(timeout, timeout), verify=True, cert=None, proxies=None
            )
        except ConnectError:
            raise
        except Exception as exc:  # requests/urllib3/ssl/socket errors
            error = self._translate(call, exc, host)
        raise error

    def _translate(self, call: _Call, exc: BaseException, host: str, *, reading: bool = False) -> ConnectError:
        chain = list(_causes(exc))
        for item in chain:
            if isinstance(item, ConnectError):
                return item
        if call.expired or call.remaining() <= 0:
            return call.timeout_error()
        for item in chain:
            if isinstance(item, ssl.SSLCertVerificationError):
                return TLSFailure(_tls_message(item, call.source, host))
        for item in chain:
            if isinstance(item, ssl.SSLError):
                return TLSFailure(_tls_message(item, call.source, host))
        for item in chain:
            if isinstance(item, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
                return call.timeout_error()
        for item in chain:
            if isinstance(item, urllib3.exceptions.DecodeError):
                return BadUpstreamData(f"{call.source}: the answer could not be decompressed")
        if reading:
            return ConnectFailure(f"{call.source}: the answer from {host} was cut off (the connection broke)")
        if isinstance(exc, (requests.ConnectionError, urllib3.exceptions.ProtocolError, OSError)):
            return ConnectFailure(f"{call.source}: the connection to {host} broke before the answer arrived")
        detail = call.redactor.redact(redact_known(type(exc).__name__))
        return UpstreamError(f"{call.source}: the call to {host} failed ({detail})")

    @staticmethod
    def _discard_body(call: _Call, response: requests.Response) -> None:
        """Read a small redirect body so its connection can go back to the pool;
        anything else is left to ``close()``, which drops the connection."""
        try:
            length = int(response.headers.get("Content-Length", ""))
        except ValueError:
            return
        if not 0 <= length <= STREAM_CHUNK:
            return
        try:
            call.tighten()
            for _chunk in response.raw.stream(STREAM_CHUNK, decode_content=False):
                pass
        except Exception:  # the next hop opens a new connection; its deadline still holds
            pass

    def _read_body(self, call: _Call, response: requests.Response, method: str, host: str) -> bytes:
        cap = call.policy.max_response_bytes
        too_large = ResponseTooLarge(
            f"{call.source}: the answer is larger than {_format_size(cap)} (CONNECT_MAX_RESPONSE_BYTES)",
            upstream_status=response.status_code,
        )
        if method == "HEAD" or response.status_code in (204, 304):
            return b""
        length = response.headers.get("Content-Length")
        if length is not None:
            try:
                declared = max(int(v.strip()) for v in length.split(","))
            except ValueError:
                declared = None
            if declared is not None and declared > cap:
                raise too_large
        buffer = bytearray()
        try:
            stream = response.raw.stream(STREAM_CHUNK, decode_content=True)
            while True:
                call.tighten()
                try:
                    chunk = next(stream)
                except StopIteration:
                    break
                if len(buffer) + len(chunk) > cap:
                    raise too_large
                buffer += chunk
        except ConnectError:
            raise
        except Exception as exc:
            raise self._translate(call, exc, host, reading=True) from None
        if call.expired:
            # The watchdog ended the body early; what arrived is not the answer.
            raise call.timeout_error()
        return bytes(buffer)
