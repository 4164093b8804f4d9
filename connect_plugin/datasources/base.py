"""What a datasource type declares and does: its configuration fields and their
checks, the authentication modes it offers, how a query becomes a URL and what
limits a call runs under. Types are declarative where they can be (as Redash's
query runners are); the registry in ``__init__`` is what ``GET
/api/datasource-types`` lists. Generic code asks the type, never reads a type's
settings itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar
from urllib.parse import urlsplit

from ..auth_modes import AUTH_MODES, AuthMode
from ..errors import ValidationError
from ..field_spec import FieldSpec


@dataclass(frozen=True)
class Limits:
    """What one call to a datasource may take: its deadline, its slots, its cache."""

    timeout_seconds: float
    max_concurrent: int
    cache_ttl_seconds: int


class DatasourceType:
    type: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    icon: ClassVar[str] = ""
    config_fields: ClassVar[tuple[FieldSpec, ...]] = ()
    auth_mode_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def auth_mode(cls, name: str) -> AuthMode:
        if name not in cls.auth_mode_names:
            raise ValidationError("The authentication settings are not valid.",
                                  {"auth.mode": f"Unknown authentication mode {name!r}. "
                                                f"Choose one of: {', '.join(cls.auth_mode_names)}."})
        return AUTH_MODES[name]()

    @classmethod
    def limits(cls, config: dict[str, Any]) -> Limits:
        raise NotImplementedError

    @classmethod
    def url_for(cls, config: dict[str, Any], relative: str) -> str:
        """The URL a connected item's evaluated query calls."""
        raise NotImplementedError

    @classmethod
    def api_origin(cls, config: dict[str, Any]) -> str:
        """Where the datasource's calls go (``https://host:port``): a credential's
        token is kept for one origin."""
        parts = urlsplit(cls.url_for(config, "/"))
        return f"{parts.scheme}://{parts.netloc}".lower()

    @classmethod
    def health_check_url(cls, config: dict[str, Any]) -> str:
        """What "Test connection" calls."""
        raise NotImplementedError

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "type": cls.type,
            "label": cls.label,
            "description": cls.description,
            "auth_modes": [AUTH_MODES[m].describe() for m in cls.auth_mode_names],
            "config_fields": [f.as_json() for f in cls.config_fields],
        }

    @classmethod
    def validate_config(cls, raw: dict[str, Any], *, url_check: Callable[[str, str], None]) -> dict[str, Any]:
        """Return a complete, cleaned configuration or raise ValidationError with
        ``config.<field>`` messages. ``url_check(url, field)`` applies the outbound
        rules to URLs that will be called."""
        if not isinstance(raw, dict):
            raise ValidationError("The configuration is not valid.", {"config": "config must be an object."})
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        known = {f.name for f in cls.config_fields}
        for name in raw:
            if name not in known:
                errors[f"config.{name}"] = f"Unknown setting {name!r}."
        for spec in cls.config_fields:
            key = f"config.{spec.name}"
            value = raw.get(spec.name)
            if isinstance(value, str):
                value = value.strip()
            if value in (None, ""):
                if spec.required:
                    errors[key] = f"{spec.label} is required."
                elif spec.default is not None:
                    clean[spec.name] = spec.default
                continue
            if spec.kind == "int":
                if isinstance(value, bool) or not isinstance(value, (int, str)):
                    errors[key] = f"{spec.label} must be a whole number."
                    continue
                try:
                    value = int(value)
                except ValueError:
                    errors[key] = f"{spec.label} must be a whole number."
                    continue
                if (spec.minimum is not None and value < spec.minimum) or (
                        spec.maximum is not None and value > spec.maximum):
                    errors[key] = f"{spec.label} must be between {spec.minimum} and {spec.maximum}."
                    continue
            elif not isinstance(value, str):
                errors[key] = f"{spec.label} must be text."
                continue
            elif spec.kind == "https_url":
                try:
                    url_check(value, key)
                except ValidationError as exc:
                    errors.update(exc.fields)
                    continue
            elif spec.kind == "url":
                parts = urlsplit(value)
                if parts.scheme not in ("http", "https") or not parts.netloc:
                    errors[key] = f"{spec.label} must be a full http:// or https:// address."
                    continue
            clean[spec.name] = value
        if errors:
            raise ValidationError("The datasource settings are not valid.", errors)
        return clean
