"""9. What recording the per-datasource stats costs a cache hit.

The same app and database as gunicorn's, built in this process (as the profiles
are) and driven by Flask's test client, so the figure is the request's own work
without the network's noise. The options endpoint is asked for a cached answer in
blocks of requests, recording on and off by turns (the recorder's ``recording``
switch, which only this benchmark turns off), the order of the two swapped every
round. The cost of a block is the process's CPU time per request, the background
flush thread included; the ratio is the median over the rounds of each round's
block with recording over its block without (paired, so the machine's drift
cancels).
"""

from __future__ import annotations

import time

from .profiles import build_app
from .stack import Stack
from .stats import median


def _block(client, url: str, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        response = client.get(url)
        assert response.status_code == 200 and response.json["cached"] is True, response.data[:200]
    return (time.process_time() - started) / count * 1000.0


def run(stack: Stack, world, quick: bool) -> dict:
    app = build_app(stack)
    state = app.extensions["connect"]
    recorder = state.stats
    client = app.test_client()
    name, _, value = world.cookie.partition(";")[0].partition("=")
    client.set_cookie(name, value)
    url = f"/plugins/connect/api/items/{world.items['main']}/options?project=DEMO&limit=50"
    rounds, count = (10, 150) if quick else (24, 300)
    try:
        for _ in range(200):  # warm: the answer cached in this process, the code paths loaded
            assert client.get(url).status_code == 200
        on: list[float] = []
        off: list[float] = []
        for index in range(rounds):
            for recording in ((True, False) if index % 2 == 0 else (False, True)):
                recorder.recording = recording
                (on if recording else off).append(_block(client, url, count))
        recorder.recording = True
        # The hook alone, for context: one cache-hit count.
        calls = 200_000
        started = time.perf_counter()
        for _ in range(calls):
            recorder.cache(world.datasources["main"], True)
        hook_us = (time.perf_counter() - started) / calls * 1e6
        recorder.flush()
    finally:
        recorder.recording = True
        recorder.close()
        state.db.dispose()
        app.extensions["host_db"].dispose()
    on_ms, off_ms = median(on), median(off)
    paired = [a / b for a, b in zip(on, off)]  # each round's two blocks ran side by side
    return {"on_ms": on_ms, "off_ms": off_ms, "ratio": median(paired), "rounds": rounds, "count": count,
            "block_ratios": paired, "hook_us": hook_us,
            "hook_share": hook_us / 1000.0 / off_ms,
            "store": type(recorder.store).__name__}
