"""A small OAuth 2.0 provider for tests, on a loopback HTTPS server (the test CA).

It checks what a real provider checks: the client and its secret, a code used once,
bound to its redirect URI and PKCE S256 challenge, refresh tokens that can be
revoked, access tokens that expire. ``approve(authorize_url)`` is the user saying
yes on the provider's page: it returns where the provider sends the browser back.

    provider = OAuthProvider(server, expires_in=3600)
    provider.approve(location)   # -> "http://localhost/plugins/connect/admin/oauth/callback?code=…&state=…"
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.https_servers import Json

CLIENT_ID = "connect-app"
CLIENT_SECRET = "Oauth-client-secret-5d21"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class OAuthProvider:
    def __init__(self, server, *, expires_in: float = 3600, rotate_refresh: bool = False):
        self.server, self.expires_in, self.rotate_refresh = server, expires_in, rotate_refresh
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: set[str] = set()
        self.access_tokens: dict[str, float] = {}  # token -> expires at
        self.grants: list[str] = []  # grant_type of each good token request
        self.issued: list[str] = []  # every token handed out (access and refresh)
        server.route("/authorize", self.authorize_page)
        server.route("/token", self.token)
        server.route("/api/assets", self.assets)

    @property
    def authorize_url(self) -> str:
        return self.server.url("/authorize")

    @property
    def token_url(self) -> str:
        return self.server.url("/token")

    def approve(self, authorize_url: str) -> str:
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        assert authorize_url.startswith(self.authorize_url + "?")
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert query["state"]
        code = "code-" + secrets.token_urlsafe(12)
        self.codes[code] = {"challenge": query["code_challenge"], "redirect_uri": query["redirect_uri"],
                            "used": False}
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def authorize_page(self, request):
        """The provider's consent page, for a browser: one "Allow" link back to the client."""
        from html import escape

        back = self.approve(f"{self.authorize_url}?{request.raw_query}")
        page = f'<!doctype html><title>Provider</title><h1>Allow Connect?</h1><a href="{escape(back)}">Allow</a>'
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    def revoke_refresh_tokens(self) -> None:
        self.refresh_tokens.clear()

    def expire_access_tokens(self) -> None:
        self.access_tokens = {token: 0.0 for token in self.access_tokens}

    def _new(self, prefix: str) -> str:
        token = f"{prefix}-{len(self.issued) + 1}-" + secrets.token_hex(6)
        self.issued.append(token)
        return token

    def _tokens(self, refresh: str | None = None):
        access = self._new("access")
        self.access_tokens[access] = time.time() + self.expires_in
        if refresh is None or self.rotate_refresh:
            self.refresh_tokens.discard(refresh)
            refresh = self._new("refresh")
            self.refresh_tokens.add(refresh)
        return Json({"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in,
                     "refresh_token": refresh})

    @staticmethod
    def _error(error: str, status: int = 400):
        return Json({"error": error}, status=status)

    def token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.header("authorization") != basic and (form.get("client_id"), form.get("client_secret")) != (
                CLIENT_ID, CLIENT_SECRET):
            return self._error("invalid_client", 401)
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.get(form.get("code", ""))
            if grant is None or grant["used"] or grant["redirect_uri"] != form.get("redirect_uri") \
                    or s256(form.get("code_verifier", "")) != grant["challenge"]:
                return self._error("invalid_grant")
            grant["used"] = True
            self.grants.append("authorization_code")
            return self._tokens()
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return self._error("invalid_grant")
            self.grants.append("refresh_token")
            return self._tokens(form["refresh_token"])
        return self._error("unsupported_grant_type")

    def assets(self, request):
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if self.access_tokens.get(token, 0) <= time.time():
            return 401, {"Content-Type": "application/json"}, b'{"message": "token expired"}'
        # Which token, by number: an answer never echoes a token.
        return Json({"items": [{"id": "A-1", "name": f"token {self.issued.index(token) + 1}"}]})
