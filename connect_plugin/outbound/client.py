"""The one way the plugin talks to an upstream API.

``OutboundClient.request`` enforces, by construction:

* HTTPS only, for the URL and every redirect hop (:mod:`.urls`);
* the address guard at connect time, on the IP actually connected to
  (:mod:`.transport`);
* certificate verification that cannot be switched off (system/certifi trust
  store plus ``CONNECT_CA_BUNDLE``);
* manual redirects: at most ``max_redirects`` hops, each one re-checked, auth
  headers and auth query parameters sent to the original origin only;
* one deadline per call, for DNS, connect, TLS, headers and the whole body
  (:mod:`.deadline`);
* a cap on the decoded body size (checked on ``Content-Length`` first);
* secrets masked with ``***`` in messages, URLs, excerpts and log records.

Every failure is one of the typed errors of :mod:`connect_plugin.errors`
(:mod:`.failures`). The redirect walk below is the part that keeps secrets on
their origin; each of its steps is a method of its own so it reads as a list of
rules: the first hop, the headers of a hop, the decision about the next hop.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from connect_plugin.errors import ConnectError, InsecureURL, TooManyRedirects

from . import urls
from .deadline import CURRENT_CALL, Call
from .failures import translate
from .lookups import Lookups, Resolver
from .policy import OutboundPolicy, normalize_host_name
from .log_redaction import install_log_redaction
from .redact import call_redactor, redact_known
from .response import UpstreamResponse, discard_body, read_body
from .transport import GuardedAdapter, build_ssl_context

logger = logging.getLogger("connect_plugin.outbound")

USER_AGENT = "connect-plugin/0.1"
DEFAULT_HEADERS = {
    "User-Agent": USER_AGENT,
    "Accept": "application/json, */*;q=0.1",
    "Accept-Encoding": "gzip, deflate",
}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CROSS_ORIGIN_DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
BODY_HEADERS = ("content-type", "content-length")


@dataclass
class _Hop:
    """One request of the walk: what is sent, and where."""

    method: str
    url: str
    body: Any
    headers: dict[str, str]


@dataclass
class _Walk:
    """What the whole walk knows: where it started, where it has been."""

    origin: urls.Origin
    secret_params: tuple[str, ...]
    auth_params: dict[str, str]
    auth_headers: dict[str, str]
    visited: set[str] = field(default_factory=set)
    redirects: int = 0
    follow: bool = True


class OutboundClient:
    """Makes outbound HTTPS calls under an :class:`OutboundPolicy`.

    One client may be shared by many threads; it keeps a connection pool per
    origin, and its own lookup threads (:mod:`.lookups`). ``resolver`` (a
    ``getaddrinfo``-like callable) exists for tests; the address guard judges
    whatever it returns.

    ``before_call`` runs in the caller's thread before every call: the plugin
    gives back the database connections of the request there (see
    ``state.release_before_wait``), so only a request that really waits on an
    upstream pays for that, never a cache hit.
    """

    def __init__(
        self,
        policy: OutboundPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        pool_maxsize: int = 10,
        before_call: Callable[[], None] | None = None,
    ):
        self.before_call = before_call
        self.policy = policy if policy is not None else OutboundPolicy()
        self._ssl_context = build_ssl_context(self.policy)
        self._adapter = GuardedAdapter(self._ssl_context, pool_maxsize=pool_maxsize)
        self._lookups = Lookups(resolver or socket.getaddrinfo)
        install_log_redaction()

    def close(self) -> None:
        self._adapter.close()
        self._lookups.close()

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
        follow_redirects: bool = True,
        limit_seconds: float | None = None,
        max_bytes: int | None = None,
    ) -> UpstreamResponse:
        """Call ``url`` and return the answer, whatever its status.

        ``follow_redirects=False`` refuses any redirect (token endpoints: a
        credential exchange answers itself or fails). ``limit_seconds`` is the
        limit a timeout message names when ``timeout_seconds`` is what is left of it;
        ``max_bytes`` lowers the body size cap likewise (one page of several).

        Raises a subclass of :class:`connect_plugin.errors.UpstreamError` when no
        usable answer arrives (blocked address, TLS, timeout, size, redirects...).
        """
        if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) or timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be a positive number")
        if self.before_call is not None:
            self.before_call()
        auth_headers = dict(auth_headers or {})
        auth_params = {k: ("" if v is None else str(v)) for k, v in (auth_params or {}).items()}
        call = Call(
            source=source,
            timeout_seconds=float(timeout_seconds),
            limit_seconds=limit_seconds,
            max_bytes=max_bytes,
            policy=self.policy,
            redactor=call_redactor(auth_headers.values(), auth_params.values(), secrets),
            lookups=self._lookups,
        )
        token = CURRENT_CALL.set(call)
        try:
            hop, walk = self._first_hop(call, method.upper(), url, params, data, dict(headers or {}),
                                        auth_headers, auth_params)
            walk.follow = follow_redirects
            return self._walk(call, hop, walk)
        except ConnectError as exc:
            logger.debug("%s", call.redactor.redact(exc.message))
            raise
        finally:
            CURRENT_CALL.reset(token)
            call.finish()

    # the redirect walk ------------------------------------------------------------

    def _walk(self, call: Call, hop: _Hop, walk: _Walk) -> UpstreamResponse:
        while True:
            host = normalize_host_name(urlsplit(hop.url).hostname or "")
            response = self._send(call, self._prepare(call, hop, walk), host)
            try:
                next_hop = self._next_hop(call, hop, walk, response)
                if next_hop is None:
                    return self._answer(call, hop, walk, response, host)
                discard_body(call, response)
                hop = next_hop
            finally:
                response.close()

    def _first_hop(self, call: Call, method: str, url: Any, params: Any, data: Any,
                   headers: dict[str, str], auth_headers: dict[str, str],
                   auth_params: dict[str, str]) -> tuple[_Hop, _Walk]:
        """The caller's URL, checked, with the caller's params and then the auth
        params, which replace any parameter of the same name in the URL or in
        ``params``. Its origin is the only one that receives credentials."""
        secret_params = tuple(auth_params)
        if not isinstance(url, str):
            raise InsecureURL(f"{call.source}: the URL is not text")
        url = url.strip()
        if not url:
            raise InsecureURL(f"{call.source}: the URL is empty")
        self._check_url(call, url, secret_params, redirected=False)
        url = urls.drop_fragment(url)
        if auth_params:
            url = urls.strip_params(url, secret_params)
        merged: list[tuple[str, Any]] = []
        if params:
            items = params.items() if isinstance(params, Mapping) else params
            merged.extend((k, v) for k, v in items if k not in auth_params)
        merged.extend(auth_params.items())
        try:
            # Only the origin: requests' own checks and IDNA (the path and query are built
            # by as_built, headers and body per hop).
            parts = urlsplit(url)
            prepared = urls.prepared_origin(parts.scheme, parts.netloc)
        except (requests.RequestException, ValueError, UnicodeError):
            raise InsecureURL(
                f"{call.source}: the URL {self._redact_url(call, url, secret_params)} is not valid"
            ) from None
        current = urls.as_built(prepared, url, merged)
        walk = _Walk(origin=urls.origin(current), secret_params=secret_params,
                     auth_params=auth_params, auth_headers=auth_headers, visited={current})
        return _Hop(method=method, url=current, body=data, headers=headers), walk

    @staticmethod
    def _hop_headers(hop: _Hop, walk: _Walk) -> CaseInsensitiveDict:
        """Defaults, the caller's headers, and on the first origin only the auth
        headers; cookies and authorization never go to another origin."""
        same_origin = urls.origin(hop.url) == walk.origin
        headers = CaseInsensitiveDict(DEFAULT_HEADERS)
        for name, value in hop.headers.items():
            if same_origin or name.lower() not in CROSS_ORIGIN_DROPPED_HEADERS:
                headers[name] = value
        if same_origin:
            headers.update(walk.auth_headers)
        return headers

    def _prepare(self, call: Call, hop: _Hop, walk: _Walk) -> requests.PreparedRequest:
        """``Request.prepare()`` without its URL, cookie and auth steps: the hop's URL
        is already built and checked (``_first_hop``, ``_next_hop``; it never holds
        a user name, ``urls.check_url``), this client keeps no cookies, and credentials
        are the auth headers. Re-parsing the URL per hop was a tenth of a page's cost
        in the client."""
        prepared = requests.PreparedRequest()
        try:
            prepared.prepare_method(hop.method)
            prepared.url = hop.url  # as built: requests' path normalisation is not applied
            prepared.prepare_headers(self._hop_headers(hop, walk))
            prepared.prepare_body(hop.body, None)
        except (requests.RequestException, ValueError, UnicodeError) as exc:
            # Never echo the exception: it may quote a header value.
            raise InsecureURL(
                f"{call.source}: the request to {self._redact_url(call, hop.url, walk.secret_params)} "
                f"could not be prepared ({type(exc).__name__})"
            ) from None
        return prepared

    def _next_hop(self, call: Call, hop: _Hop, walk: _Walk, response: requests.Response) -> _Hop | None:
        """Where a redirect leads, or ``None`` when this answer is the answer.

        The rules, in order: a call that follows no redirect refuses it; at most
        ``max_redirects`` hops; the target is an HTTPS URL like the first one; auth
        params are set again on the first origin and stripped anywhere else; no URL
        is visited twice; 303 (and 301/302 after a POST) continue as a GET without
        the body; a body never goes to another origin (it may hold a secret, as a
        ``client_secret_post`` form does), so such a redirect is refused."""
        status = response.status_code
        location = response.headers.get("Location")
        if status not in REDIRECT_STATUSES or not location:
            return None
        target = urljoin(hop.url, location.strip())
        shown_next = self._redact_url(call, target, walk.secret_params)
        if not walk.follow:
            raise TooManyRedirects(
                f"{call.source}: the answer is a redirect ({status}) to {shown_next}, which is not followed here"
            )
        if walk.redirects >= call.policy.max_redirects:
            raise TooManyRedirects(
                f"{call.source}: more than {call.policy.max_redirects} redirects "
                f"(the last one pointed to {shown_next})"
            )
        next_url = urls.drop_fragment(target)
        self._check_url(call, next_url, walk.secret_params, redirected=True)
        if urls.origin(next_url) == walk.origin:
            next_url = urls.set_params(next_url, walk.auth_params)
        else:
            next_url = urls.strip_params(next_url, walk.secret_params)
        if next_url in walk.visited:
            raise TooManyRedirects(f"{call.source}: the redirects loop back to {shown_next}")
        walk.visited.add(next_url)
        walk.redirects += 1
        logger.debug("%s: %s redirected (%d) to %s", call.source,
                     self._redact_url(call, hop.url, walk.secret_params), status, shown_next)
        if status == 303 and hop.method != "HEAD" or status in (301, 302) and hop.method == "POST":
            headers = {k: v for k, v in hop.headers.items() if k.lower() not in BODY_HEADERS}
            return _Hop(method="GET", url=next_url, body=None, headers=headers)
        if hop.body not in (None, b"", "", {}) and urls.origin(next_url) != walk.origin:
            raise TooManyRedirects(
                f"{call.source}: a redirect ({status}) to another origin ({shown_next}) would send the request "
                "body there; it was refused"
            )
        return _Hop(method=hop.method, url=next_url, body=hop.body, headers=hop.headers)

    def _answer(self, call: Call, hop: _Hop, walk: _Walk, response: requests.Response,
                host: str) -> UpstreamResponse:
        payload = read_body(call, response, hop.method, host)
        elapsed_ms = int((time.monotonic() - call.started) * 1000)
        final_url = self._redact_url(call, hop.url, walk.secret_params)
        logger.debug("%s: %s %s -> %d in %d ms (%d redirects, %d bytes)", call.source, hop.method,
                     final_url, response.status_code, elapsed_ms, walk.redirects, len(payload))
        return UpstreamResponse(
            status=response.status_code,
            headers=CaseInsensitiveDict(response.headers),
            body=payload,
            url=final_url,
            elapsed_ms=elapsed_ms,
            redirects=walk.redirects,
            source=call.source,
            _redactor=call.redactor,
        )

    # URLs -------------------------------------------------------------------------

    @staticmethod
    def _redact_url(call: Call, url: str, secret_params: Iterable[str]) -> str:
        return call.redactor.redact(redact_known(call.redactor.redact_url(url, secret_params)))

    def _check_url(self, call: Call, url: str, secret_params: Iterable[str], redirected: bool) -> None:
        urls.check_url(url, source=call.source, redirected=redirected,
                       shown=lambda u: self._redact_url(call, u, secret_params))

    # the wire ---------------------------------------------------------------------

    def _send(self, call: Call, prepared: requests.PreparedRequest, host: str) -> requests.Response:
        try:
            timeout = call.op_timeout()
            return self._adapter.send(
                prepared, stream=True, timeout=(timeout, timeout), verify=True, cert=None, proxies=None
            )
        except ConnectError:
            raise
        except Exception as exc:  # requests/urllib3/ssl/socket errors
            error = translate(call, exc, host)
        raise error

