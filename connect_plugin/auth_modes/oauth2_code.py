"""OAuth 2.0 authorization code grant with PKCE (RFC 6749 section 4.1, RFC 7636).

An admin connects the datasource once ("Connect" on its page): the browser goes to
``authorize_url`` with ``state`` and an S256 code challenge, the provider returns to
the plugin's callback, and the code is exchanged for a refresh token and an access
token, stored encrypted among the datasource's secrets. Calls send the access
token; when it has expired (or the API answered 401) the refresh token buys a new
one. A provider that refuses the refresh token leaves the datasource disconnected,
and its page says "Connect again".

Authlib's ``OAuth2Client`` builds the authorization URL and the token requests and
reads the answers; its HTTP requests go through :class:`OutboundSession`, the
project's one outbound client (HTTPS, address guard, the request's deadline,
redaction, no redirects for a token endpoint).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from authlib.common.urls import url_encode
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.client import OAuth2Client

from ..errors import UpstreamError, UpstreamTimeout
from .base import AuthContext, AuthMode, Credentials, auth_field
from .tokens import EXPIRY_MARGIN_SECONDS

# When the provider gives no expires_in, an access token is used this long (or until a 401).
DEFAULT_LIFETIME_SECONDS = 300
# Secrets the mode obtains (not typed by an admin): kept apart from its fields.
REFRESH_TOKEN = "refresh_token"
ACCESS_TOKEN = "access_token"  # JSON: {"token": …, "expires_at": <epoch seconds>}
OBTAINED = (REFRESH_TOKEN, ACCESS_TOKEN)
# Provider errors that mean the refresh token is no good any more (RFC 6749 5.2).
REFUSED_GRANT = {"invalid_grant", "invalid_token", "unauthorized_client"}


# Refreshes of one datasource's tokens take turns within a process: one lock per
# datasource (not shared stripes: a token endpoint that hangs must not hold up
# another datasource), for the datasources this process has refreshed.
_REFRESHING: dict[int, threading.Lock] = {}
_REFRESHING_GUARD = threading.Lock()


def _turn(datasource_id: int) -> threading.Lock:
    with _REFRESHING_GUARD:
        return _REFRESHING.setdefault(datasource_id, threading.Lock())


def _take_newer(secrets: dict[str, str], stored: dict[str, str]) -> bool:
    """Adopt the stored tokens when they differ from the call's own (True then)."""
    newer = {name: value for name, value in stored.items() if secrets.get(name) != value}
    secrets.update(newer)
    return bool(newer)


class NotConnected(UpstreamError):
    """The datasource has no usable token: an admin must connect it (again)."""


class _Answer:
    """An :class:`UpstreamResponse` as Authlib reads a ``requests`` response."""

    def __init__(self, response, source: str):
        self._response, self._source = response, source
        self.status_code = response.status

    def json(self) -> Any:
        return self._response.json()  # not JSON: BadUpstreamData naming the token step

    def raise_for_status(self) -> None:
        from ..outbound import raise_for_status

        raise_for_status(self._response, self._source)


class OutboundSession:
    """What Authlib's ``OAuth2Client`` posts to the token endpoint, sent through the
    project's outbound client with the request's deadline, the client secret and
    the grant's secrets redacted, and no redirect followed."""

    def __init__(self, ctx: AuthContext, secrets: tuple[str, ...]):
        self.ctx, self.secrets = ctx, tuple(s for s in secrets if s)
        self.source = f"{ctx.source} (OAuth2 token endpoint)"

    def post(self, url, data=None, headers=None, auth=None, **_ignored):
        body = url_encode(list((data or {}).items()))
        headers = dict(headers or {})
        if auth is not None:  # Authlib's client authentication (Basic header or form fields)
            url, headers, body = auth.prepare("POST", url, headers, body)
        auth_headers = {"Authorization": headers.pop("Authorization")} if "Authorization" in headers else {}
        response = self.ctx.client.request(
            "POST", url, source=self.source, timeout_seconds=self.ctx.remaining(self.source),
            limit_seconds=self.ctx.timeout_seconds, headers=headers, data=body, auth_headers=auth_headers,
            secrets=self.secrets, follow_redirects=False,  # a redirect could carry the secrets elsewhere
        )
        return _Answer(response, self.source)


def access_token(secrets: dict[str, str]) -> tuple[str, float] | None:
    """The stored access token and when it expires, if there is one."""
    raw = secrets.get(ACCESS_TOKEN)
    try:
        stored = json.loads(raw) if raw else None
        return (str(stored["token"]), float(stored["expires_at"])) if stored else None
    except (ValueError, KeyError, TypeError):
        return None


class OAuth2AuthorizationCode(AuthMode):
    mode = "oauth2_authorization_code"
    label = "OAuth2 authorization code (Connect)"
    obtained_secrets = OBTAINED
    fields = (
        auth_field("authorize_url", "Authorization URL", kind="https_url",
                   help="Where the admin's browser goes to approve access."),
        auth_field("token_url", "Token URL", kind="https_url"),
        auth_field("client_id", "Client ID"),
        auth_field("client_secret", "Client secret", secret=True),
        auth_field("scope", "Scope", required=False, help="Ask for offline access if the provider needs it."),
        auth_field("client_auth", "Client authentication",
                   choices=(("client_secret_basic", "HTTP Basic (client_secret_basic)"),
                            ("client_secret_post", "In the request body (client_secret_post)")),
                   default="client_secret_basic"),
    )

    def __init__(self) -> None:
        self._stale = False  # the API refused the access token (401): refresh before the retry

    # --- Authlib ------------------------------------------------------------------

    @staticmethod
    def oauth_client(plain, secrets, session=None, redirect_uri=None) -> OAuth2Client:
        return OAuth2Client(session, client_id=plain["client_id"], client_secret=secrets.get("client_secret"),
                            token_endpoint_auth_method=plain.get("client_auth", "client_secret_basic"),
                            scope=plain.get("scope") or None, redirect_uri=redirect_uri,
                            code_challenge_method="S256")

    def authorization_url(self, plain, secrets, *, redirect_uri: str, state: str, code_verifier: str) -> str:
        url, _state = self.oauth_client(plain, secrets, redirect_uri=redirect_uri).create_authorization_url(
            plain["authorize_url"], state=state, code_verifier=code_verifier)
        return url

    def exchange_code(self, plain, secrets, ctx: AuthContext, *, code: str, code_verifier: str,
                      redirect_uri: str) -> dict[str, str]:
        """The obtained secrets for an authorization code (the callback's step)."""
        session = OutboundSession(ctx, (secrets.get("client_secret", ""), code, code_verifier))
        client = self.oauth_client(plain, secrets, session, redirect_uri)
        try:
            token = client.fetch_token(plain["token_url"], grant_type="authorization_code", code=code,
                                       code_verifier=code_verifier)
        except OAuth2Error as exc:
            raise UpstreamError(f"{session.source} refused the authorization code ({exc.error}).") from None
        return self._obtained(token, session.source, refresh_token=None)

    def refresh(self, plain, secrets, ctx: AuthContext) -> dict[str, str]:
        """New obtained secrets bought with the stored refresh token. Raises
        NotConnected when there is none or the provider refuses it."""
        refresh_token = secrets.get(REFRESH_TOKEN)
        if not refresh_token:
            raise NotConnected(f"{ctx.source} is not connected: an admin must use Connect on its datasource page.")
        session = OutboundSession(ctx, (secrets.get("client_secret", ""), refresh_token))
        client = self.oauth_client(plain, secrets, session)
        try:
            token = client.refresh_token(plain["token_url"], refresh_token=refresh_token)
        except OAuth2Error as exc:
            if exc.error in REFUSED_GRANT:
                raise NotConnected(f"{session.source} refused the refresh token ({exc.error}): "
                                   "connect again on the datasource page.") from None
            raise UpstreamError(f"{session.source} refused to refresh the access token ({exc.error}).") from None
        return self._obtained(token, session.source, refresh_token=refresh_token)

    @staticmethod
    def _obtained(token: dict[str, Any], source: str, *, refresh_token: str | None) -> dict[str, str]:
        from ..outbound import register_secret

        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise UpstreamError(f"{source}: the answer has no access_token.")
        if str(token.get("token_type", "bearer")).lower() != "bearer":
            raise UpstreamError(f"{source}: token type {token.get('token_type')!r} is not supported (only bearer).")
        register_secret(access)
        try:
            lifetime = max(float(token.get("expires_in", DEFAULT_LIFETIME_SECONDS)), 0.0)
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME_SECONDS
        # Used until shortly before it lapses (as tokens.TokenCache does).
        expires_at = time.time() + lifetime - min(EXPIRY_MARGIN_SECONDS, lifetime / 10)
        obtained = {ACCESS_TOKEN: json.dumps({"token": access, "expires_at": expires_at})}
        new_refresh = token.get("refresh_token") or refresh_token  # a provider may rotate it
        if isinstance(new_refresh, str) and new_refresh:
            register_secret(new_refresh)
            obtained[REFRESH_TOKEN] = new_refresh
        return obtained

    # --- calls --------------------------------------------------------------------

    def credentials(self, plain, secrets, ctx: AuthContext) -> Credentials:
        current = access_token(secrets)
        if self._stale or current is None or current[1] <= time.time():
            current = self._refresh_and_keep(plain, secrets, ctx)
        self._stale = False
        return Credentials(headers={"Authorization": f"Bearer {current[0]}"})

    def _refresh_and_keep(self, plain, secrets, ctx: AuthContext) -> tuple[str, float]:
        """A fresh access token: one another caller stored since this call read its
        secrets, else one bought with the refresh token. One refresh per datasource
        at a time in a process; a refusal disconnects the datasource only if the
        refresh token refused is still the stored one (a provider that rotates
        refresh tokens refuses the old one once another worker has used it)."""
        vault = ctx.vault
        turn = _turn(ctx.datasource_id)
        # Waiting for another call's refresh counts against this request's own time.
        if not turn.acquire(timeout=ctx.remaining()):
            raise UpstreamTimeout(f"{ctx.source} did not answer within {ctx.timeout_seconds:g} s "
                                  "(another call was refreshing its access token)")
        try:
            stored = vault.stored(OBTAINED) if vault is not None else {}
            for attempt in (1, 2):
                if _take_newer(secrets, stored):
                    current = access_token(secrets)
                    if current is not None and current[1] > time.time():
                        return current
                used = secrets.get(REFRESH_TOKEN)
                try:
                    obtained = self.refresh(plain, secrets, ctx)
                except NotConnected:
                    stored = vault.stored(OBTAINED) if vault is not None else {}
                    if attempt == 1 and stored.get(REFRESH_TOKEN, used) != used:
                        continue  # rotated meanwhile by another worker: its tokens, or its refresh token
                    if vault is not None and used:
                        vault.lose(OBTAINED, "The provider refused the refresh token: connect again.")
                    raise
                secrets.update(obtained)  # this call's retry sees them too
                if vault is not None:
                    vault.keep(obtained)
                return access_token(secrets)  # type: ignore[return-value]
        finally:
            turn.release()
        raise AssertionError("unreachable: the second attempt returns or raises")

    def forget(self, ctx: AuthContext) -> bool:
        self._stale = True
        return True
