"""OAuth 2.0 client credentials grant (RFC 6749 section 4.4).

The token is fetched from ``token_url`` through the same outbound client as every
other call (HTTPS, address guard, deadline, size cap), kept until shortly before it
expires, and fetched again once when the API answers 401.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..errors import UpstreamError
from .base import AuthContext, AuthMode, Credentials, auth_field
from .basic import basic_header

# A token is used until this many seconds before it expires (or a tenth of its
# lifetime for short-lived tokens), so a call never starts with a token about to lapse.
EXPIRY_MARGIN_SECONDS = 30
# When the server gives no expires_in, keep the token this long (or until a 401).
DEFAULT_LIFETIME_SECONDS = 300


class TokenCache:
    """Access tokens per datasource configuration, in this process."""

    def __init__(self) -> None:
        self._tokens: dict[tuple, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
            if entry and entry[1] > time.monotonic():
                return entry[0]
            self._tokens.pop(key, None)
            return None

    def put(self, key: tuple, token: str, lifetime: float) -> None:
        margin = min(EXPIRY_MARGIN_SECONDS, lifetime / 10)
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(lifetime - margin, 0))

    def drop(self, key: tuple) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKENS = TokenCache()


class OAuth2ClientCredentials(AuthMode):
    mode = "oauth2_client_credentials"
    label = "OAuth2 client credentials"
    fields = (
        auth_field("token_url", "Token URL", kind="https_url"),
        auth_field("client_id", "Client ID"),
        auth_field("client_secret", "Client secret", secret=True),
        auth_field("scope", "Scope", required=False),
        auth_field("client_auth", "Client authentication",
                  choices=(("client_secret_basic", "HTTP Basic (client_secret_basic)"),
                           ("client_secret_post", "In the request body (client_secret_post)")),
                  default="client_secret_basic"),
    )

    def __init__(self, tokens: TokenCache = TOKENS):
        self.tokens = tokens

    def check(self, plain, secrets):
        # token_url is an https_url field: AuthMode.validate has applied the save-time URL rules.
        if ":" in plain.get("client_id", "") and plain.get("client_auth") == "client_secret_basic":
            return {"auth.client_id": "Client ID must not contain a colon with HTTP Basic client authentication."}
        return {}

    def credentials(self, plain, secrets, ctx: AuthContext) -> Credentials:
        token = self.tokens.get(ctx.cache_key)
        if token is None:
            token, lifetime = self.fetch_token(plain, secrets, ctx)
            self.tokens.put(ctx.cache_key, token, lifetime)
        return Credentials(headers={"Authorization": f"Bearer {token}"})

    def forget(self, ctx: AuthContext) -> bool:
        self.tokens.drop(ctx.cache_key)
        return True

    def fetch_token(self, plain, secrets, ctx: AuthContext) -> tuple[str, float]:
        from ..outbound import raise_for_status

        form: dict[str, Any] = {"grant_type": "client_credentials"}
        if plain.get("scope"):
            form["scope"] = plain["scope"]
        headers = {"Accept": "application/json"}
        auth_headers: dict[str, str] = {}
        secret_values = [secrets["client_secret"]]
        if plain.get("client_auth", "client_secret_basic") == "client_secret_post":
            form["client_id"] = plain["client_id"]
            form["client_secret"] = secrets["client_secret"]
        else:
            # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
            from urllib.parse import quote_plus

            auth_headers["Authorization"] = basic_header(quote_plus(plain["client_id"]),
                                                         quote_plus(secrets["client_secret"]))
            secret_values.append(auth_headers["Authorization"])
        source = f"{ctx.source} (token endpoint)"
        response = ctx.client.request(
            "POST", plain["token_url"], source=source, timeout_seconds=ctx.timeout_seconds,
            headers=headers, data=form, auth_headers=auth_headers, secrets=tuple(secret_values),
        )
        raise_for_status(response, source)
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise UpstreamError(f"{source}: the answer has no access_token.", upstream_status=response.status)
        token_type = str(body.get("token_type", "bearer")).lower()
        if token_type != "bearer":
            raise UpstreamError(f"{source}: token type {token_type!r} is not supported (only bearer).",
                                upstream_status=response.status)
        from ..outbound import register_secret

        register_secret(token)
        try:
            lifetime = float(body.get("expires_in", DEFAULT_LIFETIME_SECONDS))
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME_SECONDS
        return token, max(lifetime, 0.0)
