"""Per-datasource stats on SQLite without Redis (one process): what field loads
count, the API's answer, the chart and the health badges on the admin pages, that
a cache hit writes nothing, and that no secret reaches the stats.

The 4-worker Redis case is tests/services/test_stats_workers.py; the chart in a
browser without JavaScript, tests/browser/test_stats_chart.py.
"""

from __future__ import annotations

import random
import re
import threading
import time

import pytest
from sqlalchemy import event, select

from connect_plugin.stats import buckets
from connect_plugin.stats.buckets import BUCKET_SECONDS, bucket_of, latency_bin, percentile
from connect_plugin.stats.health import health
from connect_plugin.stats.recorder import MAX_PENDING, Batch, StatsRecorder
from connect_plugin.stats.tables import StatCounter, StatLast
from tests.conftest import ADMIN, ALICE, make_datasource, make_item, seed_people
from tests.support.https_servers import Json, Reply
from tests.test_metrics import ASSETS, options

STATS = "/plugins/connect/api/datasources/{}/stats"


@pytest.fixture
def host(make_app):
    app = make_app()
    seed_people(app)
    return app


@pytest.fixture
def api(host, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    client = host.test_client()
    return client, make_datasource(client, upstream.url("/api")), upstream


def away_from_a_bucket_edge(margin: float = 20.0) -> None:
    """Wait for the next 5-minute bucket when this one ends within ``margin`` seconds,
    so that calls a test makes together land in one bucket."""
    left = BUCKET_SECONDS - time.time() % BUCKET_SECONDS
    if left < margin:
        time.sleep(left + 0.1)


def stats(client, datasource_id, **params):
    response = client.get(STATS.format(datasource_id), headers=ADMIN, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


# --- what is counted -----------------------------------------------------------------------


def test_field_loads_count_calls_hits_misses_and_latency_in_the_current_bucket(api):
    client, ds, upstream = api
    item = make_item(client, ds["id"])
    away_from_a_bucket_edge()
    assert options(client, item["id"]).json["cached"] is False
    for _ in range(3):
        assert options(client, item["id"]).json["cached"] is True

    found = stats(client, ds["id"])
    assert (found["calls"], found["errors"], found["cache_hits"], found["cache_misses"]) == (1, 0, 3, 1)
    assert found["errors_by_kind"] == {kind: 0 for kind in
                                       ("timeout", "refused", "tls", "http_error", "too_large", "not_json",
                                        "busy", "error")}
    assert 0 < found["p50_ms"] <= found["p95_ms"] < 10_000
    assert found["last_error"] is None
    series = found["series"]
    assert len(series) == 24 * 12
    assert series[-1]["calls"] == 1 and series[-1]["p95_ms"] == found["p95_ms"]
    assert sum(bucket["calls"] for bucket in series) == 1
    starts = [bucket["start"] for bucket in series]
    assert starts == sorted(starts) and starts[-1].endswith("+00:00")
    assert len(stats(client, ds["id"], hours=1)["series"]) == 12


def test_failures_count_by_kind_and_the_last_error_is_the_admins_message(api, host):
    client, ds, upstream = api
    upstream.route("/api/broken", Json({"error": "boom"}, status=500))
    upstream.route("/api/html", Reply(200, {"Content-Type": "text/html"}, b"<html>maintenance</html>"))
    for name, query in (("Broken", "/broken"), ("Html", "/html")):
        assert options(client, make_item(client, ds["id"], name=name, query=query)["id"]).status_code == 502
    found = stats(client, ds["id"])
    assert found["calls"] == found["errors"] == 2
    assert found["errors_by_kind"]["http_error"] == 1 and found["errors_by_kind"]["not_json"] == 1
    assert found["last_error"]["message"].startswith("Assets API")
    assert "JSON" in found["last_error"]["message"]
    assert found["last_error"]["at"] <= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))


def test_a_caller_turned_away_is_a_busy_error_without_a_time(api, host):
    client, ds, upstream = api
    busy = make_datasource(client, upstream.url("/api"), name="Busy API", max_concurrent_calls=1)
    item = make_item(client, busy["id"], name="Busy")
    limiter = host.extensions["connect"].limiter
    with limiter.slot(busy["id"], 1, "Busy API"):
        answers = []
        thread = threading.Thread(target=lambda: answers.append(options(client, item["id"]).status_code))
        thread.start()
        thread.join(10)
    assert answers == [503]
    found = stats(client, busy["id"])
    assert (found["calls"], found["errors"], found["errors_by_kind"]["busy"]) == (1, 1, 1)
    assert found["p95_ms"] is None  # no call was made, so no time


def test_stats_are_keyed_by_id_and_survive_a_rename(api):
    client, ds, upstream = api
    item = make_item(client, ds["id"])
    assert options(client, item["id"]).status_code == 200
    response = client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN, json={"name": "Assets v2"})
    assert response.status_code == 200
    assert stats(client, ds["id"])["calls"] == 1


def test_bad_hours_and_unknown_datasources_are_refused(api):
    client, ds, _upstream = api
    for hours in ("0", "25", "x", "-1", "1.5"):
        response = client.get(STATS.format(ds["id"]), headers=ADMIN, query_string={"hours": hours})
        assert response.status_code == 400 and "hours" in response.json["fields"], hours
    assert client.get(STATS.format(9999), headers=ADMIN).status_code == 404
    assert client.get(STATS.format(ds["id"]), headers=ALICE).status_code == 403


def test_deleting_a_datasource_forgets_its_stats(api, host):
    client, ds, _upstream = api
    item = make_item(client, ds["id"])
    assert options(client, item["id"]).status_code == 200
    assert stats(client, ds["id"])["calls"] == 1
    assert client.delete(f"/plugins/connect/api/items/{item['id']}", headers=ADMIN).status_code == 204
    assert client.delete(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN).status_code == 204
    db = host.extensions["connect"].db
    with db.engine.connect() as connection:
        assert connection.execute(select(StatCounter).where(StatCounter.datasource_id == ds["id"])).all() == []
        assert connection.execute(select(StatLast).where(StatLast.datasource_id == ds["id"])).all() == []


# --- the cost: a cache hit writes nothing ----------------------------------------------------


def test_a_cache_hit_makes_no_database_write_the_flush_does_later(api, host):
    client, ds, _upstream = api
    item = make_item(client, ds["id"])
    assert options(client, item["id"]).status_code == 200
    recorder = host.extensions["connect"].stats
    recorder.flush()
    statements: list[tuple[int, str]] = []
    engine = host.extensions["connect"].db.engine

    def seen(_conn, _cursor, statement, *_args):
        statements.append((threading.get_ident(), statement))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(5):  # the test client runs each request on this thread
            assert options(client, item["id"]).json["cached"] is True
        on_the_request_thread = [s for thread, s in statements if thread == threading.get_ident()]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert on_the_request_thread and not [s for s in on_the_request_thread if "connect_stat" in s]
    with engine.connect() as connection:  # the batch (this flush, or the thread's) holds all five hits
        recorder.flush()
        hits = connection.execute(select(StatCounter.count).where(
            StatCounter.datasource_id == ds["id"], StatCounter.name == "hits")).scalars().all()
    assert sum(hits) == 5


# --- the leak guard over the stats --------------------------------------------------------------


def test_a_secret_an_upstream_echoes_in_its_error_never_reaches_the_stats(host, upstream):
    secret = "Stats-leak-api-key-3f9a61"
    upstream.route("/api/assets", lambda request: Json(
        {"error": f"bad key {request.param('key')}", "echo": request.header("X-Token")}, status=401))
    client = host.test_client()
    ds = make_datasource(client, upstream.url("/api"), name="Keyed API",
                         auth={"mode": "api_key", "location": "query", "key": "key", "value": secret})
    item = make_item(client, ds["id"])
    assert options(client, item["id"]).status_code == 502
    assert upstream.requests[-1].param("key") == secret  # it was sent, and echoed back

    found = stats(client, ds["id"])
    assert found["errors_by_kind"]["http_error"] == 1
    assert "401" in found["last_error"]["message"] and secret not in found["last_error"]["message"]
    page = client.get(f"/plugins/connect/admin/datasources/{ds['id']}", headers=ADMIN).get_data(as_text=True)
    assert "401" in page and secret not in page
    with host.extensions["connect"].db.engine.connect() as connection:
        stored = connection.execute(select(StatLast.error_message)).scalars().all()
    assert stored and all(secret not in text for text in stored)


# --- the pages -------------------------------------------------------------------------------------


def test_the_datasource_page_draws_the_chart_as_svg_with_a_table(api):
    client, ds, upstream = api
    upstream.route("/api/broken", Json({"error": "boom"}, status=500))
    item = make_item(client, ds["id"])
    broken = make_item(client, ds["id"], name="Broken", query="/broken")
    away_from_a_bucket_edge()
    assert options(client, item["id"]).status_code == 200
    assert options(client, broken["id"]).status_code == 502
    page = client.get(f"/plugins/connect/admin/datasources/{ds['id']}", headers=ADMIN).get_data(as_text=True)
    svg = re.search(r'<svg[^>]*id="stats-chart".*?</svg>', page, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg
    assert len(re.findall(r'<g class="chart-calls"><rect ', svg)) == 1
    assert re.search(r'<g class="chart-errors"><rect ', svg)
    assert '<polyline class="chart-p95"' in svg
    table = re.search(r'<table[^>]*id="stats-table".*?</table>', page, re.S).group(0)
    assert re.search(r"<td>2</td><td>1</td>", table)  # the bucket: 2 calls, 1 error
    assert 'data-stat="calls">2<' in page and "Last error at" in page


def test_the_chart_escapes_what_it_shows(api, host):
    client, ds, upstream = api
    upstream.route("/api/broken", Reply(500, {"Content-Type": "text/plain"}, b"<script>alert(1)</script>"))
    client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN, json={"name": "<b>API</b>"})
    assert options(client, make_item(client, ds["id"], name="Broken", query="/broken")["id"]).status_code == 502
    page = client.get(f"/plugins/connect/admin/datasources/{ds['id']}", headers=ADMIN).get_data(as_text=True)
    section = re.search(r'<section class="card connect-section connect-stats".*?</section>', page, re.S).group(0)
    assert "<script>" not in section and "<b>API" not in section
    assert "&lt;b&gt;API&lt;/b&gt;" in section


def test_the_list_shows_a_health_badge_per_datasource(api, host):
    client, ds, upstream = api
    upstream.route("/api/broken", Json({"error": "boom"}, status=500))
    failing = make_datasource(client, upstream.url("/api"), name="Failing API")
    idle = make_datasource(client, upstream.url("/api"), name="Idle API")
    assert options(client, make_item(client, ds["id"])["id"]).status_code == 200
    assert options(client, make_item(client, failing["id"], name="B", query="/broken")["id"]).status_code == 502
    page = client.get("/plugins/connect/admin/datasources", headers=ADMIN).get_data(as_text=True)
    badges = dict(re.findall(r'>([^<>]+ API)</a>.*?data-health="(\w+)"', page, re.S))
    assert badges == {"Assets API": "ok", "Failing API": "failing", "Idle API": "idle"}
    assert idle["id"]


# --- the pure parts: buckets, percentiles, health, the buffer ---------------------------------------


def test_percentiles_are_within_one_bin_of_the_true_value():
    rng = random.Random(7)
    for _ in range(50):
        times = [rng.lognormvariate(4, 1.2) for _ in range(rng.randint(1, 400))]
        bins: dict[int, int] = {}
        for ms in times:
            bins[latency_bin(ms)] = bins.get(latency_bin(ms), 0) + 1
        ordered = sorted(times)
        for q in (50, 95):
            true = ordered[max(1, -(-q * len(ordered) // 100)) - 1]
            estimate = percentile(bins, q)
            assert true / 1.25 - 0.1 <= estimate <= true * 1.25 + 0.1, (q, true, estimate)
    assert percentile({}, 95) is None
    assert latency_bin(0.2) == 0 and latency_bin(1.25) == 1 and latency_bin(10**7) == buckets.LAST_BIN


def test_the_health_rule():
    now = 1_800_000_000.0
    current = bucket_of(now)
    ok = {current: {"calls": 10, "errors": 5}}
    assert health({}, None, None, now=now) == "idle"
    assert health({current - 3600: {"calls": 3}}, None, now - 3600, now=now) == "idle"  # older than an hour
    assert health(ok, None, now, now=now) == "ok"  # half failed: not more than half
    assert health({current: {"calls": 10, "errors": 6}}, None, now, now=now) == "failing"
    assert health(ok, (now, "boom"), now - 1, now=now) == "failing"  # the last call failed
    older = {current - BUCKET_SECONDS: {"calls": 4, "errors": 4}, current: {"calls": 4}}
    assert health(older, (now - 400, "boom"), now - 10, now=now) == "ok"  # recovered


class _DownStore:
    def __init__(self):
        self.up = False
        self.added: list[Batch] = []

    def add(self, batch):
        if not self.up:
            raise ConnectionError("down")
        self.added.append(batch)


def test_a_store_that_is_down_loses_no_counts_and_memory_stays_bounded():
    store = _DownStore()
    recorder = StatsRecorder(store)
    try:
        for _ in range(3):
            recorder.cache(1, True)
        recorder.call(1, "timeout", 0.5, "Assets API: no answer within 1 s")
        recorder.flush()  # refused: kept
        recorder.cache(1, False)
        store.up = True
        recorder.flush()
        [batch] = store.added
        [(key, counters)] = batch.counters.items()
        assert key[0] == 1 and counters["hits"] == 3 and counters["misses"] == 1
        assert counters["calls"] == counters["errors"] == counters["e:timeout"] == 1
        assert batch.last_error[1][1] == "Assets API: no answer within 1 s"

        store.up = False
        recorder._batch.counters = {(ds, current): {"calls": 1} for ds in range(MAX_PENDING)
                                    for current in (bucket_of(time.time()),)}
        recorder.cache(MAX_PENDING + 1, True)
        recorder.flush()
        assert len(recorder._batch.counters) <= MAX_PENDING
    finally:
        store.up = True
        recorder.close()


def test_two_apps_on_one_database_add_up_as_two_workers_do(make_app, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    first, second = make_app(), make_app()  # one SQLite database, each app its own recorder and cache
    seed_people(first)
    client, other = first.test_client(), second.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    item = make_item(client, ds["id"])
    assert options(client, item["id"]).json["cached"] is False
    assert options(other, item["id"]).json["cached"] is False  # the other's SimpleCache is its own
    assert options(other, item["id"]).json["cached"] is True
    second.extensions["connect"].stats.flush()  # what its background thread does within 2 s
    found = stats(client, ds["id"])
    assert (found["calls"], found["cache_hits"], found["cache_misses"]) == (2, 1, 2)
