"""A static bearer token (RFC 6750)."""

from .base import AuthMode, Credentials, auth_field


class BearerAuth(AuthMode):
    mode = "bearer"
    label = "Bearer token"
    fields = (auth_field("token", "Token", secret=True),)

    def credentials(self, plain, secrets, ctx) -> Credentials:
        return Credentials(headers={"Authorization": f"Bearer {secrets['token']}"})
