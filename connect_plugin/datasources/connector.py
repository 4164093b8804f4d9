"""One call to a datasource: its URL, its credentials, its limits.

This is where a datasource's settings meet the outbound client: the auth mode adds
its headers or query parameter, the per-datasource limit on calls in flight is
taken, and an OAuth2 token that the API refuses (401) is fetched again once. The
datasource's type says which URL a query calls and which limits hold; nothing here
reads a type's settings by name.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from ..auth_modes import AUTH_MODES, AuthContext
from ..auth_modes.tokens import TokenCache
from ..caching.call_limiter import CallLimiter
from ..errors import SecretUnreadable, UpstreamError
from ..models import Datasource
from ..outbound import OutboundClient, Redactor, UpstreamResponse, raise_for_status, redact_known
from . import get_type
from . import headers as custom_headers
from .pagination import PageRecord, Pages, RowDecoder, RowsOf, TakeRows, read_pages
from .secrets import ObtainedSecrets, decrypt_secrets

if TYPE_CHECKING:
    from ..state import ConnectState


@dataclass
class TestResult:
    ok: bool
    status: int | None
    elapsed_ms: int
    error: str | None = None
    url: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": self.ok, "elapsed_ms": self.elapsed_ms}
        if self.status is not None:
            data["status"] = self.status
        if self.error:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class CallParts:
    """What a connected item adds to a call: its method, its JSON body (already
    serialised) and its own headers (values substituted)."""

    method: str = "GET"
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


PLAIN_GET = CallParts()


class Connector:
    """Calls one datasource with its stored settings and decrypted secrets."""

    def __init__(self, datasource: Datasource, secrets: dict[str, str], *, client: OutboundClient,
                 limiter: CallLimiter, tokens: TokenCache):
        self.datasource = datasource
        self.secrets = secrets
        self.client = client
        self.limiter = limiter
        self.type = get_type(datasource.type)
        self.mode = AUTH_MODES[datasource.auth_mode]()
        self.source = datasource.name
        self.limits = self.type.limits(datasource.config)
        self.context = AuthContext(
            client=client, source=self.source, timeout_seconds=self.limits.timeout_seconds,
            tokens=tokens, datasource_id=datasource.id, api_origin=self.type.api_origin(datasource.config),
        )

    @classmethod
    def for_datasource(cls, state: "ConnectState", datasource: Datasource) -> "Connector":
        """The app's connector for ``datasource``. Raises SecretUnreadable (naming
        the datasource) when a stored secret cannot be opened."""
        connector = cls(datasource, decrypt_secrets(datasource, state.box), client=state.client,
                        limiter=state.limiter, tokens=state.tokens)
        connector.context.vault = ObtainedSecrets(state.db, state.box, datasource.id)
        return connector

    def get(self, url: str, parts: "CallParts | None" = None) -> UpstreamResponse:
        """Call an absolute URL of this datasource (GET, or what a connected item's
        ``parts`` say); non-2xx answers raise UpstreamHTTPError carrying the status."""
        with self.limiter.slot(self.datasource.id, self.limits.max_concurrent, self.source):
            self.context.start()
            return self._get_page(url, parts=parts or PLAIN_GET)

    def get_pages(self, url: str, pagination: dict[str, Any], *, rows_of: RowsOf,
                  records: list[PageRecord] | None = None, parts: "CallParts | None" = None,
                  decode_rows: RowDecoder | None = None, take_rows: TakeRows | None = None) -> Pages:
        """Every page of the answer at ``url`` (:mod:`.pagination`): one slot, one
        deadline and one size cap for all of them; each page is sent with ``parts``.
        ``decode_rows`` reads a page's rows from its bytes when it can, ``take_rows``
        receives them page by page (see ``read_pages``)."""
        with self.limiter.slot(self.datasource.id, self.limits.max_concurrent, self.source):
            self.context.start()
            return read_pages(functools.partial(self._get_page, parts=parts or PLAIN_GET), url, pagination,
                              rows_of=rows_of, decode_rows=decode_rows, take_rows=take_rows, source=self.source,
                              max_bytes=self.client.policy.max_response_bytes, records=records,
                              redact=self.redact)

    def redact(self, text: str) -> str:
        """``text`` with this datasource's secrets masked (for a URL no answer masked yet)."""
        return redact_known(Redactor(self.secrets.values()).redact(text))

    def _get_page(self, url: str, max_bytes: int | None = None, *, parts: "CallParts") -> UpstreamResponse:
        """One call of the request that ``get`` or ``get_pages`` started (its deadline)."""
        response = self._send(url, max_bytes, parts)
        if response.status == 401 and self.mode.forget(self.context):
            response = self._send(url, max_bytes, parts)
        raise_for_status(response, self.source)
        return response

    def _send(self, url: str, max_bytes: int | None, parts: "CallParts") -> UpstreamResponse:
        credentials = self.mode.credentials(self.datasource.auth_config, self.secrets, self.context)
        # The datasource's headers, then the item's; secret headers travel like the
        # credentials (to the datasource's own origin only), which win over both.
        plain, secret = custom_headers.for_call(self.datasource.config, self.secrets)
        extra = {name: custom_headers.wire_value(value) for name, value in parts.headers.items()}
        json_body = {"Content-Type": "application/json"} if parts.body is not None else {}
        sent = custom_headers.merged({"Accept": "application/json"}, json_body, plain, extra)
        auth_headers = custom_headers.merged(custom_headers.without(secret, extra), credentials.headers)
        # A key in the query string replaces any parameter of the same name that the
        # admin's query wrote (never sent twice), and like auth headers it goes only to
        # the datasource's own origin: the client drops it on a cross-origin redirect.
        return self.client.request(
            parts.method, url, source=self.source, timeout_seconds=self.context.remaining(),
            limit_seconds=self.limits.timeout_seconds, headers=sent, data=parts.body, auth_headers=auth_headers,
            auth_params=credentials.params, secrets=tuple(self.secrets.values()) + credentials.secret_values,
            max_bytes=max_bytes,
        )

    def test(self) -> TestResult:
        """Call the type's health-check URL; ok means a 2xx answer."""
        url = self.type.health_check_url(self.datasource.config)
        started = time.monotonic()
        try:
            response = self.get(url)
        except UpstreamError as exc:
            return TestResult(ok=False, status=exc.upstream_status, error=exc.message,
                              elapsed_ms=int((time.monotonic() - started) * 1000))
        return TestResult(ok=True, status=response.status, elapsed_ms=response.elapsed_ms, url=response.url)


def test_connection(state: "ConnectState", datasource: Datasource) -> dict[str, Any]:
    """"Test connection", for the API and the wizard page alike."""
    try:
        connector = Connector.for_datasource(state, datasource)
    except SecretUnreadable as exc:
        return {"ok": False, "error": exc.message, "elapsed_ms": 0}
    return connector.test().as_json()
