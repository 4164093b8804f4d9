"""Issue 13 rule 11: one hanging datasource cannot take a worker's threads, whatever
their number. A real gunicorn gthread worker with 8 and with 16 threads (no setting
tells the plugin the count), a hanging HTTPS API on loopback that never answers
while the test runs, and a healthy one whose every call is a cache miss.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.services.test_workers import Counter, create_datasource, create_item, get_options
from tests.support.https_servers import Sleep

pytestmark = pytest.mark.services


def _fire(host, item_id: int, count: int) -> list[threading.Thread]:
    """``count`` requests at the hanging item, each its own query (no single flight)."""
    def one(i):
        try:
            get_options(host, item_id, timeout=8, q=f"k{i}")
        except requests.RequestException:
            pass  # still hanging when the test ends: that is the point

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _timed(call):
    started = time.monotonic()
    try:
        response = call()
        outcome = response.status_code, response.text
    except requests.RequestException as exc:
        outcome = type(exc).__name__, ""
    return outcome, time.monotonic() - started


def test_a_healthy_datasource_answers_while_another_hangs_with_8_and_16_threads(gunicorn_host, upstream):
    upstream.route("/a/hang", lambda request: Sleep(60))  # ends when the upstream stops
    people = Counter()
    upstream.route("/b/people", people)
    hosts = {8: gunicorn_host(workers=1, threads=8), 16: gunicorn_host(workers=1, threads=16)}
    hanging_ds = {
        8: create_datasource(hosts[8], upstream.url("/a"), name="Assets API"),  # the default limit, 8
        # An admin may raise a datasource's limit to the thread count: still not all of them.
        16: create_datasource(hosts[8], upstream.url("/a"), name="Big Assets API", max_concurrent_calls=16),
    }
    healthy_ds = create_datasource(hosts[8], upstream.url("/b"), name="People API")
    healthy = create_item(hosts[8], healthy_ds["id"], name="Person", editor="autocomplete",
                          query="/people?q=$userInput")
    for threads, host in hosts.items():
        hanging = create_item(host, hanging_ds[threads]["id"], name=f"Hanging {threads}", editor="autocomplete",
                              query="/hang?q=$userInput")
        assert get_options(host, healthy["id"], q=f"warm{threads}").status_code == 200  # logged in, warm
        _fire(host, hanging["id"], 3 * threads)
        time.sleep(1.0)  # every hanging request is in the worker by now

        slowest = {"options": 0.0, "/login": 0.0}
        for i in range(4):  # each a new query: a call to the healthy API, not a cached answer
            for kind, call in (("options", lambda: get_options(host, healthy["id"], timeout=3, q=f"{threads}p{i}")),
                               ("/login", lambda: requests.get(host.url("/login"), timeout=3))):
                (status, body), seconds = _timed(call)
                assert status == 200, (threads, kind, status, body[:300])
                assert seconds < 1, f"{threads} threads: {kind} answered after {seconds:.2f} s"
                slowest[kind] = max(slowest[kind], seconds)
        print(f"\n{threads} threads, {3 * threads} requests hanging: slowest healthy answer "
              f"{slowest['options']:.2f}s, slowest /login {slowest['/login']:.2f}s")
    assert people.calls == 2 * (1 + 4)
