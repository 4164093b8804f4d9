"""A static bearer token (RFC 6750)."""

from .base import AuthField, AuthMode, Credentials


class BearerAuth(AuthMode):
    mode = "bearer"
    label = "Bearer token"
    fields = (AuthField("token", "Token", secret=True),)

    def credentials(self, plain, secrets, ctx) -> Credentials:
        return Credentials(headers={"Authorization": f"Bearer {secrets['token']}"})
