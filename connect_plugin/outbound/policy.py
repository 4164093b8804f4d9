"""What outbound calls may do: the operator's allow list, trust store and limits.

``OutboundPolicy`` is built once from the Flask config (``from_config``) and handed
to :class:`connect_plugin.outbound.client.OutboundClient`. It is frozen so one
policy can be shared by every thread without locks.

``CONNECT_ALLOWED_HOSTS`` lists what the address guard lets through although it is
not public: exact host names (compared case-insensitively, trailing dot ignored,
never as a prefix or suffix), single IP addresses and CIDR networks.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..settings import DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_RESPONSE_BYTES, whole_number

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def normalize_host_name(host: str) -> str:
    """Lower-case a host name, drop a trailing dot and any IPv6 brackets."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.lower()
    if host.endswith(".") and host != ".":
        host = host[:-1]
    return host


def _strip_scope(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    return ip


def _parse_entry(entry: str) -> tuple[str, Any]:
    """Return ("host"|"ip"|"net", value) for one CONNECT_ALLOWED_HOSTS entry."""
    raw = entry
    entry = entry.strip()
    if not entry:
        raise ValueError("CONNECT_ALLOWED_HOSTS has an empty entry.")
    if "://" in entry or "/" in entry and not re.fullmatch(r"[0-9a-fA-F.:\[\]]+/\d{1,3}", entry):
        raise ValueError(
            f"CONNECT_ALLOWED_HOSTS entry {raw!r} is not a host name, an IP address or a CIDR network "
            "(write api.example.com, 10.0.0.5 or 10.0.0.0/24, without scheme, path or port)."
        )
    if "/" in entry:
        try:
            net = ipaddress.ip_network(entry.replace("[", "").replace("]", ""), strict=True)
        except ValueError as exc:
            raise ValueError(f"CONNECT_ALLOWED_HOSTS entry {raw!r} is not a valid CIDR network ({exc}).") from None
        if net.prefixlen == 0:
            raise ValueError(
                f"CONNECT_ALLOWED_HOSTS entry {raw!r} would allow every address; list the networks you need."
            )
        return "net", net
    bare = entry[1:-1] if entry.startswith("[") and entry.endswith("]") else entry
    try:
        return "ip", _strip_scope(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if "*" in entry:
        raise ValueError(
            f"CONNECT_ALLOWED_HOSTS entry {raw!r} uses a wildcard; list each host name exactly."
        )
    if ":" in entry:
        raise ValueError(
            f"CONNECT_ALLOWED_HOSTS entry {raw!r} is not a host name, an IP address or a CIDR network "
            "(leave the port out)."
        )
    host = normalize_host_name(entry)
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"CONNECT_ALLOWED_HOSTS entry {raw!r} is not a valid host name.") from None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"CONNECT_ALLOWED_HOSTS entry {raw!r} is not a valid host name.")
    return "host", host


def _split_entries(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.replace("\n", ",").split(",")) if part]
    if isinstance(value, (list, tuple, set, frozenset)):
        out: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"CONNECT_ALLOWED_HOSTS entry {item!r} is not a string.")
            if item.strip():
                out.append(item.strip())
        return out
    raise ValueError("CONNECT_ALLOWED_HOSTS must be a comma-separated string or a list of strings.")


@dataclass(frozen=True)
class OutboundPolicy:
    """Limits of every outbound call.

    ``allowed`` takes the raw entries (a list, or a comma-separated string); the
    parsed forms are in ``allowed_hosts``, ``allowed_ips`` and ``allowed_networks``.
    """

    allowed: tuple[str, ...] = ()
    ca_bundle: str | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    allowed_hosts: frozenset[str] = field(init=False, default=frozenset())
    allowed_ips: frozenset[IPAddress] = field(init=False, default=frozenset())
    allowed_networks: tuple[IPNetwork, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        entries = tuple(_split_entries(self.allowed))
        hosts: set[str] = set()
        ips: set[IPAddress] = set()
        nets: list[IPNetwork] = []
        for entry in entries:
            kind, value = _parse_entry(entry)
            if kind == "host":
                hosts.add(value)
            elif kind == "ip":
                ips.add(value)
            elif value not in nets:
                nets.append(value)
        object.__setattr__(self, "allowed", entries)
        object.__setattr__(self, "allowed_hosts", frozenset(hosts))
        object.__setattr__(self, "allowed_ips", frozenset(ips))
        object.__setattr__(self, "allowed_networks", tuple(nets))

        if self.ca_bundle is not None:
            if not isinstance(self.ca_bundle, str) or not self.ca_bundle.strip():
                raise ValueError("CONNECT_CA_BUNDLE must be the path of a PEM file or directory.")
        for name, minimum in (("max_response_bytes", 1), ("max_redirects", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be a whole number of at least {minimum}, not {value!r}.")

    # -- queries ---------------------------------------------------------------

    def allows_host(self, host: str) -> bool:
        """True when ``host`` is named exactly in the allow list."""
        if not host:
            return False
        return normalize_host_name(host) in self.allowed_hosts

    def allows_ip(self, ip: IPAddress | str) -> bool:
        """True when ``ip`` (or the IPv4 address inside an IPv4-mapped IPv6 one)
        equals an allowed IP or lies in an allowed network."""
        if isinstance(ip, str):
            ip = ipaddress.ip_address(ip)
        candidates: list[IPAddress] = [_strip_scope(ip)]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        for candidate in candidates:
            if candidate in self.allowed_ips:
                return True
            for net in self.allowed_networks:
                if candidate.version == net.version and candidate in net:
                    return True
        return False

    # -- construction ------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "OutboundPolicy":
        """Read ``CONNECT_ALLOWED_HOSTS``, ``CONNECT_CA_BUNDLE``,
        ``CONNECT_MAX_RESPONSE_BYTES`` (and ``CONNECT_MAX_REDIRECTS``) from a
        Flask-style mapping."""
        allowed = _split_entries(config.get("CONNECT_ALLOWED_HOSTS"))

        ca_bundle = config.get("CONNECT_CA_BUNDLE") or None
        if ca_bundle is not None:
            if not isinstance(ca_bundle, (str, os.PathLike)):
                raise ValueError("CONNECT_CA_BUNDLE must be the path of a PEM file or directory.")
            ca_bundle = os.fspath(ca_bundle)
            if not os.path.exists(ca_bundle):
                raise ValueError(f"CONNECT_CA_BUNDLE {ca_bundle!r} does not exist.")

        max_bytes = whole_number(config, "CONNECT_MAX_RESPONSE_BYTES", minimum=1)
        max_redirects = whole_number(config, "CONNECT_MAX_REDIRECTS", minimum=0)
        return cls(
            allowed=tuple(allowed),
            ca_bundle=ca_bundle,
            max_response_bytes=max_bytes,
            max_redirects=max_redirects,
        )
