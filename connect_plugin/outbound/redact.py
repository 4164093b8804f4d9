"""Keep secrets out of messages, URLs and logs.

A :class:`Redactor` holds secret strings and replaces each (longest first) with
``***``. It also knows the forms a secret takes on the wire: URL-encoded (in a
query string) and, for HTTP Basic, the base64 of ``user:password``.

The process-wide registry (``register_secret`` / ``redact_known``) collects every
secret the outbound client has sent, so that the logging filter installed by
``install_log_redaction`` can scrub records emitted by urllib3 and requests too
(urllib3 logs full request URLs, query string included, at DEBUG).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import logging
import re
import threading
from typing import Callable, Iterable
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 4


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
        self._pattern: re.Pattern[str] | None = None
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

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._secrets:
                ordered = sorted(self._secrets, key=lambda s: (-len(s), s))
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
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

_KNOWN = Redactor()


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


def redact_known(text: object) -> str:
    return _KNOWN.redact(text)


def redact_url(url: str, secret_params: Iterable[str] = ()) -> str:
    return _KNOWN.redact_url(url, secret_params)


# --- logging --------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and formatted traceback) with secrets masked.

    ``redactor_getter`` returns the :class:`Redactor` to use (default: the
    process-wide registry). The filter never drops a record.
    """

    def __init__(self, redactor_getter: Callable[[], Redactor | None] | None = None):
        super().__init__()
        self._getter = redactor_getter or known_secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            redactor = self._getter()
        except Exception:  # pragma: no cover - a broken getter must not break logging
            return True
        if redactor is None or not len(redactor):
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = redactor.redact(message)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            try:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            except Exception:  # pragma: no cover
                record.exc_text = None
        if record.exc_text:
            record.exc_text = redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
_INSTALL_LOCK = threading.Lock()
LOGGER_PREFIXES = ("connect_plugin", "urllib3", "requests")


def log_filter() -> RedactingFilter:
    """The filter ``install_log_redaction`` installs (one per process)."""
    return _FILTER


def _install_record_factory() -> None:
    """Wrap the log record factory so records of the ``connect_plugin``,
    ``urllib3`` and ``requests`` loggers are redacted when created, whichever
    child logger makes them and whenever it was created."""
    if getattr(logging.getLogRecordFactory(), "_connect_redacting", False):
        return
    previous = logging.getLogRecordFactory()
    prefixes = tuple(LOGGER_PREFIXES)

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        name = record.name or ""
        if name.startswith(prefixes) and (
            name in prefixes or any(name.startswith(p + ".") for p in prefixes)
        ):
            _FILTER.filter(record)
        return record

    factory._connect_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def install_log_redaction() -> None:
    """Add the redacting filter to the ``connect_plugin``, ``urllib3`` and
    ``requests`` loggers and every child logger that exists now (a logger's
    filters do not run for records propagated from its children), to the root
    logger's handlers and to ``logging.lastResort``; and wrap the record factory
    so child loggers created later are covered too. Idempotent; cheap enough to
    call again after new loggers or handlers appear."""
    with _INSTALL_LOCK:
        _install_record_factory()
        targets: list[logging.Filterer] = []
        for prefix in LOGGER_PREFIXES:
            targets.append(logging.getLogger(prefix))
        for name, obj in list(logging.root.manager.loggerDict.items()):
            if isinstance(obj, logging.Logger) and any(
                name.startswith(prefix + ".") for prefix in LOGGER_PREFIXES
            ):
                targets.append(obj)
        targets.extend(logging.getLogger().handlers)
        if logging.lastResort is not None:
            targets.append(logging.lastResort)
        for target in targets:
            if _FILTER not in target.filters:
                target.addFilter(_FILTER)
