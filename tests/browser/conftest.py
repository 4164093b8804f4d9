"""Fixtures for the browser tests: the same demo a newcomer gets from ``make run``
(the sample HTTPS API on loopback, its CA trusted, the seed), served by werkzeug in
a thread on 127.0.0.1, and Debian's chromium driven by Playwright (sync API).

* ``demo``: the live host of one test (fresh database, fresh seed, its own sample API).
* ``browser``: chromium for the session. Skipped, with the reason, when chromium or
  Playwright is missing; a failure when ``CONNECT_REQUIRE_SERVICES=1`` (CI).
* ``page``: a 1280x800 page on the demo; a screenshot lands in
  ``test-artifacts/browser/`` when the test fails, and ``shot(name)`` saves one at a
  named point. Every request the page makes is recorded (``page_log``); one to another
  origin is aborted, never sent, and fails the test, as does an uncaught script
  error or a Content-Security-Policy violation.

Network rule: the browser and the host talk only to servers started here on loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from werkzeug.serving import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CONNECT_TEST_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000
HOST = "127.0.0.1"
PASSWORDS = {"admin": "admin", "alice": "alice", "bob": "bob"}


# --- the live host ---------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # one line per request is noise here
        pass


class LiveServer:
    """A WSGI app on 127.0.0.1:<free port>, werkzeug's threaded server in a thread."""

    def __init__(self, app, host: str = HOST):
        self.server = make_server(host, 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://{host}:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="browser-live-server", daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@dataclass
class Demo:
    """What a newcomer gets from ``make run``, served for one test."""

    app: object
    url: str
    upstream: object  # plugin_host.demo.upstream.DemoUpstream
    seeded: object  # plugin_host.demo.seed.SeedResult
    server: LiveServer
    extra: dict = field(default_factory=dict)

    def item_id(self, name: str) -> int:
        return self.seeded.items[name]

    def field_key(self, name: str) -> str:
        return f"connected_item_{self.item_id(name)}"

    def stop(self) -> None:
        self.server.stop()
        self.upstream.stop()
        self.app.extensions["connect"].stats.close()
        self.app.extensions["connect"].db.dispose()
        self.app.extensions["host_db"].dispose()


def start_demo(workdir: Path, cert_dir: Path) -> Demo:
    """The sample API (certificates in ``cert_dir``, reused), a host app on a fresh
    SQLite database in ``workdir`` trusting its CA and allowing 127.0.0.1, the demo
    seed, and the live server: the same flow as ``python -m plugin_host.demo.run``."""
    from plugin_host import create_app
    from plugin_host.demo.seed import seed_demo
    from plugin_host.demo.upstream import DemoUpstream
    from plugin_host.migrations_runner import upgrade_all

    upstream = DemoUpstream(cert_dir).start()
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        app = create_app({
            "INSTANCE_PATH": str(workdir / "instance"),
            "DATABASE_URL": f"sqlite:///{workdir}/connect.db",
            "SECRET_KEY": "browser-tests",
            "CONNECT_SECRET_KEYS": Fernet.generate_key().decode(),
            "CONNECT_CA_BUNDLE": str(upstream.ca_file),
            "CONNECT_ALLOWED_HOSTS": HOST,
            "CACHE_TYPE": "SimpleCache",
        })
        with app.app_context():
            upgrade_all(app)
        seeded = seed_demo(app, upstream.base_url)
        server = LiveServer(app).start()
    except BaseException:
        upstream.stop()
        raise
    return Demo(app=app, url=server.url, upstream=upstream, seeded=seeded, server=server)


# --- chromium --------------------------------------------------------------------------


def chromium_missing_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


def required() -> bool:
    """CI (``CONNECT_REQUIRE_SERVICES=1``) turns a missing browser into a failure."""
    return os.environ.get("CONNECT_REQUIRE_SERVICES") == "1"


def playwright_expect():
    """Playwright's ``expect``; without Playwright the module is skipped, with the reason
    (or, under ``CONNECT_REQUIRE_SERVICES=1``, the import error stands)."""
    try:
        from playwright.sync_api import expect
    except ImportError:
        if required():
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')", allow_module_level=True)
    return expect


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def login(page, base_url: str, username: str, password: str | None = None) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or PASSWORDS[username])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


# --- what a page did -------------------------------------------------------------------


@dataclass
class PageLog:
    origin: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def attach(self, context, page) -> None:
        def on_request(request):
            self.requests.append(request.url)

        def on_console(message):
            if message.type == "error":
                self.console_errors.append(message.text)
                if "Content Security Policy" in message.text:
                    self.csp.append(message.text)

        def on_dialog(dialog):
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def guard(route):
            # Never let the browser leave the host: record and abort.
            self.foreign.append(route.request.url)
            route.abort()

        context.route(lambda url: not self.same_origin(url), guard)
        page.on("request", on_request)
        page.on("console", on_console)
        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def same_origin(self, url: str) -> bool:
        if url.startswith(("data:", "about:", "blob:")):
            return True
        parts, mine = urlsplit(url), urlsplit(self.origin)
        return (parts.scheme, parts.netloc) == (mine.scheme, mine.netloc)

    def other_origins(self) -> list[str]:
        return [url for url in self.requests if not self.same_origin(url)] + self.foreign


# --- fixtures --------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    # Screenshots of an earlier run would mislead: start clean.
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def demo_certs(tmp_path_factory) -> Path:
    """One CA and server certificate for the session (the sample API reuses them)."""
    from plugin_host.demo.certs import ensure_certs

    folder = tmp_path_factory.mktemp("demo-tls")
    ensure_certs(folder)
    return folder


@pytest.fixture
def demo(tmp_path, demo_certs) -> Demo:
    running = start_demo(tmp_path / "demo", demo_certs)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser():
    reason = chromium_missing_reason()
    if reason:
        if required():
            pytest.fail(f"CONNECT_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


@pytest.fixture
def page(browser, demo, request, artifacts):
    context = browser.new_context(viewport=VIEWPORT, base_url=demo.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log = PageLog(demo.url)
    log.attach(context, page)
    request.node.page_log = log
    request.node.shot_prefix = _slug(request.node.name)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        from playwright.sync_api import Error as PlaywrightError

        try:
            page.screenshot(path=str(artifacts / f"{request.node.shot_prefix}--FAILED.png"), full_page=True)
        except PlaywrightError as exc:  # the page may be gone; the failure itself says more
            print(f"no failure screenshot: {exc}")
    context.close()
    if failed is not None and failed.passed:
        problems = [f"request to another origin: {u}" for u in log.other_origins()]
        problems += [f"uncaught script error: {e}" for e in log.errors]
        problems += [f"CSP violation: {c}" for c in log.csp]
        assert not problems, "\n".join(problems)


@pytest.fixture
def page_log(page, request) -> PageLog:
    return request.node.page_log


@pytest.fixture
def shot(page, request, artifacts):
    """``shot("name")`` saves the page as test-artifacts/browser/<test>--<name>.png."""

    def take(name: str, *, full_page: bool = True) -> Path:
        path = artifacts / f"{request.node.shot_prefix}--{_slug(name)}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def as_user(page, demo):
    """``as_user("alice")`` logs the page in."""

    def do(username: str) -> None:
        login(page, demo.url, username)

    return do


