"""No authentication: public APIs."""

from .base import AuthMode, Credentials


class NoAuth(AuthMode):
    mode = "none"
    label = "No auth"

    def header_names(self, plain) -> tuple[str, ...]:
        return ()

    def credentials(self, plain, secrets, ctx) -> Credentials:
        return Credentials()
