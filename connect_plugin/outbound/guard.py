"""Pure checks on outbound URLs and addresses (no sockets, no DNS).

* ``validate_https_url`` — the form check used when a datasource is saved.
* ``address_is_public`` — may a datasource reach this IP without an operator's
  permission? False for every private, loopback, link-local, reserved, ... range,
  and for the IPv6 forms that embed such an IPv4 address.
* ``check_address`` — the decision the client takes at connect time, on the IP it
  is about to connect to.
* ``parse_ip_literal`` / ``refuse_literal_private_host`` — refuse, at save time,
  URLs whose host is spelled as a private IP (``127.1``, ``2130706433``,
  ``0x7f.1``, ``[::1]``...). The client judges again, at connect time, whatever
  getaddrinfo resolves a host to, so this is only an early, friendlier refusal.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from connect_plugin.errors import BlockedAddress, ValidationError

from .policy import IPAddress, OutboundPolicy, normalize_host_name

ONLY_HTTPS = "Only HTTPS URLs are accepted"
NEED_HOST = "Enter a full URL with a host, such as https://api.example.com"
NO_USERINFO = (
    "Do not put a user name or password in the URL; use the datasource's authentication settings"
)
BAD_PORT = "The port in the URL is not valid"
BAD_CHARS = "The URL contains spaces or control characters"
BAD_HOST = "The host name in the URL is not valid"

_V4_BLOCKED = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255
    )
)

_V6_BLOCKED = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::ffff:0:0/96",  # IPv4-mapped (judged separately, kept as a backstop)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, benchmarking, ORCHID...)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local (incl. fd00:ec2::254, the EC2 metadata address)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V4_COMPAT = ipaddress.IPv6Network("::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def _as_ip(ip: IPAddress | str | int) -> IPAddress:
    if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ip
    if isinstance(ip, str):
        text = ip.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        return ipaddress.ip_address(text)
    if isinstance(ip, int) and not isinstance(ip, bool):
        return ipaddress.ip_address(ip)
    raise TypeError(f"not an IP address: {ip!r}")


def _v4_is_public(ip: ipaddress.IPv4Address) -> bool:
    if not ip.is_global:
        return False
    if (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    ):
        return False
    return not any(ip in net for net in _V4_BLOCKED)


def address_is_public(ip: IPAddress | str | int) -> bool:
    """May a datasource reach ``ip`` without the operator allowing it?

    Accepts an ``ipaddress`` object, a string (brackets and IPv6 zone allowed) or
    an int (read as IPv4 when it fits in 32 bits).
    """
    ip = _as_ip(ip)
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_is_public(ip)

    if ip.scope_id:
        # A zone only makes sense for link-local and the like.
        return False
    # IPv6 forms that carry an IPv4 address: judge the embedded one.
    mapped = ip.ipv4_mapped
    if mapped is not None:
        return _v4_is_public(mapped)
    if ip in _NAT64:
        return _v4_is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _V4_COMPAT:
        # ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 land here too.
        if int(ip) <= 1:
            return False
        return _v4_is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _SIX_TO_FOUR:
        embedded = ip.sixtofour
        if embedded is None or not _v4_is_public(embedded):
            return False
    if ip in _TEREDO:
        server, client = ip.teredo  # type: ignore[misc]
        if not (_v4_is_public(server) and _v4_is_public(client)):
            return False

    if not ip.is_global:
        return False
    if (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_site_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip.is_private
    ):
        return False
    return not any(ip in net for net in _V6_BLOCKED)


def blocked_message(source: str, host: str, ip: IPAddress | str) -> str:
    return (
        f"{source}: {host} resolves to {ip}, an address datasources may not reach "
        "(a private, loopback or reserved address). "
        "An operator can allow it with CONNECT_ALLOWED_HOSTS."
    )


def is_allowed(host: str | None, ip: IPAddress | str, policy: OutboundPolicy) -> bool:
    """True when ``ip`` is public, or the policy allows ``host`` or ``ip``."""
    ip = _as_ip(ip)
    if address_is_public(ip):
        return True
    if host and policy.allows_host(host):
        return True
    return policy.allows_ip(ip)


def check_address(
    host: str | None, ip: IPAddress | str, policy: OutboundPolicy, *, source: str = "This datasource"
) -> None:
    """Raise :class:`BlockedAddress` unless ``ip`` may be connected to.

    ``ip`` is allowed when it is public, when the policy names ``host`` exactly
    (case-insensitive, trailing dot ignored), or when it equals an allowed IP or
    lies in an allowed network (an IPv4-mapped IPv6 address is also compared as
    its IPv4 form).
    """
    ip = _as_ip(ip)
    if is_allowed(host, ip, policy):
        return
    shown_host = normalize_host_name(host) if host else str(ip)
    raise BlockedAddress(blocked_message(source, shown_host, ip))


# --- literal hosts -------------------------------------------------------------

_V4_PART = r"(?:0[xX][0-9a-fA-F]*|[0-9]+)"
_V4_LOOSE = re.compile(rf"^{_V4_PART}(?:\.{_V4_PART}){{0,3}}$")


def parse_ip_literal(host: str | None) -> IPAddress | None:
    """The IP a host spelled as an address stands for, or None for a host name.

    Understands ``[::1]`` and every IPv4 spelling ``inet_aton`` (and so
    getaddrinfo) accepts: ``127.0.0.1``, ``127.1``, ``0x7f.1``, ``0177.0.0.1``,
    ``2130706433``, ``0x7f000001``. A trailing dot is ignored.
    """
    if not host:
        return None
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        return ip
    if ":" in text:
        return None
    if text.endswith("."):
        text = text[:-1]
    if not _V4_LOOSE.match(text):
        return None
    try:
        packed = socket.inet_aton(text)
    except OSError:
        return None
    return ipaddress.IPv4Address(packed)


def _url_error(field: str | None, message: str) -> ValidationError:
    return ValidationError(message, fields={field or "url": message})


def validate_https_url(url: object, field: str | None = None) -> None:
    """Raise ``ValidationError({field: message})`` unless ``url`` is a full
    ``https://`` URL with a host and no user name or password. A fragment is
    allowed (the client drops it)."""
    if not isinstance(url, str) or not url.strip():
        raise _url_error(field, NEED_HOST)
    text = url.strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise _url_error(field, BAD_CHARS)
    try:
        parts = urlsplit(text)
    except ValueError:
        raise _url_error(field, NEED_HOST) from None
    scheme = parts.scheme.lower()
    if not scheme:
        # "api.example.com/x" or "//api.example.com": no scheme at all.
        raise _url_error(field, NEED_HOST)
    if scheme != "https":
        raise _url_error(field, ONLY_HTTPS)
    if "@" in parts.netloc:
        raise _url_error(field, NO_USERINFO)
    host = parts.hostname
    if not host:
        raise _url_error(field, NEED_HOST)
    try:
        port = parts.port
    except ValueError:
        raise _url_error(field, BAD_PORT) from None
    if port == 0:
        raise _url_error(field, BAD_PORT)
    if parts.netloc.startswith("[") or ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise _url_error(field, BAD_HOST) from None
        return
    if not _host_name_ok(host):
        raise _url_error(field, BAD_HOST)


def _host_name_ok(host: str) -> bool:
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253:
        return False
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return all(re.fullmatch(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)", label) for label in ascii_name.split("."))


def url_host(url: str) -> str | None:
    try:
        return urlsplit(url.strip()).hostname
    except ValueError:
        return None


def refuse_literal_private_host(url: str, policy: OutboundPolicy, field: str | None = None) -> None:
    """At save time, refuse a URL whose host is written as a non-public IP (in any
    spelling) or is ``localhost``, unless the policy allows it. Host names are
    not resolved here; the client judges what they resolve to at connect time."""
    host = url_host(url)
    if not host:
        return
    ip = parse_ip_literal(host)
    if ip is None:
        name = normalize_host_name(host)
        if (name == "localhost" or name.endswith(".localhost")) and not policy.allows_host(name):
            message = blocked_message("This URL", name, "a loopback address")
            raise ValidationError(message, fields={field or "url": message})
        return
    if is_allowed(host, ip, policy):
        return
    message = blocked_message("This URL", host, ip)
    raise ValidationError(message, fields={field or "url": message})


def check_datasource_url(url: object, field: str, policy: OutboundPolicy) -> None:
    """What a URL that datasources will call must pass when it is saved: HTTPS with a
    host, and no host written as an address the policy refuses."""
    validate_https_url(url, field=field)
    refuse_literal_private_host(str(url), policy, field=field)
