"""Translate whatever requests, urllib3, ssl or the socket raised into one typed
error with a message an admin can act on.

The exception itself is never echoed: its text may quote a URL with a secret
parameter or a header value. Only its kind is used.
"""

from __future__ import annotations

import ssl
from typing import Iterable

import requests
import urllib3

from connect_plugin.errors import (
    BadUpstreamData,
    ConnectError,
    ConnectFailure,
    TLSFailure,
    UpstreamError,
)

from .deadline import Call
from .redact import redact_known

_HOSTNAME_MISMATCH_CODES = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_EXPIRED_CODES = {10}


def translate(call: Call, exc: BaseException, host: str, *, reading: bool = False) -> ConnectError:
    """The typed error for ``exc``, raised while sending to (or reading from) ``host``.

    Order matters: an error of ours inside the chain wins, then a passed deadline
    (the watchdog's shutdown surfaces as a broken connection), then TLS, then
    timeouts, then decoding; what is left is a broken connection."""
    chain = list(causes(exc))
    for item in chain:
        if isinstance(item, ConnectError):
            return item
    if call.expired or call.remaining() <= 0:
        return call.timeout_error()
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            return TLSFailure(tls_message(item, call.source, host))
    for item in chain:
        if isinstance(item, ssl.SSLError):
            return TLSFailure(tls_message(item, call.source, host))
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


def causes(exc: BaseException) -> Iterable[BaseException]:
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


def tls_message(exc: BaseException, source: str, host: str) -> str:
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


def format_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
