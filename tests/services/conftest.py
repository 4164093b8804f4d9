"""Real services for the integration tests: Redis, PostgreSQL and gunicorn.

- ``redis_url``: ``TEST_REDIS_URL`` (CI, db 5 of it, or 5 + the pytest-xdist worker's
  number, flushed around each test), else a
  private ``redis-server`` on an ephemeral loopback port for the session.
- ``private_redis``: always a ``redis-server`` of the test's own, which the test may
  stop and start again on the same port.
- ``postgres_url``: a fresh database per test, on ``TEST_POSTGRES_URL`` (CI) or on a
  throwaway cluster (Debian's ``initdb``/``pg_ctl``, run as the ``postgres`` user when
  we are root) on an ephemeral loopback port for the session.
- ``gunicorn_host``: starts ``gunicorn 'plugin_host:create_app()'`` with gthread
  workers on PostgreSQL and Redis, after ``connect-host db upgrade`` and ``users
  create``, exactly as the README's production recipe does.

Without a service the tests that need it are skipped with the reason; with
``CONNECT_REQUIRE_SERVICES=1`` (CI) they fail instead. Everything listens on loopback.
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from tests.conftest import SECRET_KEYS, TEST_PASSWORD_HASH
from tests.support.https_servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _redis_test_db() -> int:
    """Db 5 of the given Redis; under pytest-xdist, 5 + the worker's number, so that
    one worker's flush never empties another's cache."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return 5 + int(worker.removeprefix("gw") or 0)


REDIS_TEST_DB = _redis_test_db()
ADMIN_AUTH = ("admin", "admin-pw")
ALICE_AUTH = ("alice", "alice-pw")


def unavailable(reason: str):
    """Skip, or fail when CI promised the services (CONNECT_REQUIRE_SERVICES=1)."""
    if os.environ.get("CONNECT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (CONNECT_REQUIRE_SERVICES=1 requires it)", pytrace=False)
    pytest.skip(reason)


def _wait_for(check, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # not ready yet
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout} s (last error: {last_error!r})")


# --- Redis -----------------------------------------------------------------------------


def _redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


class RedisServer:
    """A private redis-server on loopback, without persistence."""

    def __init__(self, binary: str, workdir: Path, port: int | None = None):
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def start(self) -> "RedisServer":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True,
            )

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log_path.read_text()[-2000:]}")
            return self.ping()

        _wait_for(ready, 10, "redis-server")
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@pytest.fixture(scope="session")
def redis_service(tmp_path_factory):
    """The URL (db ``REDIS_TEST_DB``) of the session's Redis: CI's, or a private redis-server."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield _redis_url_with_db(given, REDIS_TEST_DB)
        return
    binary = shutil.which("redis-server")
    if not binary:
        unavailable("Redis is not available: TEST_REDIS_URL is not set and redis-server is not on PATH")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url(REDIS_TEST_DB)
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_service):
    """A Redis URL whose database is empty at the start and the end of the test."""
    import redis

    client = redis.Redis.from_url(redis_service, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        client.close()
        unavailable(f"Redis at {redis_service} does not answer: {exc}")
    try:
        yield redis_service
    finally:
        try:
            client.flushdb()
        finally:
            client.close()


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test alone: ``.stop()``, ``.start()`` (same port), ``.url()``."""
    binary = shutil.which("redis-server")
    if not binary:
        unavailable("redis-server is not on PATH; this test needs a Redis it can stop and start")
    server = RedisServer(binary, tmp_path / "private-redis").start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL --------------------------------------------------------------------------


class PostgresCluster:
    """A throwaway cluster: initdb into a temporary folder, pg_ctl start on loopback."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="connect-pg-"))
        self.datadir = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            # initdb refuses to run as root: the cluster belongs to the postgres user.
            shutil.chown(self.base, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        kwargs = {"user": "postgres", "group": "postgres"} if self.as_root else {}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        return subprocess.run(list(args), cwd=self.base, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False, **kwargs)

    def start(self) -> "PostgresCluster":
        result = self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                           "--auth=trust", "-E", "UTF8", "--no-sync")
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr or result.stdout}")
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        result = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log_path),
                           "-w", "-t", "60", "-o", options, "start")
        if result.returncode != 0:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr or result.stdout}\n{log[-2000:]}")
        return self

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


def _postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p)])
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_service():
    """A SQLAlchemy URL of a PostgreSQL server where the tests may create databases."""
    given = os.environ.get("TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bindir = _postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL is not available: TEST_POSTGRES_URL is not set and no "
                    "/usr/lib/postgresql/*/bin/initdb exists")
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("PostgreSQL's initdb refuses root and there is no postgres user to run it")
    cluster = PostgresCluster(bindir).start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


def _libpq_args(sqlalchemy_url: str, database: str | None = None) -> dict:
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url)
    args = {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username,
            "dbname": database or url.database or "postgres"}
    if url.password:
        args["password"] = url.password
    return {k: v for k, v in args.items() if v is not None}


@pytest.fixture
def postgres_url(postgres_service):
    """A fresh, empty database for this test (dropped afterwards)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"connect_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(**_libpq_args(postgres_service), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL at {make_url(postgres_service).render_as_string()} refuses: {exc}")
    try:
        yield make_url(postgres_service).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**_libpq_args(postgres_service), autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def postgres_connections(sqlalchemy_url: str) -> int:
    """How many server connections are open on the URL's database now."""
    import psycopg
    from sqlalchemy.engine import make_url

    database = make_url(sqlalchemy_url).database
    with psycopg.connect(**_libpq_args(sqlalchemy_url, "postgres"), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)).fetchone()[0]


# --- gunicorn ------------------------------------------------------------------------------


ACCESS_FORMAT = '%(p)s %(s)s %(L)s "%(r)s"'
_ACCESS_LINE = re.compile(r'^<?(\d+)>? (\d{3}) ([\d.]+) "(\S+) (\S+) ')


@dataclass
class AccessRecord:
    pid: int
    status: int
    seconds: float
    method: str
    path: str


@dataclass
class GunicornHost:
    """A running ``gunicorn 'plugin_host:create_app()'`` and what it logged."""

    base_url: str
    process: subprocess.Popen
    workers: int
    threads: int
    env: dict
    stderr_path: Path
    access_path: Path
    _stopped: bool = field(default=False, repr=False)

    def url(self, path: str) -> str:
        return self.base_url + path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def access(self) -> list[AccessRecord]:
        records = []
        for line in self.access_path.read_text(errors="replace").splitlines():
            match = _ACCESS_LINE.match(line)
            if match:
                records.append(AccessRecord(int(match[1]), int(match[2]), float(match[3]), match[4], match[5]))
        return records

    def worker_pids(self) -> set[int]:
        """The master's live children, from /proc."""
        pids = set()
        for status in glob.glob("/proc/[0-9]*/status"):
            try:
                text = Path(status).read_text()
            except OSError:
                continue
            match = re.search(r"^PPid:\s+(\d+)", text, re.M)
            if match and int(match[1]) == self.process.pid:
                pids.add(int(Path(status).parent.name))
        return pids

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            # SIGINT is gunicorn's quick shutdown: hanging requests are not waited for.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def _gunicorn_extra_args() -> list[str]:
    """gunicorn 25+ opens a control socket in ~/.gunicorn by default: one path for
    every instance, so concurrent test hosts would fight over it. Turn it off."""
    from gunicorn.config import KNOWN_SETTINGS

    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else []


def run_cli(env: dict, *args: str) -> str:
    result = subprocess.run([str(BIN / "connect-host"), *args], env=env, cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, f"connect-host {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def host_env(tmp_path: Path, *, database_url: str, redis_url: str, ca_bundle: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "CACHE_", "CONNECT_"))}
    env.pop("DATABASE_URL", None)
    env.update({
        "DATABASE_URL": database_url,
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": redis_url,
        "SECRET_KEY": "services-test-secret-key",
        "CONNECT_SECRET_KEYS": SECRET_KEYS,
        "CONNECT_CA_BUNDLE": ca_bundle,
        "CONNECT_ALLOWED_HOSTS": "127.0.0.1",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
        "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH,
    })
    env.update(extra)
    return env


def _spread_over_workers(host: GunicornHost, timeout: float = 20) -> None:
    """Wait until every worker has booted the app and answered /login."""

    def hit(_):
        try:
            requests.get(host.url("/login"), timeout=5)
        except requests.RequestException:
            pass

    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=2 * host.workers) as pool:
        while time.monotonic() < deadline:
            list(pool.map(hit, range(4 * host.workers)))
            if len({r.pid for r in host.access() if r.path == "/login"}) >= host.workers:
                return
    # Not fatal: the tests assert on what matters (upstream calls, statuses).


@pytest.fixture
def gunicorn_host(tmp_path, ca_bundle, postgres_url, redis_url):
    """Start ``gunicorn 'plugin_host:create_app()'``: ``gunicorn_host(workers=4, threads=16,
    cache_redis_url=..., **env)`` -> GunicornHost (stopped at the end of the test)."""
    started: list[GunicornHost] = []

    def start(*, workers: int = 4, threads: int = 16, cache_redis_url: str | None = None,
              gunicorn_args: tuple[str, ...] = (), **extra_env: str) -> GunicornHost:
        folder = tmp_path / f"gunicorn{len(started)}"
        folder.mkdir()
        env = host_env(folder, database_url=postgres_url, redis_url=cache_redis_url or redis_url,
                       ca_bundle=ca_bundle, **extra_env)
        first = not started
        if first:  # one database per test: migrate and create the users once
            run_cli(env, "db", "upgrade")
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda args: run_cli(env, *args), [
                    ("users", "create", "admin", "--password", ADMIN_AUTH[1], "--admin",
                     "--email", "admin@example.com", "--display-name", "Ada Admin"),
                    ("users", "create", "alice", "--password", ALICE_AUTH[1],
                     "--email", "alice@example.com", "--display-name", "Alice Doe"),
                ]))
        port = free_port()
        stderr_path, access_path = folder / "gunicorn.stderr", folder / "access.log"
        access_path.touch()
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                [str(BIN / "gunicorn"), "plugin_host:create_app()", "--workers", str(workers),
                 "--worker-class", "gthread", "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
                 "--access-logfile", str(access_path), "--access-logformat", ACCESS_FORMAT,
                 "--graceful-timeout", "1", "--timeout", "120", *_gunicorn_extra_args(), *gunicorn_args],
                env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
            )
        host = GunicornHost(f"http://127.0.0.1:{port}", process, workers, threads, env, stderr_path, access_path)
        started.append(host)

        def ready():
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited ({process.returncode}):\n{host.stderr()[-3000:]}")
            return requests.get(host.url("/login"), timeout=2).status_code == 200

        try:
            _wait_for(ready, 30, "gunicorn", interval=0.1)
        except TimeoutError:
            raise AssertionError(f"gunicorn did not answer /login:\n{host.stderr()[-8000:]}") from None
        _spread_over_workers(host)
        if first:  # alice's project: options without an issue are asked for one (project=DEMO)
            created = requests.post(host.url("/rest/api/2/project"), auth=ADMIN_AUTH, timeout=10,
                                    json={"key": "DEMO", "name": "Demo", "members": ["alice"]})
            assert created.status_code == 201, created.text
        return host

    yield start
    for host in started:
        host.stop()


# --- plain HTTP helpers against a running host ----------------------------------------------


def api(host: GunicornHost, method: str, path: str, *, auth=ADMIN_AUTH, timeout: float = 30, **kwargs):
    """One request on a fresh connection (so the kernel may hand it to any worker).
    ``auth`` is a (user, password) pair for HTTP Basic, or a cookie jar from
    ``browser_login`` (as a browser's field calls the options endpoint)."""
    if isinstance(auth, tuple):
        kwargs["auth"] = auth
    else:
        kwargs["cookies"] = auth
    return requests.request(method, host.url(path), timeout=timeout, headers={"Connection": "close"}, **kwargs)


def browser_login(host: GunicornHost, username: str, password: str):
    """Log in through the form; the session cookie (signed with the shared SECRET_KEY)
    is good on every worker. Returns the cookie jar."""
    from tests.conftest import csrf_from

    with requests.Session() as browser:
        page = browser.get(host.url("/login"), timeout=10)
        response = browser.post(host.url("/login"), timeout=10, allow_redirects=False, data={
            "username": username, "password": password, "csrf_token": csrf_from(page.text)})
        assert response.status_code == 302, response.text
        return browser.cookies.copy()


def in_threads(count: int, target, *, threads: int | None = None) -> list:
    """Run ``target(i)`` for i in range(count) on ``threads`` threads; the results in order."""
    with ThreadPoolExecutor(max_workers=threads or count) as pool:
        return list(pool.map(target, range(count)))

