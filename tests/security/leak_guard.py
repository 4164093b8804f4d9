"""A pytest plugin that fails any test during which a stored secret shows up where
the product promises it never will (CONTRACT section 5: "Nothing in any response,
page or log line ever contains a stored secret").

Activated for the whole suite by ``pytest_plugins = ["tests.security.leak_guard"]``
in ``tests/conftest.py``. For every test it records, in this process:

* every response a Flask app produces (``Flask.process_response``): the body, every
  header (``Set-Cookie`` included) and the session as it is about to be saved (the
  session cookie is signed, not encrypted, so its content counts as shown);
* every log record of every logger, at DEBUG, as a logger emits it (the record
  factory's redaction runs first, as it does in production; handler-level filters
  do not, so a record that only a handler would mask still counts);
* the message of every exception raised to pytest by the test, with its causes;
* the output of every command run through click's ``CliRunner`` (``connect-host
  config export`` prints the configuration, the other commands their summaries).

The secrets are those the process has registered in
``connect_plugin.outbound.redact`` (every secret stored or decrypted by
``datasource_service``, every credential the outbound client sent, OAuth2 access
tokens), each with its URL-encoded and Basic forms; values under 4 characters are
not registered. At the end of each test the recorded text is searched for every
secret known at that moment; a hit fails the test, naming where it was seen and
showing the surrounding text with the secret masked (the report never repeats it).

What the tests themselves send (request bodies, upstream answers, their own printed
output) is not recorded: only what the product says counts. Subprocesses (the gunicorn
workers of ``tests/services``) are outside this process and not watched.

``GUARD`` is the plugin's state; ``tests/security/test_leak_guard.py`` proves it
catches a leak in each channel.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connect_plugin.outbound.redact import MASK, known_secrets

MAX_BODY_CHARS = 4 * 1024 * 1024  # larger bodies are checked in their first 4 MiB
CONTEXT_CHARS = 40


@dataclass
class Seen:
    where: str
    text: str


@dataclass
class LeakGuard:
    """What was said during the current test, and counts for the whole session."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: list[Seen] = field(default_factory=list)
    raw_secrets: set[str] = field(default_factory=set)
    responses: int = 0
    log_records: int = 0
    exceptions: int = 0
    leaks: int = 0
    tests_checked: int = 0

    def note(self, where: str, text: str, kind: str) -> None:
        if not text:
            return
        with self.lock:
            self.seen.append(Seen(where, text))
            if kind == "response":
                self.responses += 1
            elif kind == "log":
                self.log_records += 1
            elif kind == "exception":
                self.exceptions += 1

    def take(self) -> list[Seen]:
        with self.lock:
            seen, self.seen = self.seen, []
        return seen

    def discard(self) -> None:
        """Forget what was recorded so far in this test (for the guard's own tests)."""
        self.take()

    def secrets(self) -> list[str]:
        """Every registered secret (and encoded form) that the product's own fixed
        text does not contain: a Basic password ``connect`` is in every plugin URL,
        so finding it there says nothing (its ``user:password`` and base64 forms are
        still watched)."""
        registry = known_secrets()
        with registry._lock:  # the registry offers no public copy of its set
            values = set(registry._secrets)
        watched = [value for value in values if not in_product_text(value)]
        return sorted(watched, key=lambda s: (-len(s), s))

    def unwatchable(self) -> set[str]:
        with self.lock:
            raw = set(self.raw_secrets)
        return {value for value in raw if in_product_text(value)}

    def find(self, seen: list[Seen]) -> list[str]:
        """One line per place where a registered secret appears, secret masked."""
        secrets = self.secrets()
        if not secrets or not seen:
            return []
        problems = []
        for entry in seen:
            for secret in secrets:
                at = entry.text.find(secret)
                if at < 0:
                    continue
                start, end = max(0, at - CONTEXT_CHARS), at + len(secret) + CONTEXT_CHARS
                context = known_secrets().redact(entry.text[start:end])
                problems.append(f"{entry.where}: a stored secret ({len(secret)} characters) appears in "
                                f"...{context}...")
                break
        return problems

    def check(self) -> list[str]:
        """Search what this test recorded; return the problems (and forget the text)."""
        problems = self.find(self.take())
        with self.lock:
            self.tests_checked += 1
            self.leaks += len(problems)
        return problems


GUARD = LeakGuard()

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_TEXT_DIRS = ("connect_plugin", "plugin_host", "templates", "static")
# The demo's sample API and seed hold the demo's API key as data: not text a page shows.
DEMO_DATA = ROOT / "plugin_host" / "demo"
PRODUCT_TEXT_SUFFIXES = {".py", ".html", ".js", ".css", ".yaml", ".yml", ".svg", ".txt", ".md", ".mako"}


@functools.lru_cache(maxsize=1)
def product_text() -> str:
    """The fixed text the product may say whatever its data: its source, templates,
    scripts and manifest, and the texts of Werkzeug's error pages and redirects."""
    parts = []
    paths = [ROOT / "plugin.yaml"]
    for folder in PRODUCT_TEXT_DIRS:
        paths.extend(p for p in sorted((ROOT / folder).rglob("*"))
                     if p.suffix in PRODUCT_TEXT_SUFFIXES and not p.is_relative_to(DEMO_DATA))
    import werkzeug.exceptions
    import werkzeug.utils

    paths += [Path(werkzeug.exceptions.__file__), Path(werkzeug.utils.__file__)]
    for path in paths:
        try:
            parts.append(path.read_text("utf-8", "replace"))
        except OSError:
            continue
    return "\n".join(parts)


@functools.cache
def in_product_text(value: str) -> bool:
    return value in product_text()


# --- recording -------------------------------------------------------------------------


def _install_response_hook() -> None:
    import flask

    original = flask.Flask.process_response
    if getattr(original, "_leak_guard", False):
        return

    def process_response(self, response):
        response = original(self, response)
        try:
            _record_response(response)
        except Exception as exc:  # noqa: BLE001 - the guard must never break the app under test
            GUARD.note("leak guard", f"could not read a response: {exc!r}", "log")
        return response

    process_response._leak_guard = True  # type: ignore[attr-defined]
    flask.Flask.process_response = process_response  # type: ignore[method-assign]


def _record_response(response) -> None:
    from flask import has_request_context, request, session

    where = f"{request.method} {request.full_path.rstrip('?')}" if has_request_context() else "a response"
    where = f"response to {where} ({response.status_code})"
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    GUARD.note(f"{where}, headers", headers, "response")
    if not (response.direct_passthrough or response.is_streamed):
        body = response.get_data()[:MAX_BODY_CHARS].decode("utf-8", "replace")
        GUARD.note(f"{where}, body", body, "response")
    if has_request_context():
        GUARD.note(f"{where}, session", repr(dict(session)), "response")


def _install_cli_hook() -> None:
    from click.testing import CliRunner

    original = CliRunner.invoke
    if getattr(original, "_leak_guard", False):
        return

    def invoke(self, cli, args=None, *more, **kwargs):
        result = original(self, cli, args, *more, **kwargs)
        shown = " ".join(args) if isinstance(args, (list, tuple)) else str(args or "")
        # click 8.2+: ``output`` holds what the command wrote to stdout and stderr.
        GUARD.note(f"output of the command {shown}", result.output, "response")
        return result

    invoke._leak_guard = True  # type: ignore[attr-defined]
    CliRunner.invoke = invoke  # type: ignore[method-assign]


class _RecordingHandler(logging.Handler):
    """Sees every record as its logger emits it. ``handle`` is overridden so that
    filters added to root handlers (the redaction filter adds itself there) do not
    hide what a logger actually said."""

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose arguments do not fit its format
            text = f"{record.msg!r} {record.args!r}"
        parts = [text]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(_exception_text(record.exc_info[1]))
        if record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(record.stack_info)
        GUARD.note(f"log record {record.name} {record.levelname}", "\n".join(parts), "log")


def _exception_text(exc: BaseException) -> str:
    """The messages of an exception, its causes and contexts."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def _install_secret_counter() -> None:
    registry = known_secrets()
    original = registry.add
    if getattr(original, "_leak_guard", False):
        return

    def add(value):
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                value = None
        if isinstance(value, str) and len(value) >= 4 and value != MASK:
            with GUARD.lock:
                GUARD.raw_secrets.add(value)
        return original(value)

    add._leak_guard = True  # type: ignore[attr-defined]
    registry.add = add  # type: ignore[method-assign]


# --- pytest hooks -----------------------------------------------------------------------

_handler = _RecordingHandler(level=logging.DEBUG)
_previous_root_level: int | None = None


def pytest_configure(config) -> None:
    global _previous_root_level
    _install_response_hook()
    _install_cli_hook()
    _install_secret_counter()
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
        _previous_root_level = root.level
        root.setLevel(logging.DEBUG)


def pytest_unconfigure(config) -> None:
    root = logging.getLogger()
    if _handler in root.handlers:
        root.removeHandler(_handler)
        if _previous_root_level is not None:
            root.setLevel(_previous_root_level)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if excinfo is None or excinfo.errisinstance((pytest.skip.Exception, KeyboardInterrupt)):
        return
    if str(excinfo.value).startswith("leak guard:"):
        return  # the guard's own report
    GUARD.note(f"exception raised to pytest in {call.when}", _exception_text(excinfo.value), "exception")
    if call.when == "teardown":
        # The per-test check has already run; look at this one at once.
        problems = GUARD.check()
        if problems:
            report.outcome = "failed"
            report.longrepr = _message(item, problems)


def _message(item, problems: list[str]) -> str:
    return (f"leak guard: {item.nodeid} let a stored secret out\n  " + "\n  ".join(problems)
            + "\n(tests/security/leak_guard.py; secrets come from connect_plugin.outbound.redact)")


@pytest.fixture(autouse=True)
def _leak_guard(request):
    """Checks, after everything else of the test has finished, what was recorded
    since the previous check (wider-scoped fixtures set up for this test included)."""
    yield
    problems = GUARD.check()
    if problems:
        pytest.fail(_message(request.node, problems), pytrace=False)


def _counts() -> dict[str, int]:
    guard = GUARD
    unwatchable = guard.unwatchable()
    return {"watched": len(guard.raw_secrets) - len(unwatchable), "strings": len(guard.secrets()),
            "unwatchable": len(unwatchable), "tests": guard.tests_checked, "responses": guard.responses,
            "logs": guard.log_records, "exceptions": guard.exceptions, "leaks": guard.leaks}


_workers_counts: list[dict[str, int]] = []


def pytest_sessionfinish(session) -> None:
    """Under pytest-xdist each worker guards its own tests; it hands its counts to
    the controller (``workeroutput``), which prints their sum."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["leak_guard"] = _counts()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    counts = getattr(node, "workeroutput", {}).get("leak_guard")
    if counts:
        _workers_counts.append(counts)


def pytest_terminal_summary(terminalreporter) -> None:
    rows = _workers_counts or [_counts()]
    total = {key: sum(row[key] for row in rows) for key in rows[0]}
    if not total["tests"]:
        return
    terminalreporter.write_line(
        f"leak guard: {total['watched']} secrets watched ({total['strings']} strings "
        f"with their encoded forms; {total['unwatchable']} too common to tell apart from the product's own text) "
        f"over {total['tests']} tests{f' in {len(rows)} workers' if _workers_counts else ''}; "
        f"{total['responses']} response parts, {total['logs']} log records, "
        f"{total['exceptions']} exception messages checked; {total['leaks']} leaks"
    )
