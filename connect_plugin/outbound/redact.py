"""Keep secrets out of messages, URLs and logs.

A :class:`Redactor` holds secret strings and replaces each (longest first) with
``***``. It also knows the forms a secret takes on the wire: URL-encoded (in a
query string) and, for HTTP Basic, the base64 of ``user:password``.

The process-wide registry (``register_secret`` / ``redact_known``) collects the
secrets the outbound client has sent recently, so that the logging filter installed
by ``install_log_redaction`` (:mod:`.log_redaction`) can scrub records emitted by
urllib3 and requests too (urllib3 logs full request URLs, query string included, at
DEBUG). It stays bounded:
a secret leaves it ``RETAIN_SECONDS`` after it was last sent (an OAuth2 token that
expired is no longer sent, so it goes), and it holds at most ``MAX_REGISTERED_FORMS``
strings, the least recently sent going first.

Matching uses an Aho-Corasick automaton (``ahocorasick_rs``) instead of one regular
expression of alternatives: its cost grows with the length of the text, not with
the number of secrets, and building it for thousands of strings takes milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import threading
import time
from collections import OrderedDict
from typing import Callable, Iterable

import ahocorasick_rs
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 4
# The process-wide registry: how long a secret stays after it was last sent, how
# many strings (a secret and its wire forms) it holds at most, and how often it
# looks for secrets that have stayed long enough.
RETAIN_SECONDS = 15 * 60
MAX_REGISTERED_FORMS = 10_000
PRUNE_INTERVAL_SECONDS = 30.0


class _Matcher:
    """Finds the leftmost, then longest, secret at each place of a text: the same
    choice as a regular expression of the secrets sorted longest first."""

    def __init__(self, secrets: Iterable[str]):
        self._automaton = ahocorasick_rs.AhoCorasick(
            list(secrets), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)

    def sub(self, mask: str, text: str) -> str:
        matches = self._automaton.find_matches_as_indexes(text)
        if not matches:
            return text
        pieces = []
        position = 0
        for _index, start, end in matches:
            pieces.append(text[position:start])
            pieces.append(mask)
            position = end
        pieces.append(text[position:])
        return "".join(pieces)


# Up to this many strings, one regular expression: the ``re`` module's own cache of
# compiled patterns makes the per-call redactor (the same few secrets on every call
# to a datasource) cheaper than building an automaton each time.
SMALL_SET = 64


def _matcher(secrets: set[str]) -> "_Matcher | re.Pattern[str]":
    if len(secrets) <= SMALL_SET:
        ordered = sorted(secrets, key=lambda s: (-len(s), s))
        return re.compile("|".join(re.escape(s) for s in ordered))
    return _Matcher(secrets)


def wire_forms(value: str, *, echoes: bool = True) -> set[str]:
    """``value`` as it may come back inside an answer: URL-encoded, and with
    ``echoes`` also JSON-escaped (``\\/``, ``\\uXXXX``), HTML-escaped and
    base64-encoded, so an upstream that echoes a secret in an error body cannot
    carry it into an excerpt."""
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), quote(value)}
    if not echoes:
        return forms
    for encoded in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        forms |= {encoded, encoded.replace("/", "\\/")}
    forms |= {html.escape(value, quote=True), html.escape(value, quote=False),
              html.escape(value, quote=True).replace("&#x27;", "&#39;")}
    raw = value.encode("utf-8", "surrogatepass")
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return forms


class Redactor:
    """A set of secrets and the means to mask them in text and URLs.

    Values shorter than ``min_length`` characters are ignored: masking every
    ``abc`` in every message would hide more than it protects.
    Thread-safe.
    """

    def __init__(self, secrets: Iterable[str] = (), *, min_length: int = MIN_SECRET_LENGTH):
        self._min_length = min_length
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: _Matcher | re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    # -- filling -----------------------------------------------------------------

    def _add_one(self, value: str) -> bool:
        if not isinstance(value, str) or len(value) < self._min_length or value in self._secrets:
            return False
        self._secrets.add(value)
        return True

    def add(self, value: object) -> None:
        """Add a secret and the forms it takes when an upstream echoes it back."""
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                return
        if not isinstance(value, str):
            return
        # A value too short to mask on its own is not masked through its echoed
        # forms either (the base64 of "abc" is four characters); its URL-encoded
        # forms are kept as before, each subject to the length rule.
        forms = wire_forms(value, echoes=len(value) >= self._min_length)
        with self._lock:
            changed = False
            for form in forms:
                changed |= self._add_one(form)
            if changed:
                self._pattern = None

    def add_basic(self, username: str, password: str) -> None:
        """Add an HTTP Basic password, ``user:password`` and its base64 form."""
        self.add(password)
        # A password too short to mask on its own is still hidden in these forms.
        pair = f"{username}:{password}"
        self.add(pair)
        self.add(base64.b64encode(pair.encode("utf-8")).decode("ascii"))

    def add_header_value(self, value: object) -> None:
        """Add the value of an auth header: the whole value, and for
        ``Scheme credentials`` forms the credentials (for Basic also the decoded
        ``user:password`` and the password)."""
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(value, str):
            return
        self.add(value)
        scheme, _, credentials = value.strip().partition(" ")
        credentials = credentials.strip()
        if not credentials:
            return
        self.add(credentials)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return
            user, sep, password = decoded.partition(":")
            if sep:
                self.add_basic(user, password)

    def update(self, other: "Redactor") -> None:
        with other._lock:
            values = set(other._secrets)
        with self._lock:
            before = len(self._secrets)
            self._secrets |= values
            if len(self._secrets) != before:
                self._pattern = None

    def __len__(self) -> int:
        return len(self._secrets)

    def __contains__(self, value: object) -> bool:
        return value in self._secrets

    # -- masking -----------------------------------------------------------------

    def _compiled(self) -> "_Matcher | re.Pattern[str] | None":
        with self._lock:
            if self._pattern is None and self._secrets:
                self._pattern = _matcher(self._secrets)
            return self._pattern

    def redact(self, text: object) -> str:
        """``text`` with every secret replaced by ``***`` (longest first)."""
        if text is None:
            return ""
        if not isinstance(text, str):
            text = str(text)
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def redact_url(self, url: str, secret_params: Iterable[str] = ()) -> str:
        """``url`` with the values of the named query parameters (compared
        case-insensitively), any password in the user-info part and every known
        secret replaced by ``***``."""
        if not isinstance(url, str):
            url = str(url)
        names = {name.lower() for name in secret_params if name}
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.redact(url)
        query = parts.query
        if names and query:
            pieces = []
            for piece in query.split("&"):
                key, sep, _value = piece.partition("=")
                if sep and unquote_plus(key).lower() in names:
                    piece = f"{key}={MASK}"
                pieces.append(piece)
            query = "&".join(pieces)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, _password = userinfo.partition(":")
            netloc = f"{user}:{MASK}@{hostport}" if sep else netloc
        rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
        return self.redact(rebuilt)


# --- process-wide registry ---------------------------------------------------------


class SecretRegistry(Redactor):
    """The process-wide redactor, bounded in time and size: a secret stays
    ``retain_seconds`` after it was last registered (every call registers the
    secrets it sends, so secrets in use stay), and at most ``max_forms`` strings
    are held, the least recently registered leaving first. Matching cost is then
    bounded too, whatever number of tokens the process has ever seen."""

    def __init__(self, *, retain_seconds: float = RETAIN_SECONDS, max_forms: int = MAX_REGISTERED_FORMS,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._retain = retain_seconds
        self._max_forms = max_forms
        self._clock = clock
        # form -> when it leaves; least recently registered first.
        self._until: OrderedDict[str, float] = OrderedDict()
        self._next_prune = 0.0

    def _add_one(self, value: str) -> bool:  # under self._lock
        if not isinstance(value, str) or len(value) < self._min_length:
            return False
        return self._touch(value, self._clock())

    def _touch(self, form: str, now: float) -> bool:
        """Keep ``form`` for another ``retain_seconds``; True when it is new."""
        if form in self._until:
            self._until[form] = now + self._retain
            self._until.move_to_end(form)
            return False
        self._until[form] = now + self._retain
        self._secrets.add(form)
        while len(self._until) > self._max_forms:
            oldest, _ = self._until.popitem(last=False)
            self._secrets.discard(oldest)
        return True

    def update(self, other: Redactor) -> None:
        with other._lock:
            values = list(other._secrets)
        now = self._clock()
        with self._lock:
            changed = False
            for value in values:
                changed |= self._touch(value, now)
            if changed:
                self._pattern = None

    def _prune(self) -> None:  # under self._lock
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + min(PRUNE_INTERVAL_SECONDS, self._retain)
        changed = False
        while self._until:
            form, until = next(iter(self._until.items()))
            if until > now:
                break  # every later form was registered later, so stays longer
            del self._until[form]
            self._secrets.discard(form)
            changed = True
        if changed:
            self._pattern = None

    def _compiled(self) -> "_Matcher | re.Pattern[str] | None":
        with self._lock:
            self._prune()
        return super()._compiled()


_KNOWN = SecretRegistry()


def known_secrets() -> Redactor:
    """The process-wide redactor (every secret registered so far)."""
    return _KNOWN


def register_secret(value: object) -> None:
    """Remember a secret for the whole process (values under 4 characters are
    ignored). Logging filters installed by ``install_log_redaction`` mask it."""
    _KNOWN.add(value)


def register_redactor(redactor: Redactor) -> None:
    """Register every secret of ``redactor`` (with the forms it derived)."""
    _KNOWN.update(redactor)


def call_redactor(header_values: Iterable[str], param_values: Iterable[str], secrets: Iterable[str]) -> Redactor:
    """A redactor for one call's credentials, also registered with the log filter."""
    redactor = Redactor()
    for value in header_values:
        redactor.add_header_value(value)
    for value in [*param_values, *secrets]:
        redactor.add(value)
    register_redactor(redactor)
    return redactor


def redact_known(text: object) -> str:
    return _KNOWN.redact(text)


def redact_url(url: str, secret_params: Iterable[str] = ()) -> str:
    return _KNOWN.redact_url(url, secret_params)
