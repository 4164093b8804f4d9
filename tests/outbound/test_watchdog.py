"""The one watchdog thread behind every outbound call's deadline."""

from __future__ import annotations

import threading

from connect_plugin.outbound import watchdog as watchdog_module
from connect_plugin.outbound.watchdog import Watchdog


def test_actions_fire_in_deadline_order_not_in_scheduling_order():
    dog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    dog.schedule(0.30, lambda: (fired.append("late"), done.set()))
    dog.schedule(0.05, lambda: fired.append("early"))  # scheduled second, due first: wakes the thread
    assert done.wait(5)
    assert fired == ["early", "late"]


def test_a_cancelled_deadline_never_fires_and_leaves_the_call_behind():
    dog = Watchdog()
    fired = threading.Event()
    entry = dog.schedule(0.05, fired.set)
    dog.cancel(entry)
    assert not fired.wait(0.3)
    assert dog.pending() == 0
    assert entry.action is not fired.set  # the entry holds nothing of the finished call


def test_one_failing_action_does_not_stop_the_others(caplog):
    dog = Watchdog()
    second = threading.Event()
    dog.schedule(0.01, lambda: 1 / 0)
    dog.schedule(0.05, second.set)
    assert second.wait(5)
    assert "deadline action failed" in caplog.text


def test_quick_calls_with_long_limits_do_not_grow_the_heap_without_bound(monkeypatch):
    monkeypatch.setattr(watchdog_module, "COMPACT_AFTER", 100)
    dog = Watchdog()
    for _ in range(10_000):
        dog.cancel(dog.schedule(60, lambda: None))  # a call that finished long before its limit
    assert dog.held() <= 200
    assert dog.pending() == 0



def test_calls_sharing_one_deadline_do_not_wake_the_thread_each_time(monkeypatch):
    """The pages of one answer share its deadline: the thread already means to wake
    then, so only the first schedule wakes it."""
    dog = Watchdog()
    wakes: list[int] = []
    notify = dog._cond.notify
    monkeypatch.setattr(dog._cond, "notify", lambda *a: (wakes.append(1), notify(*a)))
    import time

    deadline = time.monotonic() + 60
    for _ in range(50):  # each page: scheduled, a moment of work, finished in time
        entry = dog.schedule(deadline - time.monotonic(), lambda: None)
        time.sleep(0.002)
        dog.cancel(entry)
    assert len(wakes) <= 2  # the first page's; the thread then sleeps toward the shared deadline
    fired = threading.Event()
    dog.schedule(0.05, fired.set)  # much earlier: wakes it, and fires
    assert fired.wait(5)
