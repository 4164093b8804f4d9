"""Connect and Disconnect on the datasource page, for a mode whose tokens an admin
obtains through the browser (OAuth2 authorization code), and the provider's
callback.

"Connect" (a CSRF-protected POST) sends the admin's browser to the provider with a
fresh ``state`` and a PKCE S256 challenge (by a page that refreshes to it: the
host's ``form-action 'self'`` policy stops a POST that redirects to another site).
The flow is kept on the server for ``STATE_SECONDS``, bound to the admin's browser
session, and deleted when the callback arrives (:mod:`..auth_modes.connect_flows`):
a state that was used (also with an old copy of the session cookie), has expired
or was started in another session is refused. The PKCE verifier is derived from
the state with the app's secret key, so it never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as browser_session

from .. import audit
from ..auth_modes import AUTH_MODES, connect_flows
from ..auth_modes.oauth2_code import OBTAINED, OAuth2AuthorizationCode
from ..datasources import service
from ..datasources.connector import Connector
from ..datasources.secrets import drop_obtained, store_obtained
from ..errors import ConnectError
from ..state import session, state
from .guards import actor, page_admin

BINDING = "connect_oauth_binding"  # browser session: what binds its Connect flows to it


def callback_url() -> str:
    return url_for("connect.oauth_callback", _external=True)


def code_verifier(state_value: str) -> str:
    """The PKCE verifier of a flow (RFC 7636: 43 unreserved characters)."""
    digest = hmac.new(current_app.secret_key.encode() if isinstance(current_app.secret_key, str)
                      else current_app.secret_key, f"connect-pkce:{state_value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _mode_of(datasource) -> OAuth2AuthorizationCode | None:
    mode = AUTH_MODES.get(datasource.auth_mode)
    return mode() if mode is OAuth2AuthorizationCode else None


def _detail(datasource_id: int):
    return redirect(url_for("connect.datasource_detail", datasource_id=datasource_id))


@page_admin
def datasource_connect(datasource_id: int):
    datasource = service.get(session(), datasource_id)
    mode = _mode_of(datasource)
    if mode is None:
        flash(f"{datasource.name} does not use OAuth2 authorization code: there is nothing to connect.")
        return _detail(datasource_id)
    try:
        connector = Connector.for_datasource(state(), datasource)
    except ConnectError as exc:
        flash(exc.message)
        return _detail(datasource_id)
    binding = browser_session.get(BINDING)
    if not isinstance(binding, str) or not binding:
        binding = browser_session[BINDING] = connect_flows.new_binding()
    db = session()
    state_value = connect_flows.begin(db, datasource.id, binding)
    db.commit()
    url = mode.authorization_url(datasource.auth_config, connector.secrets, redirect_uri=callback_url(),
                                 state=state_value, code_verifier=code_verifier(state_value))
    return render_template("connect/oauth_continue.html", ds=datasource, authorize_url=url,
                           provider=urlsplit(url).netloc)


@page_admin
def oauth_callback():
    state_value = request.args.get("state", "")
    binding = browser_session.get(BINDING)
    db = session()
    datasource_id = connect_flows.finish(db, state_value, binding if isinstance(binding, str) else None)
    db.commit()  # single use, whatever happens next
    if datasource_id is None:
        flash("This sign-in answer is not valid (already used, expired, or started in another session): "
              "use Connect again.")
        return redirect(url_for("connect.datasources_list"))
    datasource = service.get(db, datasource_id)
    mode = _mode_of(datasource)
    if mode is None:
        flash(f"{datasource.name} no longer uses OAuth2 authorization code.")
        return _detail(datasource.id)
    if request.args.get("error") or not request.args.get("code"):
        reason = request.args.get("error", "no code")[:100]
        flash(f"The provider did not grant access to {datasource.name} ({reason}).")
        return _detail(datasource.id)
    try:
        connector = Connector.for_datasource(state(), datasource)
        connector.context.start()
        obtained = mode.exchange_code(datasource.auth_config, connector.secrets, connector.context,
                                      code=request.args["code"], code_verifier=code_verifier(state_value),
                                      redirect_uri=callback_url())
    except ConnectError as exc:
        flash(f"Connecting {datasource.name} failed: {exc.message}")
        return _detail(datasource.id)
    store_obtained(datasource, obtained, state().box)
    audit.record(db, actor(), "connected", datasource)
    db.commit()
    flash(f"{datasource.name} is connected.")
    return _detail(datasource.id)


@page_admin
def datasource_disconnect(datasource_id: int):
    db = session()
    datasource = service.get(db, datasource_id)
    drop_obtained(datasource, OBTAINED)
    audit.record(db, actor(), "disconnected", datasource)
    db.commit()
    flash(f"{datasource.name} is disconnected: its tokens are deleted.")
    return _detail(datasource_id)


def register(bp: Blueprint) -> None:
    rule = bp.add_url_rule
    rule("/admin/datasources/<int:datasource_id>/oauth/connect", "datasource_connect", datasource_connect,
         methods=["POST"])
    rule("/admin/datasources/<int:datasource_id>/oauth/disconnect", "datasource_disconnect",
         datasource_disconnect, methods=["POST"])
    rule("/admin/oauth/callback", "oauth_callback", oauth_callback, methods=["GET"])
