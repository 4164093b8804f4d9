"""Faults: what the host does when an upstream, the cache or the database misbehaves.

Each upstream fault (down, slow, dripping, oversized, gzip bomb, invalid JSON, 500,
redirect loop, untrusted certificate) is met through the options endpoint AND the
datasource's Test connection, against loopback servers from
``tests/support/https_servers.py``. For each:

* the answer is one clear sentence naming the datasource and the cause, with the
  contract's status (502, 504 for a timeout); Test connection says ``ok: false``;
* while the faulty call runs, the host still serves ``/login`` and another
  datasource's options;
* nothing is cached: once the upstream is healthy again, the same options call
  reaches it (``cached: false``), and only then is the answer cached.

Redis unreachable from the start and a database briefly locked by another writer
are here too. Redis going away and coming back under gunicorn workers is covered by
``tests/services/test_workers.py::test_options_survive_a_redis_outage_and_use_redis_again``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.conftest import ADMIN, make_datasource, make_item
from tests.support.https_servers import (
    Drip,
    GzipBomb,
    HTTPSServer,
    Huge,
    Json,
    Redirect,
    Reply,
    Sleep,
    free_port,
    make_ca,
)

ASSETS = {"items": [{"id": "A-1", "name": "MacBook Pro"}, {"id": "A-2", "name": "ThinkPad X1"}]}
MAX_BYTES = 64 * 1024
TIMEOUT = 1  # seconds, the smallest a datasource accepts


@dataclass
class Fault:
    """What the faulty upstream does to /api/assets and /api/health, the status
    the options endpoint answers with, and words the error sentence must hold."""

    behaviour: Callable[[HTTPSServer], object] | None  # None: the server is not there, or untrusted
    status: int
    words: tuple[str, ...]
    test_fails: bool = True  # Test connection only asks for a 2xx answer; it does not read JSON


FAULTS = {
    "down": Fault(None, 502, ("refused",)),
    "slow": Fault(lambda server: Sleep(3, Json(ASSETS)), 504, ("did not answer within 1 s",)),
    "dripping": Fault(lambda server: Drip(b'{"items": []}' + b" " * 200, interval=0.05), 504,
                      ("did not answer within 1 s",)),
    "oversized": Fault(lambda server: Huge(4 * MAX_BYTES, headers={"Content-Type": "application/json"}), 502,
                       ("larger than 64 KiB",)),
    "oversized_chunked": Fault(lambda server: Huge(4 * MAX_BYTES, chunked=True), 502, ("larger than 64 KiB",)),
    "gzip_bomb": Fault(lambda server: GzipBomb(50 * MAX_BYTES), 502, ("larger than 64 KiB",)),
    "invalid_json": Fault(lambda server: Reply(200, {"Content-Type": "application/json"}, b'{"items": [{"id"'),
                          502, ("JSON",), test_fails=False),
    "http_500": Fault(lambda server: Reply(500, {"Content-Type": "text/plain"}, b"database exploded"), 502,
                      ("500",)),
    "redirect_loop": Fault(lambda server: Redirect(server.url("/api/loop")), 502, ("redirect",)),
    "bad_certificate": Fault(None, 502, ("certificate", "not trusted")),
}


class SwitchableUpstream:
    """The faulty datasource's upstream, on a fixed loopback port: faulty first,
    then healthy (for ``down`` and ``bad_certificate`` a trusted server takes over
    the port)."""

    def __init__(self, name: str, ca):
        self.name, self.ca = name, ca
        self.healthy = False
        self.port = free_port()
        self.server: HTTPSServer | None = None
        fault = FAULTS[name]
        if name == "bad_certificate":
            self.server = HTTPSServer(make_ca(), self._routes(), port=self.port).start()
        elif fault.behaviour is not None:
            self.server = HTTPSServer(ca, self._routes(), port=self.port).start()

    def _routes(self) -> dict:
        def answer(request):
            if self.healthy:
                return Json(ASSETS)
            return FAULTS[self.name].behaviour(self.server)

        return {"/api/assets": answer, "/api/health": answer, "/api/loop": lambda r: Redirect(self.url("/api/loop"))}

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def heal(self) -> None:
        self.healthy = True
        if self.name in ("down", "bad_certificate"):
            if self.server is not None:
                self.server.stop()
            self.server = HTTPSServer(self.ca, self._routes(), port=self.port).start()

    @property
    def calls(self) -> int:
        return len(self.server.requests) if self.server else 0

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(scope="module")
def host(make_world):
    """The host with a small size cap; its world's datasource and item stay healthy."""
    world = make_world(CONNECT_MAX_RESPONSE_BYTES=MAX_BYTES)
    item = world.app.test_client().get(f"/plugins/connect/api/items/{world.item_id}", headers=ADMIN).json
    return world, item


def make_faulty(world, url: str, n: str) -> tuple[dict, dict]:
    admin = world.session("admin")
    ds = admin.post("/plugins/connect/api/datasources", json={
        "name": f"Flaky API {n}", "type": "rest", "auth": {"mode": "none"},
        "config": {"base_url": url + "/api", "health_check_url": url + "/api/health", "timeout_seconds": TIMEOUT}})
    assert ds.status_code == 201, ds.json
    item = admin.post("/plugins/connect/api/items", json={
        "name": f"Flaky {n}", "datasource_id": ds.json["id"], "editor": "select", "query": "/assets",
        "options": {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}"}})
    assert item.status_code == 201, item.json
    return ds.json, item.json


def one_sentence(text: str) -> bool:
    return bool(text) and "\n" not in text and "Traceback" not in text and len(text) < 400


def assert_host_serves(world, healthy_item) -> None:
    started = time.monotonic()
    assert world.app.test_client().get("/login").status_code == 200
    other = world.session("member").get(f"/plugins/connect/api/items/{healthy_item['id']}/options?issue=DEMO-1")
    assert other.status_code == 200 and other.json["total"] == 2
    assert time.monotonic() - started < 1.5, "the host answered others at once"


@pytest.mark.parametrize("name", list(FAULTS))
def test_upstream_fault(host, ca, name, caplog):
    world, healthy_item = host
    fault = FAULTS[name]
    faulty = SwitchableUpstream(name, ca)
    try:
        admin, member = world.session("admin"), world.session("member")
        ds, item = make_faulty(world, faulty.url(""), name)
        options_url = f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1"

        # The faulty call runs while the host keeps serving others.
        with ThreadPoolExecutor(max_workers=1) as pool, caplog.at_level("WARNING", "connect_plugin.upstream"):
            pending = pool.submit(lambda: world.session("member").get(options_url))
            time.sleep(0.1)
            assert_host_serves(world, healthy_item)
            response = pending.result(timeout=15)
        assert response.status_code == fault.status, response.get_data(as_text=True)
        # The member learns that it failed and a reference; the admin's detail is in the log.
        error = response.json["error"]
        assert one_sentence(error) and response.json["reference"] in error, error
        assert ds["name"] not in error and "127.0.0.1" not in error, error
        logged = [r.getMessage() for r in caplog.records if response.json["reference"] in r.getMessage()]
        assert logged, "the detail is logged under the reference"
        detail = logged[0].split(": ", 1)[1]
        assert ds["name"] in detail, detail
        for word in fault.words:
            assert word in detail, detail

        tested = admin.post(f"/plugins/connect/api/datasources/{ds['id']}/test")
        assert tested.status_code == 200 and tested.json["ok"] is not fault.test_fails, tested.json
        if fault.test_fails:
            assert one_sentence(tested.json["error"]) and all(w in tested.json["error"] for w in fault.words)
        if name == "http_500":
            assert tested.json["status"] == 500
            # The page's Test connection says the same in its banner.
            page = admin.post(f"/plugins/connect/admin/datasources/{ds['id']}/test")
            assert page.status_code == 200 and f"Connection failed: {ds['name']}" in page.get_data(as_text=True)
        assert_host_serves(world, healthy_item)

        # Nothing was cached: the healthy upstream is asked, then its answer is cached.
        faulty.heal()
        before = faulty.calls
        healed = member.get(options_url)
        assert healed.status_code == 200, healed.get_data(as_text=True)
        assert healed.json["cached"] is False and healed.json["total"] == 2
        assert faulty.calls == before + 1
        again = member.get(options_url)
        assert again.json["cached"] is True and faulty.calls == before + 1
        assert admin.post(f"/plugins/connect/api/datasources/{ds['id']}/test").json["ok"] is True
    finally:
        faulty.stop()


def test_a_failed_answer_is_not_cached_for_the_issue_check_either(host, ca):
    """PUT /rest/api/2/issue checks a value against the options: an upstream failure
    there is a 502 that changes nothing, and the next PUT asks the upstream again."""
    world, _healthy_item = host
    faulty = SwitchableUpstream("http_500", ca)
    try:
        member = world.session("member")
        _ds, item = make_faulty(world, faulty.url(""), "issue check")
        key = f"connected_item_{item['id']}"
        failed = member.put("/rest/api/2/issue/DEMO-1", json={"fields": {key: "A-1", "summary": "X"}})
        assert failed.status_code == 502 and one_sentence(failed.json["error"])
        fields = member.get("/rest/api/2/issue/DEMO-1").json["fields"]
        assert fields["summary"] != "X" and key not in fields
        faulty.heal()
        assert member.put("/rest/api/2/issue/DEMO-1", json={"fields": {key: "A-1"}}).status_code == 204
        assert member.get("/rest/api/2/issue/DEMO-1").json["fields"][key] == {"value": "A-1", "label": "MacBook Pro"}
    finally:
        faulty.stop()


def test_redis_unreachable_from_the_start(make_app, upstream):
    """A Redis that is not there: options come by direct calls, Test connection works,
    pages and the API keep answering, one warning says why."""
    import logging

    pytest.importorskip("redis")
    from tests.conftest import create_user

    port = free_port()  # nothing listens there
    app = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    create_user(app, "admin", "admin-pw", admin=True)
    upstream.route("/api/assets", Json(ASSETS))
    upstream.route("/api/health", Json({"ok": True}))
    client = app.test_client()
    ds = make_datasource(client, upstream.url("/api"), health_check_url=upstream.url("/api/health"))
    item = make_item(client, ds["id"])
    assert client.post("/rest/api/2/project", headers=ADMIN, json={"key": "DEMO", "name": "Demo"}).status_code == 201
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("connect_plugin").addHandler(handler)
    try:
        started = time.monotonic()
        for _ in range(3):
            response = client.get(f"/plugins/connect/api/items/{item['id']}/options?project=DEMO", headers=ADMIN)
            assert response.status_code == 200 and response.json["total"] == 2
        assert time.monotonic() - started < 3
        assert client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN).json["ok"] is True
        assert client.post(f"/plugins/connect/api/datasources/{ds['id']}/cache/clear", headers=ADMIN).status_code \
            == 200
        assert client.get("/login").status_code == 200
    finally:
        logging.getLogger("connect_plugin").removeHandler(handler)
    warnings = [r for r in records if r.levelno == logging.WARNING and "cache unavailable" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in records]


def _hold_write_lock(path: str, seconds: float, held: threading.Event) -> None:
    connection = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()


def test_a_briefly_locked_database_makes_writes_wait_not_fail(host):
    """Another writer holds the SQLite file for about a second: API writes of the
    plugin and of the host wait and succeed (never a 500 page), reads go on."""
    world, healthy_item = host
    app = world.app
    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    held = threading.Event()
    locker = threading.Thread(target=_hold_write_lock, args=(path, 1.0, held))
    locker.start()
    assert held.wait(5)
    ds_url = f"/plugins/connect/api/datasources/{healthy_item['datasource_id']}"
    writes = {
        "patch datasource": lambda: world.session("admin").patch(ds_url, json={"config": {"cache_ttl_seconds": 61}}),
        "create item": lambda: world.session("admin").post("/plugins/connect/api/items", json={
            "name": "Written while locked", "datasource_id": healthy_item["datasource_id"], "editor": "select",
            "query": "/assets"}),
        "edit issue": lambda: world.session("member").put("/rest/api/2/issue/DEMO-1",
                                                          json={"fields": {"summary": "Written while locked"}}),
    }
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(writes)) as pool:
        futures = {name: pool.submit(call) for name, call in writes.items()}
        read = world.session("admin").get("/plugins/connect/api/datasources")
        results = {name: future.result(timeout=30) for name, future in futures.items()}
    locker.join()
    assert read.status_code == 200
    for name, response in results.items():
        assert 200 <= response.status_code < 300, (name, response.status_code, response.get_data(as_text=True)[:300])
    assert {name: response.status_code for name, response in results.items()} == {
        "patch datasource": 200, "create item": 201, "edit issue": 204}
    assert time.monotonic() - started >= 0.5, "the writes waited for the lock"
    member = world.session("member")
    assert member.get("/rest/api/2/issue/DEMO-1").json["fields"]["summary"] == "Written while locked"
    assert world.session("admin").get(ds_url).json["config"]["cache_ttl_seconds"] == 61
