"""Who is asking: the login session, or HTTP Basic credentials for scripts.

Failed logins are throttled per user name and per client address so that passwords
cannot be guessed at speed, on the login form and on Basic credentials alike.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import defaultdict, deque
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .db import session as db_session
from .models import User

bp = Blueprint("auth", __name__)

FAILURE_WINDOW_SECONDS = 15 * 60
MAX_FAILURES = 5
# Many people can share one address (an office behind NAT, a proxy): the per-address
# limit only stops a single source from trying many names.
MAX_FAILURES_PER_ADDRESS = 50


class LoginThrottle:
    """Counts recent failures per user name and per address in this process."""

    def __init__(self, window: float = FAILURE_WINDOW_SECONDS, limit: int = MAX_FAILURES,
                 address_limit: int = MAX_FAILURES_PER_ADDRESS):
        self.window, self.limit, self.address_limit = window, limit, address_limit
        self._failures: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        entries = self._failures[key]
        while entries and entries[0] < now - self.window:
            entries.popleft()
        return entries

    def blocked(self, username: str, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return (len(self._recent(f"u:{username.lower()}", now)) >= self.limit
                    or len(self._recent(f"a:{address}", now)) >= self.address_limit)

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"u:{username.lower()}", f"a:{address}"):
                self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{username.lower()}", None)


def throttle() -> LoginThrottle:
    return current_app.extensions["host_login_throttle"]


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def find_user(username: str) -> User | None:
    return db_session().scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def authenticate(username: str, password: str) -> User | None:
    address = request.remote_addr or "?"
    if throttle().blocked(username, address):
        g.login_throttled = True
        return None
    user = find_user(username)
    if user is None or not user.check_password(password):
        throttle().failed(username, address)
        return None
    throttle().succeeded(username)
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
        if g.get("login_throttled"):
            error, status = "Too many failed attempts. Wait a few minutes and try again.", 429
        else:
            error, status = "Wrong username or password.", 401
    elif request.method == "POST":
        status = 400
        if form.errors.get("csrf_token"):
            error = "The form expired. Please try again."
    return render_template("login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    """POST only (with the CSRF token, checked for a logged-in user by the factory's
    hook), so that no image tag or link on another site can log a user out."""
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))
