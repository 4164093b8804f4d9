"""The processes of one benchmark run: upstream, optional Redis, the host under gunicorn.

Everything listens on 127.0.0.1 on ephemeral ports and lives in one temporary
folder (SQLite database, instance folder, TLS files); :class:`Stack` stops every
process it started (by its own pid) when the run ends.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # the 100k-row answer is about 16 MB


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def _die_with_parent() -> None:
    """In a child before exec: SIGTERM when the bench process dies (Linux), so a
    killed run leaves no gunicorn or redis-server behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def direct_session(ca_file: str | None = None) -> requests.Session:
    """A requests session that ignores the environment (no proxies; REQUESTS_CA_BUNDLE
    would otherwise replace ``verify``) and trusts ``ca_file`` when given."""
    http = requests.Session()
    http.trust_env = False
    if ca_file:
        http.verify = ca_file
    return http


def wait_for_port(port: int, seconds: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {seconds:g} s")


def _stop(proc: subprocess.Popen | None, sig_timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(sig_timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in KiB."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return sorted(set(found))


@dataclass
class Gunicorn:
    proc: subprocess.Popen
    port: int
    workers: int
    threads: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class Stack:
    quick: bool = False
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="connect-bench-")))
    upstream_proc: subprocess.Popen | None = None
    upstream_port: int = 0
    redis_proc: subprocess.Popen | None = None
    redis_port: int = 0
    servers: list[Gunicorn] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    # -- lifecycle -------------------------------------------------------------

    def start_upstream(self, prebuild: tuple[int, ...]) -> None:
        from plugin_host.demo.certs import ensure_certs

        certs = ensure_certs(self.tmp / "tls")
        self.ca_file = str(certs.ca)
        self.upstream_proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.upstream", "--cert-dir", str(self.tmp / "tls"),
             "--prebuild", ",".join(map(str, prebuild))],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent,
        )
        line = self.upstream_proc.stdout.readline()
        match = re.match(r"LISTENING (\d+)", line or "")
        if not match:
            raise RuntimeError(f"the upstream did not start: {line!r}")
        self.upstream_port = int(match.group(1))
        self.upstream = direct_session(self.ca_file)

    @property
    def upstream_base(self) -> str:
        return f"https://{HOST}:{self.upstream_port}"

    def upstream_stats(self) -> dict[str, int]:
        return self.upstream.get(self.upstream_base + "/__stats", timeout=10).json()

    def upstream_reset(self) -> None:
        self.upstream.get(self.upstream_base + "/__reset", timeout=10)

    def start_redis(self) -> bool:
        exe = shutil.which("redis-server")
        if not exe:
            return False
        self.redis_port = free_port()
        self.redis_proc = subprocess.Popen(
            [exe, "--bind", HOST, "--port", str(self.redis_port), "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
        )
        wait_for_port(self.redis_port, 10, self.redis_proc)
        return True

    def prepare(self) -> None:
        """Environment, migrations and users, before any server starts."""
        self.env = {
            **os.environ,
            "INSTANCE_PATH": str(self.tmp / "instance"),
            "DATABASE_URL": f"sqlite:///{self.tmp / 'connect.db'}",
            "SECRET_KEY": "bench-secret-key",
            "CONNECT_SECRET_KEYS": Fernet.generate_key().decode(),
            "CONNECT_CA_BUNDLE": self.ca_file,
            "CONNECT_ALLOWED_HOSTS": HOST,
            "CONNECT_MAX_RESPONSE_BYTES": str(MAX_RESPONSE_BYTES),
            "CACHE_TYPE": "SimpleCache",
            "PYTHONPATH": str(ROOT),
        }
        for key in ("CACHE_REDIS_URL", "CONNECT_BUSY_WAIT_SECONDS"):
            self.env.pop(key, None)
        cli = _bin("connect-host")
        run = dict(cwd=ROOT, env=self.env, check=True, capture_output=True, text=True)
        subprocess.run([cli, "db", "upgrade"], **run)
        subprocess.run([cli, "users", "create", "admin", "--password", "admin-pw", "--admin",
                        "--email", "admin@example.com"], **run)
        subprocess.run([cli, "users", "create", "alice", "--password", "alice-pw",
                        "--email", "alice@example.com", "--display-name", "Alice Doe"], **run)

    def start_gunicorn(self, *, workers: int = 2, threads: int = 8, cache: str = "simple",
                       extra_env: dict[str, str] | None = None) -> Gunicorn:
        port = free_port()
        env = dict(self.env)
        if cache == "redis":
            env["CACHE_TYPE"] = "RedisCache"
            env["CACHE_REDIS_URL"] = f"redis://{HOST}:{self.redis_port}/0"
        env.update(extra_env or {})
        log = self.tmp / f"gunicorn-{port}.log"
        proc = subprocess.Popen(
            [_bin("gunicorn"), "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
             "--bind", f"{HOST}:{port}", "--keep-alive", "30", "--timeout", "120", "--graceful-timeout", "5",
             "--log-level", "warning", "benchmarks.bench_app:create_app()"],
            cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        wait_for_port(port, 60, proc)
        server = Gunicorn(proc, port, workers, threads, log)
        deadline = time.monotonic() + 60
        while len(server.worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        # Every worker must have imported the app before anything is measured.
        for _ in range(20):
            try:
                direct_session().get(server.base + "/login", timeout=30)
            except requests.RequestException:
                time.sleep(0.2)
        self.servers.append(server)
        return server

    def stop_gunicorn(self, server: Gunicorn) -> None:
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def close(self) -> None:
        for server in list(self.servers):
            server.stop()
        self.servers.clear()
        if self.upstream_proc is not None:
            try:
                self.upstream_proc.stdin.close()
            except OSError:
                pass
            try:
                self.upstream_proc.wait(10)
            except subprocess.TimeoutExpired:
                _stop(self.upstream_proc)
        _stop(self.redis_proc)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- the app's own API -----------------------------------------------------------------

ADMIN = ("admin", "admin-pw")


class Api:
    """Set-up and cache clearing through the product's REST API (HTTP Basic, admin)."""

    def __init__(self, base: str, auth: tuple[str, str] = ADMIN):
        self.base = base
        self.http = direct_session()
        self.http.auth = auth

    def call(self, method: str, path: str, body: dict) -> dict:
        response = self.http.request(method, self.base + path, json=body, timeout=60)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        return response.json()

    def post(self, path: str, body: dict) -> dict:
        return self.call("POST", path, body)

    def patch_datasource(self, datasource_id: int, config: dict) -> dict:
        return self.call("PATCH", f"/plugins/connect/api/datasources/{datasource_id}", {"config": config})

    def datasource(self, name: str, base_url: str, **config) -> int:
        return self.post("/plugins/connect/api/datasources", {
            "name": name, "type": "rest", "config": {"base_url": base_url, **config}, "auth": {"mode": "none"},
        })["id"]

    def item(self, name: str, datasource_id: int, query: str, *, path: str = "$.items[*]",
             value: str = "${row.id}", label: str = "${row.name} (${row.serial})") -> int:
        return self.post("/plugins/connect/api/items", {
            "name": name, "datasource_id": datasource_id, "editor": "select", "query": query,
            "options": {"path": path, "value": value, "label": label},
        })["id"]

    def clear(self, datasource_id: int) -> None:
        self.post(f"/plugins/connect/api/datasources/{datasource_id}/cache/clear", {})


def session_cookie(base: str, username: str, password: str) -> str:
    """Log in through the form (GET /login, read csrf_token, POST) and return the
    ``Cookie`` header value of the session."""
    http = direct_session()
    page = http.get(base + "/login", timeout=30)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    if not match:
        raise RuntimeError("no csrf_token on the login page")
    response = http.post(base + "/login", data={"username": username, "password": password,
                                                "csrf_token": match.group(1)}, allow_redirects=False, timeout=30)
    if response.status_code != 302:
        raise RuntimeError(f"login failed: {response.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
