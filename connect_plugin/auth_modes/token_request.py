"""A login endpoint that hands out a token (``token_request``).

The username and password are posted (as JSON or as a form) to ``token_url``
through the one outbound client (HTTPS, address guard, the request's deadline,
redaction), which follows no redirect here: a login answers itself or fails. The
token is read at ``token_path`` (JSONPath), its lifetime at ``expires_in_path``
(seconds), and it is sent in ``header`` after ``prefix`` until it expires, or
until the API answers 401 (then it is fetched again, once). A login answer
without a token is a clear error naming the login step, and nothing is kept.
"""

from __future__ import annotations

import json
from typing import Any

from ..connected_items.jsonpath import compile_path
from ..errors import UpstreamError, ValidationError
from .api_key import HEADER_TOKEN, RESERVED_HEADERS
from .base import AuthContext, Credentials, ObtainedTokenMode, auth_field, has_control_chars, secret_hash

# Without expires_in_path (or when the answer has none there) a token is kept this
# long, or until a 401: a login token rarely says how long it lasts.
DEFAULT_LIFETIME_SECONDS = 300
DEFAULT_PREFIX = "Bearer "


def _path_problem(path: str) -> str | None:
    try:
        compile_path(path)
    except Exception as exc:  # jsonpath-ng raises several kinds (lexer, parser, others)
        return str(exc).strip().rstrip(".") or type(exc).__name__
    return None


def first_match(path: str, data: Any) -> Any:
    """The first value at ``path`` in ``data``, or None."""
    find, _fast = compile_path(path)
    found = find(data)
    return found[0] if found else None


class TokenRequestAuth(ObtainedTokenMode):
    mode = "token_request"
    label = "Login token request"
    fields = (
        auth_field("token_url", "Login URL", kind="https_url",
                   help="The endpoint the username and password are posted to, e.g. https://api.example.com/login"),
        auth_field("username", "Username"),
        auth_field("password", "Password", secret=True),
        auth_field("request_format", "Send the login as",
                   choices=(("json", 'JSON ({"username": …, "password": …})'), ("form", "A form")),
                   default="json"),
        auth_field("token_path", "Token path (JSONPath)", default="$.token"),
        auth_field("expires_in_path", "Expiry path (JSONPath, seconds)", required=False,
                   help=f"Where the answer says how long the token lasts; kept {DEFAULT_LIFETIME_SECONDS} s "
                        "when empty."),
        auth_field("header", "Send the token in header", default="Authorization"),
        auth_field("prefix", "Before the token", required=False, default=DEFAULT_PREFIX,
                   help='Written before the token in the header, e.g. "Bearer " (may be empty).'),
    )

    def validate(self, plain, secrets, *, url_check):
        # The prefix keeps its spaces ("Bearer "), and an empty one is kept as such
        # (a PATCH that leaves it out must not bring the default back).
        prefix = plain.get("prefix", DEFAULT_PREFIX)
        prefix = "" if prefix is None else prefix
        errors: dict[str, str] = {}
        if isinstance(prefix, str) and has_control_chars(prefix):
            errors["auth.prefix"] = "The prefix must not contain line breaks or control characters."
        try:
            clean_plain, clean_secrets = super().validate(plain, secrets, url_check=url_check)
        except ValidationError as exc:
            raise ValidationError(exc.message, {**exc.fields, **errors}) from None
        if errors:
            raise ValidationError("The authentication settings are not valid.", errors)
        clean_plain["prefix"] = prefix
        return clean_plain, clean_secrets

    def check(self, plain, secrets):
        errors: dict[str, str] = {}
        header = plain.get("header", "")
        if header and not HEADER_TOKEN.match(header):
            errors["auth.header"] = "Header name may contain only letters, digits and !#$%&'*+.^_`|~- (no spaces)."
        elif header.lower() in RESERVED_HEADERS:
            errors["auth.header"] = f"{header} is set by the HTTP client itself; choose another header."
        for name in ("token_path", "expires_in_path"):
            if plain.get(name) and (problem := _path_problem(plain[name])):
                errors[f"auth.{name}"] = f"The JSONPath is not valid: {problem}."
        return errors

    def credentials(self, plain, secrets, ctx: AuthContext) -> Credentials:
        prefix = plain.get("prefix", DEFAULT_PREFIX)
        return Credentials(headers={plain.get("header") or "Authorization":
                                    f"{prefix}{self.token(plain, secrets, ctx)}"})

    @staticmethod
    def token_key(plain, secrets, ctx: AuthContext) -> tuple:
        """Everything that defines the login, and the API its token goes to."""
        return ("token_request", ctx.api_origin, plain.get("token_url"), plain.get("username"),
                plain.get("request_format", "json"), plain.get("token_path"), plain.get("expires_in_path") or "",
                secret_hash(secrets.get("password", "")))

    def fetch_token(self, plain, secrets, ctx: AuthContext) -> tuple[str, float]:
        from ..outbound import raise_for_status, register_secret

        login = {"username": plain["username"], "password": secrets["password"]}
        headers = {"Accept": "application/json"}
        if plain.get("request_format", "json") == "form":
            data: Any = login
        else:
            data = json.dumps(login).encode("utf-8")
            headers["Content-Type"] = "application/json"
        source = f"{ctx.source} (login at the token URL)"
        response = ctx.client.request(
            "POST", plain["token_url"], source=source, timeout_seconds=ctx.remaining(source),
            limit_seconds=ctx.timeout_seconds, headers=headers, data=data, secrets=(secrets["password"],),
            follow_redirects=False,  # a redirect could carry the password elsewhere
        )
        raise_for_status(response, source)
        body = response.json()  # not JSON: BadUpstreamData naming the login step
        token_path = plain.get("token_path") or "$.token"
        token = first_match(token_path, body)
        if isinstance(token, (int, float)) and not isinstance(token, bool):
            token = str(token)
        if not isinstance(token, str) or not token.strip():
            raise UpstreamError(f"{source}: the answer has no token at {token_path}.",
                                upstream_status=response.status)
        if has_control_chars(token):
            raise UpstreamError(f"{source}: the token at {token_path} holds control characters.",
                                upstream_status=response.status)
        register_secret(token)
        return token, self._lifetime(plain, body)

    @staticmethod
    def _lifetime(plain, body: Any) -> float:
        path = plain.get("expires_in_path")
        value = first_match(path, body) if path else None
        try:
            lifetime = float(value) if value is not None and not isinstance(value, bool) else DEFAULT_LIFETIME_SECONDS
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME_SECONDS
        return max(lifetime, 0.0)
