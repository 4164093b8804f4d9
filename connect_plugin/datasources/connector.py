"""One call to a datasource: its URL, its credentials, its limits.

This is where a datasource's settings meet the outbound client: the auth mode adds
its headers or query parameter, the per-datasource limit on calls in flight is
taken, and an OAuth2 token that the API refuses (401) is fetched again once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..auth_modes import AUTH_MODES, AuthContext
from .rest import DEFAULT_MAX_CONCURRENT, DEFAULT_TIMEOUT
from ..errors import UpstreamError
from ..caching.call_limiter import CallLimiter
from ..models import Datasource
from ..outbound import OutboundClient, UpstreamResponse, raise_for_status
from ..connected_items.query import join_url


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


class Connector:
    """Calls one datasource with its stored settings and decrypted secrets."""

    def __init__(self, datasource: Datasource, secrets: dict[str, str], *, client: OutboundClient,
                 limiter: CallLimiter):
        self.datasource = datasource
        self.secrets = secrets
        self.client = client
        self.limiter = limiter
        self.mode = AUTH_MODES[datasource.auth_mode]()
        config = datasource.config
        self.source = datasource.name
        self.timeout = float(config.get("timeout_seconds", DEFAULT_TIMEOUT))
        self.max_concurrent = int(config.get("max_concurrent_calls", DEFAULT_MAX_CONCURRENT))
        self.context = AuthContext(
            client=client, source=self.source, timeout_seconds=self.timeout,
            cache_key=(datasource.id, datasource.version, datasource.auth_mode),
        )

    def url_for(self, relative: str) -> str:
        return join_url(self.datasource.config["base_url"], relative)

    def get(self, url: str) -> UpstreamResponse:
        """GET an absolute URL of this datasource; non-2xx answers raise
        UpstreamHTTPError carrying the status."""
        with self.limiter.slot(self.datasource.id, self.max_concurrent, self.source):
            response = self._send(url)
            if response.status == 401 and self.mode.forget(self.context):
                response = self._send(url)
        raise_for_status(response, self.source)
        return response

    def _send(self, url: str) -> UpstreamResponse:
        credentials = self.mode.credentials(self.datasource.auth_config, self.secrets, self.context)
        # A key in the query string replaces any parameter of the same name that the
        # admin's query wrote (never sent twice), and like auth headers it goes only to
        # the datasource's own origin: the client drops it on a cross-origin redirect.
        return self.client.request(
            "GET", url, source=self.source, timeout_seconds=self.timeout,
            headers={"Accept": "application/json"}, auth_headers=credentials.headers,
            auth_params=credentials.params, secrets=tuple(self.secrets.values()) + credentials.secret_values,
        )

    def test(self) -> TestResult:
        """Call the health-check URL (else the base URL); ok means a 2xx answer."""
        url = self.datasource.config.get("health_check_url") or self.datasource.config["base_url"]
        started = time.monotonic()
        try:
            response = self.get(url)
        except UpstreamError as exc:
            return TestResult(ok=False, status=exc.upstream_status, error=exc.message,
                              elapsed_ms=int((time.monotonic() - started) * 1000))
        return TestResult(ok=True, status=response.status, elapsed_ms=response.elapsed_ms, url=response.url)
