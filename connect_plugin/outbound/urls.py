"""URL rules of outbound calls: which URLs may be called, what an origin is, and
how parameters are set without letting a substituted value reshape the path."""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, unquote_plus, urlencode, urlsplit, urlunsplit

import requests

from connect_plugin.errors import InsecureURL

from .guard import parse_ip_literal
from .policy import normalize_host_name

Origin = tuple[str, str, int]

# RFC 3986 characters that may stand unencoded in a path or a query ('%' included:
# existing escapes are kept exactly as they are).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def check_url(url: str, *, source: str, shown: Callable[[str], str], redirected: bool) -> None:
    """Refuse anything but a plain ``https://host/...`` URL. ``shown`` masks the URL
    for the message (it may carry a secret parameter)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InsecureURL(f"{source}: the URL {shown(url)} is not valid") from None
    scheme = parts.scheme.lower()
    if scheme != "https":
        if redirected:
            label = f"{scheme}://" if scheme else "a URL without https://"
            raise InsecureURL(
                f"{source}: a redirect to {label} was refused ({shown(url)}); only HTTPS URLs are accepted"
            )
        raise InsecureURL(f"{source}: only HTTPS URLs are accepted, not {shown(url)}")
    if not parts.hostname:
        raise InsecureURL(f"{source}: the URL {shown(url)} has no host")
    if "@" in parts.netloc:
        raise InsecureURL(f"{source}: the URL {shown(url)} contains a user name or password, which is refused")


def origin(url: str) -> Origin:
    """(scheme, host, port) with the host in one spelling: lower case, no trailing
    dot, IDNA for a non-ASCII name, an IP literal as its address (``127.1`` and
    ``127.0.0.1`` are one origin), the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, canonical_host(parts.hostname or ""), port


@functools.lru_cache(maxsize=1024)
def canonical_host(host: str) -> str:
    """``host`` in the one spelling of :func:`origin`; cached, as every call and every
    page of a paged answer asks for its origin (an IP literal's parse costs
    microseconds each time)."""
    name = normalize_host_name(host)
    ip = parse_ip_literal(name)
    if ip is not None:
        return str(ip)
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def strip_params(url: str, names: Iterable[str]) -> str:
    names = set(names)
    parts = urlsplit(url)
    if not parts.query or not names:
        return url
    kept = [p for p in parts.query.split("&") if p and unquote_plus(p.partition("=")[0]) not in names]
    return urlunsplit(parts._replace(query="&".join(kept)))


def set_params(url: str, params: Mapping[str, Any]) -> str:
    """``url`` with each of ``params`` set (replacing parameters of the same name)."""
    if not params:
        return url
    parts = urlsplit(strip_params(url, params.keys()))
    query = "&".join(p for p in (parts.query, urlencode(list(params.items()))) if p)
    return urlunsplit(parts._replace(query=query))


@functools.lru_cache(maxsize=1024)
def prepared_origin(scheme: str, netloc: str) -> str:
    """``scheme://netloc/`` as requests prepares a URL (its checks of the host, IDNA):
    all that a call keeps of requests' preparation, the path and query being built by
    :func:`as_built`. Once per origin, not per call: preparing the whole URL was a
    tenth of the client's cost of each page of a paged answer. Raises what
    ``PreparedRequest.prepare_url`` raises (nothing is cached then)."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(f"{scheme}://{netloc}/", None)
    return prepared.url


def as_built(prepared_url: str, url: str, params: list[tuple[str, Any]]) -> str:
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


def drop_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))
