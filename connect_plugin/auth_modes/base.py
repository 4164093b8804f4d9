"""The interface every authentication mode implements.

A mode declares its fields (which of them are secret), checks what an admin typed,
and turns the stored values into the headers or query parameters of one outbound
call. The outbound client sends those only to the datasource's own origin and
redacts them everywhere.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol

from ..errors import UpstreamTimeout, ValidationError
from ..field_spec import FieldSpec
from .tokens import TokenCache

if TYPE_CHECKING:  # pragma: no cover
    from ..outbound import OutboundClient

# ``url_check(url, field)`` raises ValidationError naming ``field`` when a URL may not be saved.
UrlCheck = Callable[[str, str], None]


def auth_field(name: str, label: str, **options: Any) -> FieldSpec:
    """An auth mode's field: required unless said otherwise (most credentials are)."""
    options.setdefault("required", True)
    return FieldSpec(name, label, **options)


class ObtainedSecretStore(Protocol):
    """Keeps the secrets a mode obtained (tokens) with the datasource's own secrets."""

    def keep(self, values: dict[str, str]) -> None: ...

    def lose(self, names: tuple[str, ...], reason: str) -> None: ...

    def stored(self, names: tuple[str, ...]) -> dict[str, str]:
        """The obtained secrets as stored now: another thread or worker may have
        refreshed them since this call read its own."""
        ...


@dataclass
class AuthContext:
    """What a mode may use while preparing a call: the shared outbound client (for
    OAuth2's token endpoint), the datasource's display name and its time limit, the
    app's token cache, which datasource calls, and the origin its API calls go to
    (part of a token's key: a token is for one API)."""

    client: "OutboundClient"
    source: str
    timeout_seconds: float  # the datasource's limit for one whole request
    tokens: TokenCache
    datasource_id: int
    api_origin: str
    deadline: float = 0.0  # time.monotonic() when the request's time is up
    vault: "ObtainedSecretStore | None" = None  # where a mode keeps tokens it obtained (OAuth2 code)

    def start(self) -> None:
        """One user request begins: the token fetch, the call and a retry after a
        401 all share one ``timeout_seconds`` from here."""
        self.deadline = time.monotonic() + self.timeout_seconds

    def remaining(self, source: str | None = None) -> float:
        """What is left of the request's time; a timeout once nothing is."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise UpstreamTimeout(f"{source or self.source} did not answer within {self.timeout_seconds:g} s")
        return left


@dataclass
class Credentials:
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def secret_values(self) -> tuple[str, ...]:
        return tuple(self.headers.values()) + tuple(self.params.values())


def has_control_chars(value: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def _url_problem(url_check: UrlCheck, url: str, key: str) -> dict[str, str]:
    """The field errors ``url_check`` reports for ``url`` (none when it passes)."""
    try:
        url_check(url, key)
    except ValidationError as exc:
        return exc.fields or {key: exc.message}
    return {}


class AuthMode:
    mode: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[tuple[FieldSpec, ...]] = ()
    # Secrets the mode obtains itself (OAuth2 tokens), stored beside its fields' secrets.
    obtained_secrets: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.fields if f.secret)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {"mode": cls.mode, "label": cls.label, "fields": [f.as_json() for f in cls.fields]}

    def validate(self, plain: dict[str, Any], secrets: dict[str, str], *,
                 url_check: UrlCheck) -> tuple[dict[str, Any], dict[str, str]]:
        """Return the cleaned plain values and secrets, or raise ValidationError with
        one message per ``auth.<field>``. ``secrets`` holds the secrets the datasource
        will have after the change (kept ones included). ``url_check(url, field)`` is
        the save-time rule for URLs the plugin will call (the same one the type's
        configuration URLs pass): every ``https_url`` field goes through it."""
        errors: dict[str, str] = {}
        clean_plain: dict[str, Any] = {}
        clean_secrets: dict[str, str] = {}
        for spec in self.fields:
            key = f"auth.{spec.name}"
            value = secrets.get(spec.name) if spec.secret else plain.get(spec.name, spec.default)
            if isinstance(value, str) and not spec.secret:
                value = value.strip()  # a secret is kept exactly as typed
            if value in (None, ""):
                if spec.required:
                    errors[key] = f"{spec.label} is required."
                continue
            if not isinstance(value, str):
                errors[key] = f"{spec.label} must be text."
            elif spec.secret and has_control_chars(value):
                errors[key] = f"{spec.label} must not contain line breaks or control characters."
            elif spec.choices and value not in {v for v, _ in spec.choices}:
                errors[key] = f"{spec.label} must be one of: {', '.join(v for v, _ in spec.choices)}."
            elif spec.kind == "https_url" and (problem := _url_problem(url_check, value, key)):
                errors.update(problem)
            else:
                (clean_secrets if spec.secret else clean_plain)[spec.name] = value
        errors.update(self.check(clean_plain, clean_secrets))
        if errors:
            raise ValidationError("The authentication settings are not valid.", errors)
        return clean_plain, clean_secrets

    def header_names(self, plain: dict[str, Any]) -> tuple[str, ...]:
        """The request headers this mode's credentials set, which custom headers may
        not name: ``Authorization``, or the header a ``header`` field names."""
        return (plain.get("header") or "Authorization",) if any(f.name == "header" for f in self.fields) \
            else ("Authorization",)

    def check(self, plain: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
        """Mode-specific checks beyond required fields; returns field -> message."""
        return {}

    def credentials(self, plain: dict[str, Any], secrets: dict[str, str], ctx: AuthContext) -> Credentials:
        raise NotImplementedError

    def forget(self, ctx: AuthContext) -> bool:
        """Drop cached state after the upstream answered 401. True when a second try
        with fresh credentials makes sense (OAuth2: a new token)."""
        return False


def secret_hash(value: str) -> str:
    """What a token key holds of a secret: a hash, never the value."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class ObtainedTokenMode(AuthMode):
    """A mode that obtains its token from an endpoint (OAuth2, a login) and keeps it
    in the app's token cache under ``token_key`` until it expires or the API
    answers 401."""

    def token_key(self, plain: dict[str, Any], secrets: dict[str, str], ctx: AuthContext) -> tuple:
        raise NotImplementedError

    def fetch_token(self, plain: dict[str, Any], secrets: dict[str, str], ctx: AuthContext) -> tuple[str, float]:
        """A new token and its lifetime in seconds."""
        raise NotImplementedError

    def token(self, plain: dict[str, Any], secrets: dict[str, str], ctx: AuthContext) -> str:
        key = self.token_key(plain, secrets, ctx)
        token = ctx.tokens.get(key)
        if token is None:
            token, lifetime = self.fetch_token(plain, secrets, ctx)
            ctx.tokens.put(key, token, lifetime, datasource_id=ctx.datasource_id)
        return token

    def forget(self, ctx: AuthContext) -> bool:
        ctx.tokens.drop_datasource(ctx.datasource_id)
        return True
