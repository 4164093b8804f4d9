"""When a request must carry a CSRF token: one rule for the host's routes and the
plugin's (the reference host imports it through :mod:`connect_plugin.for_hosts`).

An unsafe method riding on the login session needs the token. A call made with
HTTP Basic credentials needs none: scripts send those on purpose, and the host
never asks a browser for them, so a browser never sends them on its own (as with
Jira's REST API). An anonymous call needs none either: the route answers 401 or
sends the visitor to the login page, and the login form checks its own token.
"""

from __future__ import annotations

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_HEADERS = ("X-CSRFToken", "X-CSRF-Token")  # flask-wtf's WTF_CSRF_HEADERS
FORM_FIELD = "csrf_token"


def needs_token(method: str, *, basic_auth: bool, logged_in: bool) -> bool:
    return method.upper() not in SAFE_METHODS and not basic_auth and logged_in


def submitted_token(headers, form, mimetype: str) -> str | None:
    """The token as flask-wtf reads it: a header, else the form field of a form post."""
    for name in TOKEN_HEADERS:
        if headers.get(name):
            return headers[name]
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return form.get(FORM_FIELD)
    return None
