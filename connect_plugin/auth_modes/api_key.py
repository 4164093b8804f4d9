"""An API key sent in a request header or a query parameter."""

from __future__ import annotations

import re

from .base import AuthMode, Credentials, auth_field

# RFC 9110 token characters: what a header field name may be made of.
HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers that requests or the HTTP layer set themselves; overriding them breaks calls.
RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-type"}


class ApiKeyAuth(AuthMode):
    mode = "api_key"
    label = "API Key"
    fields = (
        auth_field("location", "Send the key in", choices=(("header", "Header"), ("query", "Query parameter")),
                  default="header"),
        auth_field("key", "Header or parameter name"),
        auth_field("value", "Key value", secret=True),
    )

    def check(self, plain, secrets):
        key = plain.get("key", "")
        if not key:
            return {}
        if plain.get("location") == "header":
            if not HEADER_TOKEN.match(key):
                return {"auth.key": "Header name may contain only letters, digits and !#$%&'*+.^_`|~- (no spaces)."}
            if key.lower() in RESERVED_HEADERS:
                return {"auth.key": f"{key} is set by the HTTP client itself; choose another header."}
        elif any(ch in key for ch in "&=#?") or key != key.strip():
            return {"auth.key": "Parameter name must not contain &, =, #, ? or surrounding spaces."}
        return {}

    def header_names(self, plain) -> tuple[str, ...]:
        return (plain["key"],) if plain.get("location", "header") == "header" and plain.get("key") else ()

    def credentials(self, plain, secrets, ctx) -> Credentials:
        if plain["location"] == "query":
            return Credentials(params={plain["key"]: secrets["value"]})
        return Credentials(headers={plain["key"]: secrets["value"]})
