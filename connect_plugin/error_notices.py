"""What a user is told when an external system fails, by who they are.

An upstream's failure message is written for the admin who configured the
datasource: it may quote the answer's start, name the host and the address it
resolved to, or say which certificate was refused. That is what an admin needs and
what no one else should learn (a user in a project must not map the internal
network through a connected field). So everyone but admins gets one generic
sentence with a reference, and the detailed message goes, under that reference, to
the log, where the admin finds it (the tester and the datasource page show the
detail to admins directly).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from .errors import ConnectError, SecretUnreadable, UpstreamBusy, UpstreamError, UpstreamTimeout

log = logging.getLogger("connect_plugin.upstream")

LOOK_IT_UP = "an administrator can find the details in the log under this reference."


def concerns_admins(exc: ConnectError) -> bool:
    """Failures whose message describes the datasource's configuration or upstream."""
    return isinstance(exc, (UpstreamError, SecretUnreadable))


def reference(exc: ConnectError) -> str:
    """The failure's reference, made (and the detail logged with it) once."""
    ref = getattr(exc, "reference", None)
    if ref is None:
        ref = exc.reference = secrets.token_hex(4).upper()  # type: ignore[attr-defined]
        excerpt = getattr(exc, "excerpt", None)
        if excerpt:
            log.warning("upstream failure %s (%s): %s | answer: %s", ref, exc.status, exc.message, excerpt[:500])
        else:
            log.warning("upstream failure %s (%s): %s", ref, exc.status, exc.message)
    return ref


def generic_message(exc: ConnectError) -> str:
    ref = reference(exc)
    if isinstance(exc, UpstreamBusy):
        what = "The external system is busy. Try again in a moment"
    elif isinstance(exc, UpstreamTimeout):
        what = "The external system did not answer in time"
    elif isinstance(exc, SecretUnreadable):
        what = "This field's datasource cannot be used until an administrator fixes its settings"
    else:
        what = "The external system did not give a usable answer"
    return f"{what} (reference {ref}); {LOOK_IT_UP}"


def message_for(exc: ConnectError, *, admin: bool) -> str:
    """The sentence this user is shown for ``exc``."""
    if not concerns_admins(exc):
        return exc.message
    if admin:
        return f"{exc.message} (reference {reference(exc)})"
    return generic_message(exc)


def json_for(exc: ConnectError, *, admin: bool) -> dict[str, Any]:
    """The JSON error body for this user: the detail for admins, the generic
    sentence for everyone else; both carry ``reference``."""
    body = exc.to_json()
    if concerns_admins(exc):
        body["error"] = exc.message if admin else generic_message(exc)
        body["reference"] = reference(exc)
    return body
