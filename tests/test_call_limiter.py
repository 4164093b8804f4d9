"""The per-datasource limit on calls in flight: waiters are capped, and only a
successful call counts as progress (a hanging API stays stalled)."""

from __future__ import annotations

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
