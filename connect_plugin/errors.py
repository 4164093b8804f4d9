"""Typed errors of the plugin.

Every failure the plugin can explain is raised as one of these classes and turned
into JSON (or a page message) in exactly one place, the blueprint's error handler.
Raising instead of returning ``(data, error)`` tuples keeps status codes from being
lost on the way (Redash's ``get_response`` once dropped them), and keeps every
message a single sentence that an admin can act on.

Messages must never contain a secret: code that builds a message from anything an
upstream or a URL said passes it through ``outbound.redact`` first.
"""

from __future__ import annotations


class ConnectError(Exception):
    """Base class: ``status`` is the HTTP status the API answers with."""

    status = 500

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def to_json(self) -> dict:
        return {"error": self.message}


class ValidationError(ConnectError):
    """Input that cannot be saved; ``fields`` maps a field name to its message."""

    status = 400

    def __init__(self, message: str = "Some fields are not valid.", fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = dict(fields or {})

    def to_json(self) -> dict:
        body = {"error": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


class NotFound(ConnectError):
    status = 404


class Forbidden(ConnectError):
    status = 403


class Unauthorized(ConnectError):
    status = 401


class Conflict(ConnectError):
    status = 409


class SecretUnreadable(ConnectError):
    """A stored secret cannot be decrypted with the configured keys."""

    status = 409


class SecretsMissing(SecretUnreadable):
    """A datasource waits for secrets it was saved without (an imported one): it
    cannot be called until an admin enters them."""


class MissingDependency(ConnectError):
    """A query needs a value that is not filled in yet; ``field`` names it."""

    status = 409

    def __init__(self, field: str, message: str | None = None):
        super().__init__(message or f"Fill in {field} first.")
        self.field = field


# --- upstream (outbound HTTP) failures -------------------------------------------


class UpstreamError(ConnectError):
    """The upstream could not give a usable answer. ``upstream_status`` is the HTTP
    status it answered with, when it answered at all."""

    status = 502
    # What kind of failure, from a small fixed set that metrics count by
    # (connect_plugin/metrics.py); subclasses name theirs.
    kind = "error"

    def __init__(self, message: str, *, upstream_status: int | None = None, excerpt: str | None = None):
        super().__init__(message)
        self.upstream_status = upstream_status
        self.excerpt = excerpt


class UpstreamTimeout(UpstreamError):
    status = 504
    kind = "timeout"


class UpstreamBusy(UpstreamError):
    """The datasource already has its limit of calls in flight."""

    status = 503
    kind = "busy"


class BlockedAddress(UpstreamError):
    """The URL resolves to an address that datasources may not reach."""

    kind = "refused"


class InsecureURL(UpstreamError):
    """A URL (or a redirect) that is not ``https://`` with a host."""

    kind = "refused"


class TLSFailure(UpstreamError):
    """Certificate not trusted, wrong host name, or a failed handshake."""

    kind = "tls"


class ResolveFailure(UpstreamError):
    """The host name does not resolve."""


class ConnectFailure(UpstreamError):
    """The connection was refused or reset."""


class ResponseTooLarge(UpstreamError):
    """The answer is larger than ``CONNECT_MAX_RESPONSE_BYTES``."""

    kind = "too_large"


class TooManyRedirects(UpstreamError):
    pass


class PaginationError(UpstreamError):
    """The pages of an answer cannot be read as one: they loop, or a cursor does not
    change, or a next link is not where the pages can be."""


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with a non-2xx status."""

    kind = "http_error"


class BadUpstreamData(UpstreamError):
    """The answer is not JSON, or not of the shape the mapping expects."""

    kind = "not_json"


# The kinds of failed calls, the one vocabulary that metrics (the ``outcome`` label,
# connect_plugin/metrics.py) and per-datasource stats (``errors_by_kind``,
# connect_plugin/stats/) count by: each class above names its ``kind``; ``error``
# is every other failure (a broken connection, a name that does not resolve, too
# many redirects, an unexpected exception).
ERROR_KINDS = ("timeout", "refused", "tls", "http_error", "too_large", "not_json", "busy", "error")


def error_kind(exc: BaseException) -> str:
    """The kind of a failed call: a typed error's ``kind``, else ``error``."""
    kind = getattr(exc, "kind", "error") if isinstance(exc, UpstreamError) else "error"
    return kind if kind in ERROR_KINDS else "error"
