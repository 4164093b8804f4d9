"""Outbound HTTP: the only way the plugin reaches an upstream API.

* :class:`OutboundPolicy` — allow list, trust store and limits, from the Flask config.
* :class:`OutboundClient` — HTTPS calls and their redirect walk (:mod:`.client`), on
  :mod:`.transport` (the address guard at connect time, verified TLS), under one
  deadline per call (:mod:`.deadline`), with the URL rules of :mod:`.urls`, the
  answer and its size cap in :mod:`.response` and typed errors from :mod:`.failures`.
* :mod:`.guard` — pure URL and address checks (save-time validation).
* :mod:`.redact` — keeps secrets out of messages, URLs and logs.
"""

from .client import OutboundClient
from .guard import (
    address_is_public,
    check_address,
    check_datasource_url,
    is_allowed,
    parse_ip_literal,
    refuse_literal_private_host,
    validate_https_url,
)
from .policy import OutboundPolicy
from .response import UpstreamResponse, raise_for_status
from .transport import GuardedAdapter, GuardedHTTPSConnection, build_ssl_context
from .log_redaction import RedactingFilter, install_log_redaction
from .redact import Redactor, redact_known, redact_url, register_secret

__all__ = [
    "GuardedAdapter",
    "GuardedHTTPSConnection",
    "OutboundClient",
    "OutboundPolicy",
    "RedactingFilter",
    "Redactor",
    "UpstreamResponse",
    "address_is_public",
    "build_ssl_context",
    "check_address",
    "check_datasource_url",
    "install_log_redaction",
    "is_allowed",
    "parse_ip_literal",
    "raise_for_status",
    "redact_known",
    "redact_url",
    "refuse_literal_private_host",
    "register_secret",
    "validate_https_url",
]
