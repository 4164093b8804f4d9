"""Per-datasource stats under gunicorn with 4 workers on Redis: the stats answer,
whichever worker gives it, counts the calls, hits and misses of every worker.

Each worker counts in its own process and adds its counts to Redis (the cache's)
every few seconds; the answer is complete once every worker has flushed.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.services.conftest import api, in_threads
from tests.services.test_workers import Counter, create_datasource, create_item, get_options, options_path

pytestmark = pytest.mark.services


def test_stats_count_every_workers_calls_through_redis(gunicorn_host, upstream, redis_url):
    counter = Counter()
    upstream.route("/api/assets", counter)
    host = gunicorn_host(workers=4, threads=16)  # a datasource may hold half of the threads in flight
    ds = create_datasource(host, upstream.url("/api"))
    item = create_item(host, ds["id"], query="/assets?q=$userInput")

    misses = in_threads(32, lambda i: get_options(host, item["id"], q=f"asset{i}"), threads=8)
    hits = in_threads(16, lambda i: get_options(host, item["id"], q=f"asset{i}"), threads=8)
    assert [r.status_code for r in misses + hits] == [200] * 48
    assert sum(r.json()["cached"] for r in hits) == 16 and counter.calls == 32
    served_by = {rec.pid for rec in host.access() if rec.path.startswith(options_path(item["id"]))}
    assert len(served_by) >= 3, f"the loads should spread over the workers, served by {served_by}"

    path = f"/plugins/connect/api/datasources/{ds['id']}/stats"
    deadline = time.monotonic() + 20
    while True:  # the other workers flush within their interval (2 s)
        answers = [api(host, "GET", path) for _ in range(4)]
        assert all(a.status_code == 200 for a in answers), answers[0].text
        found = [(a.json()["calls"], a.json()["cache_hits"], a.json()["cache_misses"]) for a in answers]
        if all(f == (32, 16, 32) for f in found) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert found == [(32, 16, 32)] * 4
    body = answers[0].json()
    assert body["errors"] == 0 and body["p95_ms"] is not None
    assert sum(bucket["calls"] for bucket in body["series"]) == 32
    answered_by = {rec.pid for rec in host.access() if rec.path == path}
    print(f"\n48 loads served by {len(served_by)} workers; stats answered by {len(answered_by)} of them, "
          f"each counting 32 calls, 16 hits, 32 misses")

    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=f"connect:stats:{ds['id']}:*"))
    finally:
        client.close()
    listing = api(host, "GET", "/plugins/connect/admin/datasources")
    assert 'data-health="ok"' in listing.text


def test_the_database_store_adds_batches_on_postgresql(postgres_url):
    """Without Redis the stats go to the database: on PostgreSQL, batches from any
    process add up and the newer last error wins."""
    from connect_plugin.db import Database
    from connect_plugin.stats.buckets import bucket_of
    from connect_plugin.stats.recorder import Batch
    from connect_plugin.stats.stores import DatabaseStatsStore
    from connect_plugin.stats.tables import StatCounter, StatLast

    database = Database(postgres_url)
    try:
        StatCounter.metadata.create_all(database.engine, tables=[StatCounter.__table__, StatLast.__table__])
        store = DatabaseStatsStore(database)
        now = time.time()
        bucket = bucket_of(now)
        for at, message in ((now - 5, "older"), (now - 1, "newer"), (now - 3, "in between")):
            store.add(Batch(counters={(7, bucket): {"calls": 2, "errors": 1, "h:20": 2}}, last_ok={7: now - 2},
                            last_error={7: (at, message)}))
        buckets, last_error, last_ok = store.read(7, bucket)
        assert buckets == {bucket: {"calls": 6, "errors": 3, "h:20": 6}}
        assert last_error == (pytest.approx(now - 1), "newer") and last_ok == pytest.approx(now - 2)
        store.forget(7)
        assert store.read(7, bucket) == ({}, None, None)
    finally:
        database.dispose()
