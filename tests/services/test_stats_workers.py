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
    host = gunicorn_host(workers=4, threads=4)
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
