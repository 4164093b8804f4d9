"""Registry of authentication modes: one small class per mode."""

from .api_key import ApiKeyAuth
from .base import AuthContext, AuthField, AuthMode, Credentials
from .basic import BasicAuth
from .bearer import BearerAuth
from .none import NoAuth
from .oauth2 import OAuth2ClientCredentials

AUTH_MODES: dict[str, type[AuthMode]] = {
    cls.mode: cls for cls in (NoAuth, BasicAuth, ApiKeyAuth, BearerAuth, OAuth2ClientCredentials)
}

SECRET_FIELDS = frozenset(name for cls in AUTH_MODES.values() for name in cls.secret_fields())

__all__ = [
    "AUTH_MODES", "SECRET_FIELDS", "AuthContext", "AuthField", "AuthMode", "Credentials",
    "ApiKeyAuth", "BasicAuth", "BearerAuth", "NoAuth", "OAuth2ClientCredentials",
]
