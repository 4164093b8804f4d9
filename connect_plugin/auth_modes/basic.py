"""HTTP Basic authentication (RFC 7617)."""

from __future__ import annotations

import base64

from .base import AuthMode, Credentials, auth_field


def basic_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
    return f"Basic {token}"


class BasicAuth(AuthMode):
    mode = "basic"
    label = "Basic auth"
    fields = (
        auth_field("username", "Username"),
        auth_field("password", "Password", secret=True),
    )

    def check(self, plain, secrets):
        # RFC 7617: the user-id cannot contain a colon, the first colon separates it.
        if ":" in plain.get("username", ""):
            return {"auth.username": "Username must not contain a colon (:)."}
        return {}

    def credentials(self, plain, secrets, ctx) -> Credentials:
        return Credentials(headers={"Authorization": basic_header(plain["username"], secrets["password"])})
