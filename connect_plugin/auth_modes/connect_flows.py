"""The OAuth2 Connect flows under way, kept on the server (``models.OAuthFlow``).

A flow's ``state`` works once: the callback deletes its row, and only the request
whose delete removed it goes on, so a replayed callback is refused even when it
comes back with an old copy of the session cookie (a state kept in the cookie
alone would still be in that copy). A flow is bound to the browser session that
began it by a random binding kept in that session; the table holds digests of the
state and the binding, never either. Expired flows are deleted whenever a flow
begins, and one session keeps at most ``MAX_PENDING`` flows, so the table stays
small whatever is clicked.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from authlib.common.security import generate_token
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import OAuthFlow

STATE_SECONDS = 600
MAX_PENDING = 5  # flows one session may have begun and not finished


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_binding() -> str:
    """A browser session's binding, kept in that session."""
    return generate_token(32)


def begin(db: Session, datasource_id: int, binding: str, *, now: float | None = None) -> str:
    """A fresh state for a Connect of ``datasource_id`` from the session ``binding``."""
    now = time.time() if now is None else now
    session_digest = _digest(binding)
    db.execute(delete(OAuthFlow).where(OAuthFlow.expires_at <= now))
    mine = db.scalars(select(OAuthFlow.state_digest).where(OAuthFlow.session_digest == session_digest)
                      .order_by(OAuthFlow.expires_at.desc())).all()
    if len(mine) >= MAX_PENDING:
        db.execute(delete(OAuthFlow).where(OAuthFlow.state_digest.in_(mine[MAX_PENDING - 1:])))
    state = generate_token(40)
    db.add(OAuthFlow(state_digest=_digest(state), datasource_id=datasource_id, session_digest=session_digest,
                     expires_at=now + STATE_SECONDS))
    db.flush()
    return state


def finish(db: Session, state: str, binding: str | None, *, now: float | None = None) -> int | None:
    """The datasource of the flow ``state`` names, or None when it is unknown, was
    used, has expired or belongs to another session. The flow is deleted either way
    (the caller commits before doing anything else)."""
    if not state or not binding:
        return None
    now = time.time() if now is None else now
    digest = _digest(state)
    flow = db.execute(select(OAuthFlow.datasource_id, OAuthFlow.session_digest, OAuthFlow.expires_at)
                      .where(OAuthFlow.state_digest == digest)).first()
    if flow is None:
        return None
    removed = db.execute(delete(OAuthFlow).where(OAuthFlow.state_digest == digest)).rowcount
    if removed != 1 or flow.expires_at <= now or not hmac.compare_digest(flow.session_digest, _digest(binding)):
        return None
    return flow.datasource_id
