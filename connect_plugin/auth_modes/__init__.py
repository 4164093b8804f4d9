"""Registry of authentication modes: one small class per mode."""

from .api_key import ApiKeyAuth
from .base import AuthContext, AuthMode, Credentials
from .basic import BasicAuth
from .bearer import BearerAuth
from .none import NoAuth
from .oauth2 import OAuth2ClientCredentials
from .oauth2_code import OAuth2AuthorizationCode
from .token_request import TokenRequestAuth

AUTH_MODES: dict[str, type[AuthMode]] = {
    cls.mode: cls for cls in (NoAuth, BasicAuth, ApiKeyAuth, BearerAuth, OAuth2ClientCredentials,
                                TokenRequestAuth, OAuth2AuthorizationCode)
}

__all__ = [
    "AUTH_MODES", "AuthContext", "AuthMode", "Credentials",
    "ApiKeyAuth", "BasicAuth", "BearerAuth", "NoAuth", "OAuth2AuthorizationCode", "OAuth2ClientCredentials",
    "TokenRequestAuth",
]
