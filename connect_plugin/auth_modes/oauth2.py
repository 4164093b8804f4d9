"""OAuth 2.0 client credentials grant (RFC 6749 section 4.4).

The token is fetched from ``token_url`` through the same outbound client as every
other call (HTTPS, address guard, deadline, size cap), kept until shortly before it
expires, and fetched again once when the API answers 401.
"""

from __future__ import annotations

from typing import Any

from ..errors import UpstreamError
from .base import AuthContext, Credentials, ObtainedTokenMode, auth_field, secret_hash
from .basic import basic_header

# When the server gives no expires_in, keep the token this long (or until a 401).
DEFAULT_LIFETIME_SECONDS = 300


class OAuth2ClientCredentials(ObtainedTokenMode):
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

    def check(self, plain, secrets):
        # token_url is an https_url field: AuthMode.validate has applied the save-time URL rules.
        if ":" in plain.get("client_id", "") and plain.get("client_auth") == "client_secret_basic":
            return {"auth.client_id": "Client ID must not contain a colon with HTTP Basic client authentication."}
        return {}

    def credentials(self, plain, secrets, ctx: AuthContext) -> Credentials:
        return Credentials(headers={"Authorization": f"Bearer {self.token(plain, secrets, ctx)}"})

    @staticmethod
    def token_key(plain, secrets, ctx: AuthContext) -> tuple:
        """Everything that defines the credential, and where its token goes."""
        return ("oauth2_client_credentials", ctx.api_origin, plain.get("token_url"), plain.get("client_id"),
                plain.get("scope") or "", plain.get("client_auth", "client_secret_basic"),
                secret_hash(secrets.get("client_secret", "")))

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
            "POST", plain["token_url"], source=source, timeout_seconds=ctx.remaining(source),
            limit_seconds=ctx.timeout_seconds,
            headers=headers, data=form, auth_headers=auth_headers, secrets=tuple(secret_values),
            follow_redirects=False,  # a redirect could carry the client secret elsewhere
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
