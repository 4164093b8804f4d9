"""The per-datasource limit on calls in flight: waiters are capped, only a
successful call counts as progress (a hanging API stays stalled), and the limits
follow the worker's thread count."""

from __future__ import annotations

import os
import threading
import time

import pytest

from connect_plugin.errors import UpstreamBusy
from connect_plugin.caching.call_limiter import CallLimiter


def hold(limiter, datasource_id, limit, release, fail=False):
    entered = threading.Event()

    def run():
        try:
            with limiter.slot(datasource_id, limit, "Assets API"):
                entered.set()
                release.wait(5)
                if fail:
                    raise TimeoutError("upstream timed out")
        except TimeoutError:
            pass

    thread = threading.Thread(target=run)
    thread.start()
    assert entered.wait(2)
    return thread


def test_at_most_half_the_limit_may_wait():
    limiter = CallLimiter(wait_seconds=1.0)
    release = threading.Event()
    holders = [hold(limiter, 1, 4, release) for _ in range(4)]
    waiters = [threading.Thread(target=lambda: limiter.slot(1, 4, "Assets API").__enter__()) for _ in range(2)]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(UpstreamBusy, match="Assets API is busy"):
        with limiter.slot(1, 4, "Assets API"):
            pass
    assert time.monotonic() - started < 0.1, "a third waiter is refused at once"
    release.set()
    for thread in holders + waiters:
        thread.join(2)


def test_a_failed_call_is_not_progress():
    limiter = CallLimiter(wait_seconds=0.3)
    release_ok, release_failing = threading.Event(), threading.Event()
    steady = hold(limiter, 1, 2, release_ok)
    failing = hold(limiter, 1, 2, release_failing, fail=True)
    time.sleep(0.35)  # busy for longer than the wait, with no success
    release_failing.set()
    failing.join(2)
    taker = hold(limiter, 1, 2, release_ok)  # the freed slot is taken without waiting
    started = time.monotonic()
    with pytest.raises(UpstreamBusy):
        with limiter.slot(1, 2, "Assets API"):
            pass
    # Had the timed-out call counted as progress, this caller would wait 0.3 s.
    assert time.monotonic() - started < 0.1
    release_ok.set()
    for thread in (steady, taker):
        thread.join(2)


# --- issue 13 rule 11: the limits follow the worker's threads -----------------------------


@pytest.mark.parametrize("limit, threads, bounds", [
    (8, None, (8, 4)),  # a thread per request (werkzeug): the datasource's own limit
    (8, 32, (8, 4)),
    (8, 16, (8, 3)),  # 8 + 3 of 16 threads: one of the 12 for the calls of others, 4 for the rest
    (16, 16, (8, 3)),  # never more than half of the threads in flight, however high the limit
    (8, 8, (4, 1)),
    (3, 16, (3, 1)),
    (8, 4, (2, 0)),
    (8, 1, (1, 0)),
])
def test_a_datasource_keeps_to_half_of_the_workers_threads(limit, threads, bounds):
    from connect_plugin.caching.call_limiter import Bounds, outbound_share

    assert Bounds.of(limit, threads) == Bounds(*bounds)
    assert [outbound_share(t) for t in (None, 1, 2, 4, 8, 16, 32)] == [None, 1, 1, 3, 6, 12, 24]


def test_the_thread_count_is_the_size_of_the_pool_that_runs_the_call():
    from concurrent.futures import ThreadPoolExecutor

    from connect_plugin.caching.call_limiter import serving_threads

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert pool.submit(serving_threads).result() == 8
    with ThreadPoolExecutor(max_workers=16) as pool:
        assert pool.submit(serving_threads).result() == 16
    found = []
    thread = threading.Thread(target=lambda: found.append(serving_threads()))
    thread.start()
    thread.join()
    assert found == [None] and serving_threads() is None  # a thread per request: no bound


def test_calls_to_all_apis_leave_a_quarter_of_the_threads():
    """8 threads: two hanging APIs (default limit 8) take 4 and 2 threads, the 7th
    caller of any datasource is refused at once instead of taking one more thread."""
    limiter = CallLimiter(wait_seconds=1.0, threads=8)
    release = threading.Event()
    holders = [hold(limiter, 1, 8, release) for _ in range(4)]
    started = time.monotonic()
    with pytest.raises(UpstreamBusy, match="Assets API is busy: 4 calls are already in flight"):
        with limiter.slot(1, 8, "Assets API"):  # waits (no progress yet), then refused
            pass
    assert time.monotonic() - started < 1.5
    holders += [hold(limiter, 2, 8, release) for _ in range(2)]
    assert limiter.holding() == 6
    started = time.monotonic()
    with pytest.raises(UpstreamBusy, match="People API is busy: the calls to all APIs hold every thread"):
        with limiter.slot(3, 8, "People API"):
            pass
    assert time.monotonic() - started < 0.1
    release.set()
    for thread in holders:
        thread.join(2)
    assert limiter.holding() == 0
    with limiter.slot(3, 8, "People API"):  # room again
        with limiter.slot(2, 8, "Other API"):  # one thread counts once
            assert limiter.holding() == 1


def test_gunicorn_tells_each_gthread_worker_its_threads(monkeypatch):
    from types import SimpleNamespace

    from gunicorn.workers.gthread import ThreadWorker
    from gunicorn.workers.sync import SyncWorker

    from plugin_host import gunicorn_conf

    def worker(cls, threads):
        made = cls.__new__(cls)
        made.cfg = SimpleNamespace(threads=threads)
        return made

    monkeypatch.setenv("CONNECT_WORKER_THREADS", "")  # recorded: whatever post_fork sets is undone
    monkeypatch.delenv("CONNECT_WORKER_THREADS")
    gunicorn_conf.post_fork(None, worker(SyncWorker, 1))
    assert "CONNECT_WORKER_THREADS" not in os.environ
    gunicorn_conf.post_fork(None, worker(ThreadWorker, 12))
    assert os.environ["CONNECT_WORKER_THREADS"] == "12"
    gunicorn_conf.post_fork(None, worker(ThreadWorker, 4))
    assert os.environ["CONNECT_WORKER_THREADS"] == "12", "a value the environment gives wins"
