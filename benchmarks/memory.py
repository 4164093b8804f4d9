"""Scenario 4c: peak RSS per worker under the scenario of issue 13 rule 10 (and the
RSS row of issue 17). On a gunicorn of its own (fresh workers, the default
``CONNECT_CACHE_MAX_BYTES``), each worker gets one keep-alive connection; then 10
times a "clear cache" followed by a load of the 50,000-row answer on every worker,
and 50 distinct searches (``q``) on each. Each worker's VmRSS and VmHWM (peak) are
read before, after every load and after the searches: the goal is a peak of at
most 200 MiB that stays flat after the first load."""

from __future__ import annotations

from . import loadgen
from .scenarios import BIG, World, _check
from .stack import HOST, Api, Gunicorn, proc_status, session_cookie

LOADS = 10
SEARCHES = 50
GOAL_MIB = 200.0
# "Flat": after the first load the peak grows by less than this. One more 50k-row
# entry kept (an old generation, a second copy) would add about 10 MiB or more.
FLAT_MIB = 8.0


def _one_connection_per_worker(world: World) -> dict[str, loadgen.Connection]:
    """A keep-alive connection to each worker (a new connection lands on whichever
    worker wakes first, so some are closed and made again)."""
    kept: dict[str, loadgen.Connection] = {}
    for _ in range(200):
        if len(kept) == world.server.workers:
            return kept
        conn = loadgen.Connection(HOST, world.port)
        worker = conn.request(world.bare()).worker
        if worker in kept:
            conn.close()
        else:
            kept[worker] = conn
    for conn in kept.values():
        conn.close()
    raise RuntimeError(f"could not reach all {world.server.workers} workers: {sorted(kept)}")


def _mib(pid: int) -> tuple[float, float]:
    status = proc_status(pid)
    return status.get("VmRSS", 0) / 1024, status.get("VmHWM", 0) / 1024


def run(world: World, server: Gunicorn) -> dict:
    world.server = server
    world.cookie = session_cookie(server.base, "alice", "alice-pw")
    world.api = Api(server.base)
    item, datasource = f"rows{BIG}", world.datasources["big"]
    conns = _one_connection_per_worker(world)
    try:
        workers = {worker: {"pid": int(worker), "rss_before_mib": _mib(int(worker))[0], "peaks_mib": []}
                   for worker in conns}
        for load in range(LOADS):
            world.api.clear(datasource)
            for worker, conn in conns.items():
                _check(conn.request(world.options(item, limit=50)), f"load {load + 1}", cached=False)
                rss, peak = _mib(int(worker))
                workers[worker]["peaks_mib"].append(peak)
                if load == 0:
                    workers[worker]["rss_first_mib"] = rss
        for worker, conn in conns.items():
            for i in range(SEARCHES):
                _check(conn.request(world.options(item, q=f"{1000 + i * 977} of team", limit=50)), f"search {i}", cached=True)
            rss, peak = _mib(int(worker))
            workers[worker].update(rss_after_mib=rss, peak_mib=peak)
    finally:
        for conn in conns.values():
            conn.close()
    for data in workers.values():
        data["growth_after_first_mib"] = data["peak_mib"] - data["peaks_mib"][0]
        data["growth_after_third_mib"] = data["peak_mib"] - data["peaks_mib"][min(2, LOADS - 1)]
    peak = max(data["peak_mib"] for data in workers.values())
    growth = max(data["growth_after_first_mib"] for data in workers.values())
    settled = max(data["growth_after_third_mib"] for data in workers.values())
    return {"workers": list(workers.values()), "loads": LOADS, "searches": SEARCHES, "peak_mib": peak,
            "growth_after_first_mib": growth, "growth_after_third_mib": settled, "goal_mib": GOAL_MIB,
            "flat_mib": FLAT_MIB, "peak_met": peak <= GOAL_MIB, "flat_met": growth < FLAT_MIB,
            "met": peak <= GOAL_MIB and growth < FLAT_MIB}
