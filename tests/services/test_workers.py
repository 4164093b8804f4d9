"""The plugin's promises with several gunicorn workers, Redis and PostgreSQL.

Every test here drives real processes: ``gunicorn 'plugin_host:create_app()'`` with
gthread workers, a real redis-server and a real PostgreSQL, exactly as the README's
production recipe runs them, and an HTTPS upstream on loopback that counts its calls.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import ADMIN, ALICE, create_user, make_datasource, make_item
from tests.services.conftest import (
    ALICE_AUTH,
    api,
    browser_login,
    host_env,
    in_threads,
    postgres_connections,
    run_cli,
)
from tests.support.https_servers import Json, Sleep

pytestmark = pytest.mark.services

ASSETS = [{"id": "A-1", "name": "MacBook Pro"}, {"id": "A-2", "name": "ThinkPad X1"},
          {"id": "A-3", "name": "Dell Monitor"}]
EXPECTED = [{"value": "A-1", "label": "MacBook Pro"}, {"value": "A-2", "label": "ThinkPad X1"},
            {"value": "A-3", "label": "Dell Monitor"}]


class Counter:
    """Upstream handler that counts its calls (thread-safe) and answers after ``delay``."""

    def __init__(self, delay: float = 0.0, rows=ASSETS):
        self.delay = delay
        self.rows = rows
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self, request):
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        return Json({"items": self.rows})


def create_datasource(host, base_url: str, name: str = "Assets API", **config) -> dict:
    response = api(host, "POST", "/plugins/connect/api/datasources", json={
        "name": name, "type": "rest", "config": {"base_url": base_url, **config}, "auth": {"mode": "none"}})
    assert response.status_code == 201, response.text
    return response.json()


def create_item(host, datasource_id: int, **fields) -> dict:
    body = {"name": "Asset", "datasource_id": datasource_id, "editor": "select", "query": "/assets",
            "options": {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}"}}
    body.update(fields)
    response = api(host, "POST", "/plugins/connect/api/items", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def options_path(item_id: int, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/plugins/connect/api/items/{item_id}/options" + (f"?{query}" if query else "")


_LOGIN_LOCK = threading.Lock()


def get_options(host, item_id: int, timeout: float = 30, **params) -> requests.Response:
    """As alice's browser asks on a create screen of her project DEMO (unless an
    issue is given): with her session cookie (logged in once per host)."""
    if "issue" not in params:
        params = {"project": "DEMO", **params}
    with _LOGIN_LOCK:
        if not hasattr(host, "alice"):
            host.alice = browser_login(host, *ALICE_AUTH)
    return api(host, "GET", options_path(item_id, **params), auth=host.alice, timeout=timeout)


# --- (1) shared cache over 4 workers ---------------------------------------------------------


def test_40_requests_over_4_workers_make_one_upstream_call(gunicorn_host, upstream):
    counter = Counter(delay=0.3)
    upstream.route("/api/assets", counter)
    # 16 threads: the 8 concurrent callers of one datasource fit in its share of any
    # one worker (half of its threads in flight, and waiters), wherever they land.
    host = gunicorn_host(workers=4, threads=16)
    ds = create_datasource(host, upstream.url("/api"))
    item = create_item(host, ds["id"])

    responses = in_threads(40, lambda _i: get_options(host, item["id"]), threads=8)

    assert [r.status_code for r in responses] == [200] * 40, [r.text for r in responses if r.status_code != 200]
    assert all(r.json()["options"] == EXPECTED for r in responses)
    assert counter.calls == 1
    assert sum(1 for r in responses if r.json()["cached"] is False) == 1
    served_by = {rec.pid for rec in host.access() if rec.path.startswith(options_path(item["id"]))}
    workers = host.worker_pids()
    print(f"\n40 requests: upstream calls {counter.calls}, served by {len(served_by)} of {len(workers)} workers")
    assert served_by <= workers and len(workers) == 4
    assert len(served_by) >= 2, f"the requests should spread over the workers, served by {served_by}"


# --- (2) single flight across processes --------------------------------------------------------


def test_24_concurrent_cold_requests_make_one_upstream_call(gunicorn_host, upstream):
    """Two nodes (two gunicorn masters on one Redis and one database), two workers
    each: half the cold requests go to each node, so at least two processes are sure
    to miss at the same moment."""
    counter = Counter(delay=1.0)
    upstream.route("/api/assets", counter)
    # 16 threads: a node's 12 callers fit in one datasource's share of a worker (8 in flight, 4 waiting).
    nodes = [gunicorn_host(workers=2, threads=16), gunicorn_host(workers=2, threads=16)]
    ds = create_datasource(nodes[0], upstream.url("/api"))
    item = create_item(nodes[0], ds["id"])
    for node in nodes:
        node.alice = browser_login(node, *ALICE_AUTH)  # before the race, not during it
    barrier = threading.Barrier(24)

    def cold(i):
        node = nodes[i % 2]
        barrier.wait()
        started = time.monotonic()
        response = get_options(node, item["id"])
        return response, time.monotonic() - started

    results = in_threads(24, cold)

    assert [r.status_code for r, _ in results] == [200] * 24, [r.text for r, _ in results]
    assert all(r.json()["options"] == EXPECTED for r, _ in results)
    assert counter.calls == 1
    assert sum(1 for r, _ in results if r.json()["cached"] is False) == 1
    slowest = max(seconds for _, seconds in results)
    served_by = {rec.pid for node in nodes for rec in node.access()
                 if rec.path.startswith(options_path(item["id"]))}
    print(f"\n24 cold requests: upstream calls {counter.calls}, served by {len(served_by)} workers "
          f"on 2 nodes, slowest {slowest:.2f}s")
    assert len(served_by) >= 2
    assert slowest < 5, "the waiters get the one answer as soon as it is there"


# --- (3) isolation: a hanging datasource --------------------------------------------------------


def _fire_at_hanging(host, item_id: int, count: int, *, distinct: bool, client_timeout: float):
    """Start ``count`` background requests; returns (threads, results list)."""
    results: list = [None] * count

    def one(i):
        started = time.monotonic()
        params = {"q": f"k{i}"} if distinct else {}
        try:
            response = get_options(host, item_id, timeout=client_timeout, **params)
            results[i] = (response.status_code, response.json(), time.monotonic() - started)
        except requests.RequestException as exc:
            results[i] = ("hanging", type(exc).__name__, time.monotonic() - started)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def _waiters_take_slots() -> bool:
    """Whether the options code passes the datasource's in-flight slot to the cache as
    its ``gate``, so that callers waiting for another caller's call count too."""
    import inspect

    from connect_plugin.connected_items import options

    return "gate=" in inspect.getsource(options)


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize("distinct", [
    pytest.param(True, id="40-distinct-queries"),
    # Not run until the options code gates the waiters (it would spend ~20 s showing
    # what the reason says: no 503, and a worker full of waiters now and then).
    pytest.param(False, id="40-same-query", marks=pytest.mark.xfail(
        not _waiters_take_slots(), run=False,
        reason="connect_plugin/connected_items/options.py does not pass the datasource's in-flight slot to "
               "ResponseCache.get_or_load(gate=...): callers waiting for one hanging call are not "
               "limited, so they can fill a worker's threads and get no 503")),
])
def test_a_hanging_datasource_cannot_starve_the_others(gunicorn_host, upstream, distinct):
    hang = {"calls": 0}
    lock = threading.Lock()

    def hanging(request):
        with lock:
            hang["calls"] += 1
        return Sleep(60)  # longer than the test; ends when the upstream stops

    upstream.route("/a/hang", hanging)
    upstream.route("/b/people", Counter())
    host = gunicorn_host(workers=4, threads=16)
    slow_ds = create_datasource(host, upstream.url("/a"), name="Assets API")  # max_concurrent_calls: default
    other_ds = create_datasource(host, upstream.url("/b"), name="People API")
    assert slow_ds["config"].get("max_concurrent_calls", 8) == 8
    slow = create_item(host, slow_ds["id"], name="Hanging", editor="autocomplete", query="/hang?q=$userInput")
    other = create_item(host, other_ds["id"], name="Person", query="/people")
    assert get_options(host, other["id"]).status_code == 200  # cached now: what B needs is threads

    threads, results = _fire_at_hanging(host, slow["id"], 40, distinct=distinct, client_timeout=6)
    time.sleep(1.0)  # the 40 requests are in the workers, their calls hanging

    # While the wave is fresh, and again once it has settled: each on a new
    # connection, so that every worker is likely to be asked.
    samples = []
    for _round in range(2):
        for _ in range(4):
            samples.append(("options", *_timed(lambda: get_options(host, other["id"], timeout=5))))
            samples.append(("/login", *_timed(lambda: requests.get(host.url("/login"), timeout=5))))
        database_connections = postgres_connections(host.env["DATABASE_URL"])
        if _round == 0:
            for thread in threads:
                thread.join(10)
    statuses = [r[0] for r in results]
    busy = [r for r in results if r[0] == 503]
    hanging_requests = [r for r in results if r[0] == "hanging"]
    print(f"\n[{'distinct' if distinct else 'same'} queries] slowest other-datasource answer "
          f"{max(t for k, _, t in samples if k == 'options'):.2f}s, slowest /login "
          f"{max(t for k, _, t in samples if k == '/login'):.2f}s; upstream calls to the hanging API: "
          f"{hang['calls']}; 503 busy: {len(busy)} (after {max([r[2] for r in busy] or [0]):.1f}s at most); "
          f"hanging at 6 s: {len(hanging_requests)}; PostgreSQL connections: {database_connections}")

    for kind, response, seconds in samples:
        assert response.status_code == 200, (kind, response.text)
        assert seconds < 3, f"{kind} answered after {seconds:.1f} s"
    assert all(response.json()["options"] == EXPECTED for kind, response, _ in samples if kind == "options")
    assert set(statuses) <= {503, "hanging"}, statuses
    # Each worker lets at most 8 calls (the default limit) reach the hanging API.
    assert hang["calls"] <= 4 * 8
    if not distinct:
        assert hang["calls"] == 1, "one evaluated query: one call, whatever the number of waiters"
    assert busy, "requests beyond the limit get 503"
    for _status, body, seconds in busy:
        assert body["error"].startswith("The external system is busy"), body  # a member: no detail
        assert seconds < 5
    # At most 8 callers per worker hold a thread for the hanging API, waiters included.
    assert len(hanging_requests) <= 4 * 8
    if distinct:
        assert len(busy) >= 40 - 4 * 8


# --- (4) Redis goes away and comes back ----------------------------------------------------------


def test_options_survive_a_redis_outage_and_use_redis_again(gunicorn_host, upstream, private_redis):
    import redis

    counter = Counter()
    upstream.route("/api/assets", counter)
    host = gunicorn_host(workers=1, threads=8, cache_redis_url=private_redis.url(0))
    ds = create_datasource(host, upstream.url("/api"))
    item = create_item(host, ds["id"], editor="autocomplete", query="/assets?q=$userInput")
    cache = redis.Redis.from_url(private_redis.url(0))

    first, second = get_options(host, item["id"], q="before"), get_options(host, item["id"], q="before")
    assert (first.status_code, first.json()["cached"]) == (200, False)
    assert (second.status_code, second.json()["cached"]) == (200, True)
    assert counter.calls == 1 and cache.keys("connect:opt:*")

    private_redis.stop()
    down = []
    for i in range(6):
        started = time.monotonic()
        response = get_options(host, item["id"], q=f"down{i}", timeout=10)
        down.append((response.status_code, response.json().get("cached"), time.monotonic() - started))
    print(f"\nwhile Redis is down: {down}")
    assert [status for status, _, _ in down] == [200] * 6
    assert [cached for _, cached, _ in down] == [False] * 6
    assert counter.calls == 1 + 6, "direct calls while Redis is down"
    assert max(seconds for _, _, seconds in down) < 2, "an unreachable Redis must cost little"
    warnings = [line for line in host.stderr().splitlines() if "cache unavailable" in line.lower()]
    assert len(warnings) == 1, host.stderr()[-3000:]
    assert "Traceback" not in host.stderr()

    private_redis.start()
    restarted = time.monotonic()
    cache = redis.Redis.from_url(private_redis.url(0))
    assert not cache.keys("connect:*"), "a fresh redis-server, nothing cached"
    # The plugin leaves a failed Redis alone for a moment, then uses it again.
    n = 0
    while not cache.keys("connect:opt:*"):
        assert time.monotonic() - restarted < 10, "the plugin should use Redis again once it is back"
        n += 1
        response = get_options(host, item["id"], q=f"after{n}", timeout=10)
        assert (response.status_code, response.json()["cached"]) == (200, False)
        time.sleep(0.2)
    print(f"Redis used again {time.monotonic() - restarted:.1f}s after its restart")
    again = get_options(host, item["id"], q=f"after{n}", timeout=10)
    assert (again.status_code, again.json()["cached"]) == (200, True)
    assert counter.calls == 1 + 6 + n
    warnings = [line for line in host.stderr().splitlines() if "cache unavailable" in line.lower()]
    assert len(warnings) == 1


# --- (5) PostgreSQL: migrations and every API --------------------------------------------------------


def test_db_upgrade_is_idempotent_on_postgresql(postgres_url, redis_url, tmp_path, ca_bundle):
    from sqlalchemy import create_engine, inspect, text

    env = host_env(tmp_path, database_url=postgres_url, redis_url=redis_url, ca_bundle=ca_bundle)
    assert "up to date" in run_cli(env, "db", "upgrade")
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            versions = {t: conn.execute(text(f"SELECT version_num FROM {t}")).scalars().all()
                        for t in ("host_alembic_version", "connect_alembic_version")}
        assert all(len(v) == 1 for v in versions.values()), versions
        assert "up to date" in run_cli(env, "db", "upgrade")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == tables
            assert {t: conn.execute(text(f"SELECT version_num FROM {t}")).scalars().all()
                    for t in versions} == versions
    finally:
        engine.dispose()
    assert any(t.startswith("connect_") for t in tables) and {"host_alembic_version"} <= tables


def test_every_api_on_postgresql(make_app, postgres_url, upstream):
    upstream.route("/api/assets", Counter())
    upstream.route("/api/health", Json({"ok": True}))
    app = make_app(DATABASE_URL=postgres_url)
    assert app.extensions["connect"].db.engine.dialect.name == "postgresql"
    client = app.test_client()
    create_user(app, "admin", "admin-pw", admin=True, email="admin@example.com")
    create_user(app, "alice", "alice-pw", email="alice@example.com")

    # Host API (section 7): project, issue.
    assert client.post("/rest/api/2/project", headers=ADMIN,
                       json={"key": "DEMO", "name": "Demo", "members": ["alice"]}).status_code == 201
    created = client.post("/rest/api/2/issue", headers=ALICE,
                          json={"fields": {"project": {"key": "DEMO"}, "summary": "Laptop"}})
    assert created.status_code == 201 and created.json["key"] == "DEMO-1"

    # Datasources (section 5).
    types = client.get("/plugins/connect/api/datasource-types", headers=ADMIN)
    assert types.status_code == 200 and any(t["type"] == "rest" for t in types.json)
    ds = make_datasource(client, upstream.url("/api"), health_check_url=upstream.url("/api/health"),
                         auth={"mode": "basic", "username": "svc", "password": "s3cret-pw"})
    assert ds["auth"] == {"mode": "basic", "username": "svc", "password_set": True}
    assert [d["id"] for d in client.get("/plugins/connect/api/datasources", headers=ADMIN).json] == [ds["id"]]
    assert client.get(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN).json["name"] == "Assets API"
    patched = client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                           json={"config": {"cache_ttl_seconds": 120}, "auth": {"mode": "basic", "username": "svc2"}})
    assert patched.status_code == 200, patched.json
    assert patched.json["config"]["cache_ttl_seconds"] == 120 and patched.json["auth"]["password_set"] is True
    assert patched.json["config"]["base_url"] == upstream.url("/api")
    tested = client.post(f"/plugins/connect/api/datasources/{ds['id']}/test", headers=ADMIN)
    assert tested.status_code == 200 and tested.json["ok"] is True and tested.json["status"] == 200
    assert upstream.requests[-1].path == "/api/health"
    assert upstream.requests[-1].header("authorization", "").startswith("Basic ")
    clash = client.post("/plugins/connect/api/datasources", headers=ADMIN, json={
        "name": "assets api", "type": "rest", "config": {"base_url": upstream.url("/x")}, "auth": {"mode": "none"}})
    assert clash.status_code == 400 and "name" in clash.json["fields"]

    # Connected items.
    item = make_item(client, ds["id"])
    multi = make_item(client, ds["id"], name="Assets", editor="multiselect", projects=["DEMO"])
    assert {i["id"] for i in client.get("/plugins/connect/api/items", headers=ADMIN).json} == {item["id"], multi["id"]}
    assert client.get(f"/plugins/connect/api/items/{item['id']}", headers=ADMIN).json["name"] == "Asset"
    renamed = client.patch(f"/plugins/connect/api/items/{item['id']}", headers=ADMIN, json={"name": "Laptop"})
    assert renamed.status_code == 200 and renamed.json["name"] == "Laptop"

    # Options, cached, cache clear.
    first = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1", headers=ALICE)
    assert first.status_code == 200 and first.json == {"options": EXPECTED, "total": 3, "cached": False}
    again = client.get(f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1&q=mac", headers=ALICE)
    assert again.json == {"options": EXPECTED[:1], "total": 1, "cached": True}
    cleared = client.post(f"/plugins/connect/api/datasources/{ds['id']}/cache/clear", headers=ADMIN)
    assert cleared.status_code == 200 and cleared.json == {"ok": True}
    assert client.get(f"/plugins/connect/api/items/{item['id']}/options?project=DEMO",
                      headers=ALICE).json["cached"] is False

    # Issue update with connected values, read back.
    key = f"connected_item_{item['id']}"
    multi_key = f"connected_item_{multi['id']}"
    bad = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE, json={"fields": {key: "A-9"}})
    assert bad.status_code == 400 and key in bad.json["fields"]
    put = client.put("/rest/api/2/issue/DEMO-1", headers=ALICE,
                     json={"fields": {key: "A-2", multi_key: ["A-3", "A-1"], "summary": "Laptop 2"}})
    assert put.status_code == 204, put.json
    fields = client.get("/rest/api/2/issue/DEMO-1", headers=ALICE).json["fields"]
    assert fields["summary"] == "Laptop 2"
    assert fields[key] == {"value": "A-2", "label": "ThinkPad X1"}
    assert fields[multi_key] == [{"value": "A-3", "label": "Dell Monitor"}, {"value": "A-1", "label": "MacBook Pro"}]

    # Deletes: in use is a conflict; then items, then the datasource.
    in_use = client.delete(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN)
    assert in_use.status_code == 409 and "Laptop" in in_use.json["error"]
    assert client.delete(f"/plugins/connect/api/items/{multi['id']}", headers=ADMIN).status_code == 204
    assert client.delete(f"/plugins/connect/api/items/{item['id']}", headers=ADMIN).status_code == 204
    assert client.get(f"/plugins/connect/api/items/{item['id']}", headers=ADMIN).status_code == 404
    assert client.delete(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN).status_code == 204
    assert client.get("/plugins/connect/api/datasources", headers=ADMIN).json == []
    # The CLI's cache clear and secrets rotate run on PostgreSQL too.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["cache", "clear"]).exit_code == 0
    assert runner.invoke(args=["secrets", "rotate"]).exit_code == 0


# --- (6) the same mechanisms in one process, quickly ------------------------------------------


def _hold(limiter, datasource_id, limit, release: threading.Event, entered: threading.Event | None = None):
    def run():
        with limiter.slot(datasource_id, limit, "Assets API"):
            if entered:
                entered.set()
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_limiter_waits_briefly_refuses_crowds_and_stalls_at_once():
    from connect_plugin.errors import UpstreamBusy
    from connect_plugin.caching.call_limiter import CallLimiter

    limiter = CallLimiter(wait_seconds=0.4)
    release = threading.Event()
    holders = [_hold(limiter, 1, 2, release, entered := threading.Event()) for _ in range(2)]
    entered.wait(2)
    time.sleep(0.05)
    assert limiter.in_flight(1) == 2

    # A caller beyond the limit waits briefly, then is refused with a clear 503.
    started = time.monotonic()
    with pytest.raises(UpstreamBusy) as busy:
        with limiter.slot(1, 2, "Assets API"):
            pass
    assert 0.3 < time.monotonic() - started < 1.5
    assert busy.value.status == 503 and "Assets API is busy" in busy.value.message
    # Nothing moved for wait_seconds: the API hangs, so waiting would only hold a thread.
    started = time.monotonic()
    with pytest.raises(UpstreamBusy):
        with limiter.slot(1, 2, "Assets API"):
            pass
    assert time.monotonic() - started < 0.1
    # Another datasource is not affected, and a slot is re-entrant in its thread.
    with limiter.slot(2, 1, "People API"):
        with limiter.slot(2, 1, "People API"):
            assert limiter.in_flight(2) == 1
    release.set()
    for holder in holders:
        holder.join(2)
    assert limiter.in_flight(1) == 0


def test_limiter_hands_a_freed_slot_to_a_waiter_and_caps_the_waiters():
    from connect_plugin.errors import UpstreamBusy
    from connect_plugin.caching.call_limiter import CallLimiter

    limiter = CallLimiter(wait_seconds=2)
    release = threading.Event()
    holder = _hold(limiter, 1, 1, release, entered := threading.Event())
    entered.wait(2)
    got = []
    waiter = threading.Thread(target=lambda: got.append(_timed(lambda: limiter.slot(1, 1, "A").__enter__())[1]))
    waiter.start()
    time.sleep(0.2)
    # One waiter per slot at most: one more is refused at once.
    started = time.monotonic()
    with pytest.raises(UpstreamBusy):
        with limiter.slot(1, 1, "Assets API"):
            pass
    assert time.monotonic() - started < 0.1
    release.set()
    waiter.join(3)
    holder.join(2)
    assert got and got[0] < 1.5, "the freed slot went to the waiter"


def test_waiters_share_a_failed_call_instead_of_repeating_it():
    from connect_plugin.errors import UpstreamTimeout
    from connect_plugin.caching.single_flight import LocalFlights

    flights = LocalFlights()
    calls = []
    outcomes = []

    def caller(i):
        try:
            with flights.hold("k"):
                calls.append(i)
                time.sleep(0.3)
                raise UpstreamTimeout("Assets API did not answer within 1 s.")
        except UpstreamTimeout as exc:
            outcomes.append(exc.status)

    in_threads(6, caller)
    assert len(calls) == 1 and outcomes == [504] * 6
    in_threads(1, caller)  # a later caller calls again: failures are not kept
    assert len(calls) == 2


def test_cache_gate_counts_the_waiters_of_one_key():
    from flask import Flask

    from connect_plugin.errors import UpstreamBusy
    from connect_plugin.caching.call_limiter import CallLimiter
    from connect_plugin.caching.response_cache import ResponseCache

    cache = ResponseCache()
    cache.init_app(Flask(__name__))
    limiter = CallLimiter(wait_seconds=0.3)
    release = threading.Event()
    loads = []

    def load():
        loads.append(1)
        release.wait(5)
        return [("A-1", "MacBook Pro")]

    def ask(_i):
        try:
            answer, cached = cache.get_or_load("opt:1", 300, load, lock_seconds=5,
                                               gate=lambda: limiter.slot(1, 2, "Assets API"))
            return "cached" if cached else "loaded"
        except UpstreamBusy:
            return 503

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(ask, i) for i in range(6)]
        time.sleep(0.8)
        release.set()
        outcomes = sorted(str(f.result()) for f in futures)
    assert len(loads) == 1
    assert outcomes == ["503"] * 4 + ["cached", "loaded"]


def test_an_unreachable_redis_costs_little_and_warns_once(caplog):
    from flask import Flask

    from connect_plugin.caching.response_cache import ResponseCache
    from tests.support.https_servers import free_port

    app = Flask(__name__)
    app.config.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    cache = ResponseCache()
    cache.init_app(app)
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="connect_plugin.cache"):
        for i in range(20):
            answer, cached = cache.get_or_load(f"opt:{i}", 300, lambda: [("A-1", "x")], lock_seconds=5)
            assert (answer.options, cached) == ([("A-1", "x")], False)
    assert time.monotonic() - started < 2
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
