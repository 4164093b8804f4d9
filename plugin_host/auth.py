"""Who is asking: the login session, or HTTP Basic credentials for scripts.

Failed logins are throttled (``login_throttle``) per account name and per client
address, on the login form and on Basic credentials alike: the form answers 429, and
so does a throttled Basic call (``refuse_throttled_basic``), both with
``Retry-After``, so a script learns it is throttled rather than that its password is
wrong. The name is normalised once (``usernames``) for the lookup and the throttle.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .db import session as db_session
from .login_throttle import LocalThrottle, RedisThrottle
from .models import User
from .passwords import password_matches
from .usernames import username_key

bp = Blueprint("auth", __name__)


def throttle() -> LocalThrottle | RedisThrottle:
    return current_app.extensions["host_login_throttle"]


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _user_by_key(key: str) -> User | None:
    return db_session().scalar(select(User).where(User.username_key == key))


def find_user(username: str) -> User | None:
    return _user_by_key(username_key(username))


def authenticate(username: str, password: str) -> User | None:
    """The user, or None; ``g.login_retry_after`` holds the seconds to wait when the
    attempt was refused unchecked because of earlier failures."""
    key = username_key(username)
    address = request.remote_addr or "?"
    wait = throttle().retry_after(key, address)
    if wait:
        g.login_retry_after = wait
        return None
    user = _user_by_key(key)
    if not password_matches(user.password_hash if user else None, password):
        throttle().failed(key, address)
        return None
    throttle().succeeded(key)
    return user


def _basic_credentials() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, data = header.partition(" ")
    if scheme.lower() != "basic" or not data:
        return None
    try:
        decoded = base64.b64decode(data.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def load_current_user() -> User | None:
    """Resolve the user once per request: Basic credentials win over the session."""
    if "host_user" in g:
        return g.host_user
    user = None
    g.basic_auth = False
    credentials = _basic_credentials()
    if credentials is not None:
        g.basic_auth = True
        user = authenticate(*credentials)
    elif session.get("uid") is not None:
        user = db_session().get(User, session["uid"])
        if user is None or session.get("pw") != user.password_hash[-16:]:
            # The password changed (or the user is gone) since this session began.
            session.clear()
            user = None
    g.host_user = user
    return user


def refuse_throttled_basic():
    """A ``before_request`` hook: a throttled Basic call gets 429 with
    ``Retry-After``, whatever route it was for (a 401 would read as a wrong password)."""
    if _basic_credentials() is None:
        return None
    load_current_user()
    wait = g.get("login_retry_after") if g.get("basic_auth") else None
    if not wait:
        return None
    response = jsonify({"error": f"Too many failed login attempts for these credentials. "
                                 f"Try again in {wait} seconds."})
    response.status_code, response.headers["Retry-After"] = 429, str(wait)
    return response


def uses_basic_auth() -> bool:
    load_current_user()
    return bool(g.get("basic_auth"))


def safe_next(target: str | None) -> str:
    """Only same-site paths, so the login page cannot be used to redirect elsewhere.

    A control character (CR or LF above all) is refused as well: it cannot be part of
    a Location header, and letting it through made a good login end in a 500."""
    if not target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return url_for("issues.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("issues.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            session.clear()
            session["uid"] = user.id
            session["pw"] = user.password_hash[-16:]
            session.permanent = True
            return redirect(safe_next(request.args.get("next")))
        if g.get("login_retry_after"):
            error, status = "Too many failed attempts. Wait a few minutes and try again.", 429
        else:
            error, status = "Wrong username or password.", 401
    elif request.method == "POST":
        status = 400
        if form.errors.get("csrf_token"):
            error = "The form expired. Please try again."
    headers = {"Retry-After": str(g.login_retry_after)} if status == 429 else {}
    return render_template("login.html", form=form, error=error), status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    """POST only (with the CSRF token, checked for a logged-in user by the factory's
    hook), so that no image tag or link on another site can log a user out."""
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))
