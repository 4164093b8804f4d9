"""Prometheus metrics under gunicorn in multiprocess mode: a scrape, whichever worker
answers it, counts the calls of every worker (and of workers that are gone).

Runs ``gunicorn -c python:plugin_host.gunicorn_conf`` with ``PROMETHEUS_MULTIPROC_DIR``
as the README's production recipe does, on PostgreSQL and Redis, against a loopback
HTTPS upstream that counts its calls.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from tests.services.conftest import api, in_threads
from tests.services.test_workers import Counter, create_datasource, create_item, get_options, options_path
from tests.test_metrics import samples, value

pytestmark = pytest.mark.services

TOKEN = "Gunicorn-metrics-token-41f7"
SCRAPE = "/plugins/connect/metrics"


def scrape(host, headers=None) -> tuple[dict, requests.Response]:
    response = requests.get(host.url(SCRAPE), timeout=10, headers={
        "Connection": "close", **(headers or {"Authorization": f"Bearer {TOKEN}"})})
    assert response.status_code == 200, response.text
    return samples(response.text), response


def test_a_scrape_counts_every_workers_calls(gunicorn_host, upstream, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"left over from an earlier run")
    counter = Counter()
    upstream.route("/api/assets", counter)
    # 8 threads: 4 callers of one datasource fit in its share of one worker (4 in flight, 2 waiting).
    host = gunicorn_host(workers=2, threads=8, gunicorn_args=("-c", "python:plugin_host.gunicorn_conf"),
                         PROMETHEUS_MULTIPROC_DIR=str(folder), CONNECT_METRICS_TOKEN=TOKEN)
    assert not (folder / "counter_999999.db").exists(), "on_starting empties the folder of an earlier run"
    ds = create_datasource(host, upstream.url("/api"))
    item = create_item(host, ds["id"], query="/assets?q=$userInput")

    loads = in_threads(24, lambda i: get_options(host, item["id"], q=f"asset{i}"), threads=4)
    again = in_threads(6, lambda i: get_options(host, item["id"], q=f"asset{i}"), threads=2)

    assert [r.status_code for r in loads + again] == [200] * 30
    assert [r.json()["cached"] for r in again] == [True] * 6
    assert counter.calls == 24
    served_by = {rec.pid for rec in host.access() if rec.path.startswith(options_path(item["id"]))}
    assert len(served_by) == 2, f"the loads should spread over both workers, served by {served_by}"

    for _ in range(6):  # fresh connections: the kernel hands them to either worker
        found, _response = scrape(host)
        assert value(found, "connect_upstream_calls_total", datasource="Assets API", outcome="ok") == 24
        assert value(found, "connect_upstream_duration_seconds_count", datasource="Assets API") == 24
        assert value(found, "connect_cache_misses_total", datasource="Assets API") == 24
        assert value(found, "connect_cache_hits_total", datasource="Assets API") == 6
    scrapers = {rec.pid for rec in host.access() if rec.path == SCRAPE}
    print(f"\n30 loads served by {len(served_by)} workers; 6 scrapes answered by {len(scrapers)} of them, "
          f"each counting all 24 calls and 6 hits")
    assert {path.name.split("_")[-1] for path in folder.glob("counter_*.db")} >= {f"{pid}.db" for pid in served_by}

    assert api(host, "GET", SCRAPE, auth=("alice", "alice-pw")).status_code == 403
    assert requests.get(host.url(SCRAPE), timeout=10, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api(host, "GET", SCRAPE).status_code == 200  # an admin, over HTTP Basic

    # A worker that dies takes nothing with it: its counts stay in the sum.
    victim = sorted(host.worker_pids())[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (victim in host.worker_pids() or len(host.worker_pids()) < 2):
        time.sleep(0.1)
    assert victim not in host.worker_pids() and len(host.worker_pids()) == 2
    for _ in range(4):
        found, _response = scrape(host)
        assert value(found, "connect_upstream_calls_total", datasource="Assets API", outcome="ok") == 24
