"""The REST API datasource type: a base URL that item queries are appended to."""

from __future__ import annotations

from typing import Any, Callable

from ..connected_items.query import join_url
from ..errors import ValidationError
from ..field_spec import FieldSpec
from .base import DatasourceType, Limits
from .pagination_setting import clean_pagination

DEFAULT_CACHE_TTL = 300
DEFAULT_TIMEOUT = 60
DEFAULT_MAX_CONCURRENT = 8


class RestDatasource(DatasourceType):
    type = "rest"
    label = "REST API"
    description = "Any HTTPS API that answers JSON."
    icon = "rest"
    config_fields = (
        FieldSpec("base_url", "API Base Url", kind="https_url", required=True,
                    help="Queries of connected items are appended to it, e.g. https://assets.example.com/api"),
        FieldSpec("documentation_url", "API Documentation", kind="url",
                    help="A link for admins who write queries; never called."),
        FieldSpec("health_check_url", "Health check URL", kind="https_url",
                    help="Called by Test connection; the base URL when empty."),
        FieldSpec("cache_ttl_seconds", "Cache duration (seconds)", kind="int", default=DEFAULT_CACHE_TTL,
                    minimum=0, maximum=86400, help="How long successful answers are reused; 0 turns caching off."),
        FieldSpec("timeout_seconds", "Timeout (seconds)", kind="int", default=DEFAULT_TIMEOUT,
                    minimum=1, maximum=300, help="The whole call, connection to last byte, must finish in time."),
        FieldSpec("max_concurrent_calls", "Calls in flight at most", kind="int", default=DEFAULT_MAX_CONCURRENT,
                    minimum=1, maximum=100,
                    help="Further calls wait briefly, then fail as busy, so a hanging API cannot take every worker."),
    )
    auth_mode_names = ("none", "basic", "api_key", "bearer", "oauth2_client_credentials", "token_request",
                       "oauth2_authorization_code")

    @classmethod
    def validate_config(cls, raw: dict[str, Any], *, url_check: Callable[[str, str], None]) -> dict[str, Any]:
        """The fields above, and ``pagination`` (an object: :mod:`.pagination`)."""
        if not isinstance(raw, dict) or "pagination" not in raw:
            return super().validate_config(raw, url_check=url_check)
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        try:
            clean = super().validate_config({k: v for k, v in raw.items() if k != "pagination"},
                                            url_check=url_check)
        except ValidationError as exc:
            errors.update(exc.fields)
        if raw["pagination"] is not None:
            try:
                clean["pagination"] = clean_pagination(raw["pagination"], "config.pagination")
            except ValidationError as exc:
                errors.update(exc.fields)
        if errors:
            raise ValidationError("The datasource settings are not valid.", errors)
        return clean

    @classmethod
    def limits(cls, config: dict[str, Any]) -> Limits:
        return Limits(timeout_seconds=float(config.get("timeout_seconds", DEFAULT_TIMEOUT)),
                      max_concurrent=int(config.get("max_concurrent_calls", DEFAULT_MAX_CONCURRENT)),
                      cache_ttl_seconds=int(config.get("cache_ttl_seconds", DEFAULT_CACHE_TTL)))

    @classmethod
    def url_for(cls, config: dict[str, Any], relative: str) -> str:
        return join_url(config["base_url"], relative)

    @classmethod
    def health_check_url(cls, config: dict[str, Any]) -> str:
        return config.get("health_check_url") or config["base_url"]
