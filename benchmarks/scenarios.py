"""The six measured scenarios. Each returns a plain dict that :mod:`benchmarks.report`
turns into BENCHMARKS.md. Every ratio compares two series measured side by side in
the same run (interleaved where possible), so a noisy machine moves both sides."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

import msgspec
import orjson

from . import loadgen
from .stack import HOST, Api, Gunicorn, Stack, cpu_seconds, direct_session, proc_status, session_cookie
from .stats import median, ms, percentile, slope

SIZES = (1_000, 10_000, 50_000, 100_000)
BIG = 50_000
FLIGHT_DELAY = 0.3  # seconds the upstream takes for the single-flight answer
SEARCHES = ("team 42", "Phone 777", "sn00", "zzz no match", "of team")


@dataclass
class Plan:
    """How much of everything: the full run, or ``--quick``."""

    quick: bool
    latency_blocks: int = 3
    latency_pairs: int = 1000
    latency_warmup: int = 300
    throughput_rounds: int = 4
    throughput_seconds: float = 3.0
    throughput_per_worker: int = 4
    flight_trials: int = 3
    flight_requests: int = 100
    big_trials: int = 9
    # Scenario 10's trials take about 0.15 s each; on a shared machine nine of them
    # gave fastest trials 0.3x apart from run to run.
    paging_trials: int = 31
    search_rounds: int = 10
    curve_trials: int = 5
    hang_seconds: float = 8.0
    hang_timeout: int = 5
    hang_clients: int = 32
    hang_retry_pause: float = 1.0

    @classmethod
    def make(cls, quick: bool) -> "Plan":
        if not quick:
            return cls(quick=False)
        return cls(quick=True, latency_blocks=1, latency_pairs=400, latency_warmup=100, throughput_rounds=2,
                   throughput_seconds=1.5, flight_trials=2, big_trials=5, paging_trials=9, search_rounds=4, curve_trials=2,
                   hang_seconds=3.0, hang_timeout=3)


@dataclass
class World:
    """What the scenarios share: the stack, the server under test, ids, the login."""

    stack: Stack
    server: Gunicorn
    plan: Plan
    api: Api = None
    cookie: str = ""
    datasources: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.server.port

    def request(self, path: str) -> bytes:
        return loadgen.build_request(path, HOST, self.port, {"Cookie": self.cookie})

    def options(self, item: str, **params) -> bytes:
        """On a create screen of alice's project DEMO unless ``issue`` is given."""
        if "issue" not in params:
            params = {"project": "DEMO", **params}
        return self.request(f"/plugins/connect/api/items/{self.items[item]}/options?{urlencode(params)}")

    def bare(self) -> bytes:
        return self.request("/bench/bare")


def seed(stack: Stack, server: Gunicorn, plan: Plan) -> World:
    """The project, issue, datasources and items every scenario uses; alice's login."""
    world = World(stack=stack, server=server, plan=plan, api=Api(server.base))
    api = world.api
    api.post("/rest/api/2/project", {"key": "DEMO", "name": "Demo", "members": ["alice"]})
    Api(server.base, ("alice", "alice-pw")).post(
        "/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "summary": "Laptop for Alice"}})
    base = stack.upstream_base
    ds = world.datasources
    ds["main"] = api.datasource("Bench API", base, cache_ttl_seconds=3600)
    ds["flight"] = api.datasource("Bench single flight", base, cache_ttl_seconds=3600)
    ds["big"] = api.datasource("Bench big answers", base, cache_ttl_seconds=3600)
    ds["healthy"] = api.datasource("Healthy API", base, cache_ttl_seconds=0)
    ds["hanging"] = api.datasource("Hanging API", base, cache_ttl_seconds=0, timeout_seconds=plan.hang_timeout)
    it = world.items
    it["main"] = api.item("Asset", ds["main"], "/rows?n=500")
    it["flight"] = api.item("Asset (slow)", ds["flight"], f"/rows?n=500&delay={FLIGHT_DELAY}")
    for n in SIZES:
        it[f"rows{n}"] = api.item(f"Rows {n}", ds["big"], f"/rows?n={n}")
    it["healthy"] = api.item("Healthy field", ds["healthy"], "/rows?n=50&api=healthy")
    it["hanging"] = api.item("Hanging field", ds["hanging"], "/hang?seconds=60")
    world.cookie = session_cookie(server.base, "alice", "alice-pw")
    return world


def _check(response: loadgen.Response, what: str, **expected) -> dict:
    if response.status != 200:
        raise RuntimeError(f"{what}: status {response.status}: {response.body[:300]!r}")
    data = orjson.loads(response.body)
    for key, value in expected.items():
        if data.get(key) != value:
            raise RuntimeError(f"{what}: {key} is {data.get(key)!r}, expected {value!r}")
    return data


# --- 1. cache-hit latency ------------------------------------------------------------------


def latency(world: World) -> dict:
    plan = world.plan
    requests = {
        "options": world.options("main", limit=50),
        "bare": world.bare(),
        "options_issue": world.options("main", issue="DEMO-1", limit=50),
    }
    conn = loadgen.Connection(HOST, world.port)
    try:
        _check(conn.request(requests["options"]), "options", total=500)
        data = _check(conn.request(requests["options"]), "options (again)", cached=True, total=500)
        bare = _check(conn.request(requests["bare"]), "bare")
        if data["options"] != bare["options"]:
            raise RuntimeError("the bare endpoint does not answer the same first page")
        _check(conn.request(requests["options_issue"]), "options with issue", cached=True)
        names = list(requests)
        for _ in range(plan.latency_warmup):
            for name in names:
                conn.request(requests[name])
        series = {name: [] for name in names}
        block_ratios = []
        for _block in range(plan.latency_blocks):
            block = {name: [] for name in names}
            for i in range(plan.latency_pairs):
                order = names[i % 3:] + names[:i % 3]  # rotate: no endpoint always goes first
                for name in order:
                    response = conn.request(requests[name])
                    if response.status != 200:
                        raise RuntimeError(f"{name}: status {response.status}")
                    block[name].append(response.latency)
            for name in names:
                series[name] += block[name]
            block_ratios.append(median(block["options"]) / median(block["bare"]))
        _check(conn.request(requests["options"]), "options (after)", cached=True)
    finally:
        conn.close()
    out = {name: {"median_ms": ms(median(v)), "p90_ms": ms(percentile(v, 90)), "n": len(v)}
           for name, v in series.items()}
    out["ratio"] = median(series["options"]) / median(series["bare"])
    out["ratio_issue"] = median(series["options_issue"]) / median(series["bare"])
    out["block_ratios"] = block_ratios
    return out


# --- 2. cache-hit throughput -----------------------------------------------------------------


def throughput(world: World) -> dict:
    plan = world.plan
    requests = {"bare": world.bare(), "options": world.options("main", limit=50)}
    rates: dict[str, list[float]] = {"bare": [], "options": []}
    ratios: list[float] = []
    client_cpu: list[float] = []
    cpu_per_answer: dict[str, list[float]] = {"bare": [], "options": []}
    workers_seen: list[dict] = []
    for round_ in range(plan.throughput_rounds):
        order = ["bare", "options"] if round_ % 2 == 0 else ["options", "bare"]
        this_round = {}
        for name in order:
            sockets = loadgen.balanced_sockets(HOST, world.port, requests["bare"],
                                               per_worker=plan.throughput_per_worker, workers=world.server.workers)
            pids = world.server.worker_pids()
            cpu = time.process_time()
            server_cpu = sum(map(cpu_seconds, pids))
            result = loadgen.closed_loop(HOST, world.port, requests[name], sockets=sockets,
                                         seconds=plan.throughput_seconds)
            server_cpu = sum(map(cpu_seconds, pids)) - server_cpu
            client_cpu.append((time.process_time() - cpu) / max(result.elapsed, 1e-9))
            cpu_per_answer[name].append(server_cpu / max(result.responses, 1))
            if set(result.statuses) != {200} or result.errors:
                raise RuntimeError(f"throughput {name}: statuses {result.statuses}, errors {result.errors}")
            workers_seen.append(result.workers)
            rates[name].append(result.rate)
            this_round[name] = result.rate
        ratios.append(this_round["options"] / this_round["bare"])
    cpu_bare, cpu_options = median(cpu_per_answer["bare"]), median(cpu_per_answer["options"])
    return {
        "bare_rps": median(rates["bare"]), "options_rps": median(rates["options"]),
        "ratio": median(ratios), "round_ratios": ratios, "client_cpu": median(client_cpu),
        "cpu_bare_ms": ms(cpu_bare), "cpu_options_ms": ms(cpu_options), "cpu_ratio": cpu_bare / cpu_options,
        "connections": plan.throughput_per_worker * world.server.workers,
        "balance": [sorted(w.values()) for w in workers_seen],
    }


# --- 3. single flight ------------------------------------------------------------------------------


def single_flight(world: World, label: str) -> dict:
    plan = world.plan
    request = world.options("flight", limit=50)
    trials = []
    for _ in range(plan.flight_trials):
        world.api.clear(world.datasources["flight"])
        world.stack.upstream_reset()
        responses = loadgen.burst(HOST, world.port, request, connections=plan.flight_requests, timeout=60)
        stats = world.stack.upstream_stats()
        calls = sum(count for target, count in stats.items() if target.startswith("/rows?n=500&delay="))
        statuses = Counter(r.status for r in responses)
        cached = Counter(orjson.loads(r.body).get("cached") for r in responses if r.status == 200)
        workers = len({r.worker for r in responses})
        latencies = [r.latency for r in responses]
        trials.append({"calls": calls, "statuses": dict(statuses), "uncached_answers": cached.get(False, 0),
                       "workers": workers, "p50_ms": ms(median(latencies)), "max_ms": ms(max(latencies))})
    return {"label": label, "trials": trials, "calls": [t["calls"] for t in trials],
            "max_calls": max(t["calls"] for t in trials),
            "all_ok": all(set(t["statuses"]) == {200} for t in trials)}


# --- 4. a 50,000-row answer ------------------------------------------------------------------------


_decode = msgspec.json.Decoder().decode


def _direct_fetch(http, url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    body = http.get(url, timeout=60).content
    _decode(body)  # the same (fastest, exact) parser the plugin uses
    return time.perf_counter() - started, body


def _first_load(world: World, conn: loadgen.Connection, item: str, datasource: str) -> loadgen.Response:
    world.api.clear(world.datasources[datasource])
    response = conn.request(world.options(item, limit=50))
    _check(response, f"first load of {item}", cached=False)
    return response


def first_load_only(world: World, label: str) -> dict:
    """4a alone (warm-up, then interleaved trials): for a diagnostic server."""
    url = f"{world.stack.upstream_base}/rows?n={BIG}"
    http = direct_session(world.stack.ca_file)
    conn = loadgen.Connection(HOST, world.port)
    direct, first = [], []
    try:
        _direct_fetch(http, url)
        _first_load(world, conn, f"rows{BIG}", "big")
        for _trial in range(world.plan.big_trials):
            direct.append(_direct_fetch(http, url)[0])
            first.append(_first_load(world, conn, f"rows{BIG}", "big").latency)
    finally:
        conn.close()
    return {"label": label, "direct_ms": ms(min(direct)), "first_ms": ms(min(first)),
            "first_ratio": min(first) / min(direct), "median_ratio": median(first) / median(direct)}


def _memory(server: Gunicorn) -> dict[int, dict[str, int]]:
    return {pid: proc_status(pid) for pid in server.worker_pids()}


def big_answer(world: World) -> dict:
    plan = world.plan
    url = f"{world.stack.upstream_base}/rows?n={BIG}"
    http = direct_session(world.stack.ca_file)
    http.get(url, timeout=60)  # warm: connection and server side
    conn = loadgen.Connection(HOST, world.port)
    memory_before = _memory(world.server)
    direct, first = [], []
    body = b""
    worker = None
    entry_kib = None
    peak_first_kib = 0
    try:
        # Untimed first round: it also tells what one 50k answer costs its worker in RSS.
        _direct_fetch(http, url)
        worker = int(_first_load(world, conn, f"rows{BIG}", "big").worker)
        before = memory_before.get(worker, {}).get("VmRSS")
        status = proc_status(worker)
        after = status.get("VmRSS")
        peak_first_kib = status.get("VmHWM", 0)
        if before and after:
            entry_kib = after - before
        for _trial in range(plan.big_trials):
            seconds, body = _direct_fetch(http, url)
            direct.append(seconds)
            response = _first_load(world, conn, f"rows{BIG}", "big")
            first.append(response.latency)
        parse = []
        for _ in range(7):
            started = time.perf_counter()
            _decode(body)
            parse.append(time.perf_counter() - started)
        parse_once = min(parse)  # the fastest: the denominator of 4b is not inflated by noise
        # Searches on the hit: the same worker holds the entry (the connection stays on it).
        first_search = conn.request(world.options(f"rows{BIG}", q=SEARCHES[0], limit=50))
        _check(first_search, "first search", cached=True)
        searches = []
        totals = {}
        for _ in range(plan.search_rounds):
            for q in SEARCHES:
                response = conn.request(world.options(f"rows{BIG}", q=q, limit=50))
                data = _check(response, f"search {q!r}", cached=True)
                totals[q] = data["total"]
                searches.append(response.latency)
    finally:
        conn.close()
    memory_after = _memory(world.server)
    workers = []
    for pid, after in memory_after.items():
        before = memory_before.get(pid, {})
        workers.append({"pid": pid, "rss_before_mib": before.get("VmRSS", 0) / 1024,
                        "rss_after_mib": after.get("VmRSS", 0) / 1024, "peak_mib": after.get("VmHWM", 0) / 1024,
                        "served": pid == worker})
    return {
        "rows": BIG, "bytes": len(body), "direct_ms": ms(min(direct)), "first_ms": ms(min(first)),
        "first_ratio": min(first) / min(direct), "median_ratio": median(first) / median(direct),
        "direct_median_ms": ms(median(direct)), "first_median_ms": ms(median(first)),
        "direct_all_ms": [ms(x) for x in direct],
        "first_all_ms": [ms(x) for x in first], "parse_ms": ms(parse_once),
        "first_search_ms": ms(first_search.latency), "search_ms": ms(median(searches)),
        "search_p90_ms": ms(percentile(searches, 90)), "search_ratio": median(searches) / parse_once,
        "search_totals": totals, "entry_mib": (entry_kib or 0) / 1024, "workers": workers,
        "peak_first_mib": peak_first_kib / 1024,
        "trials": plan.big_trials,
    }


# --- 5. time to the first page ---------------------------------------------------------------------


def curve(world: World) -> dict:
    plan = world.plan
    http = direct_session(world.stack.ca_file)
    conn = loadgen.Connection(HOST, world.port)
    points = []
    try:
        for n in SIZES:
            url = f"{world.stack.upstream_base}/rows?n={n}"
            http.get(url, timeout=60)
            direct, first = [], []
            for _ in range(plan.curve_trials):
                direct.append(_direct_fetch(http, url)[0])
                first.append(_first_load(world, conn, f"rows{n}", "big").latency)
            # The fastest of the interleaved trials: noise only ever adds time.
            points.append({"rows": n, "first_ms": ms(min(first)), "direct_ms": ms(min(direct)),
                           "us_per_row": ms(min(first)) * 1000 / n, "ratio": min(first) / min(direct)})
    finally:
        conn.close()
    big = [p for p in points if p["rows"] >= 10_000]
    exponent = slope([p["rows"] for p in big], [p["first_ms"] for p in big])
    return {"points": points, "exponent": exponent, "trials": plan.curve_trials}


# --- 6. a hanging datasource -----------------------------------------------------------------------


HEALTHY_RATE = 50.0  # requests per second for the healthy datasource, on a fixed schedule


def _healthy_series(world: World, seconds: float) -> dict:
    result = loadgen.open_loop(HOST, world.port, world.options("healthy", limit=50), rate=HEALTHY_RATE,
                               seconds=seconds, drain_seconds=world.plan.hang_timeout + 5)
    lat = result.latencies
    return {"p50_ms": ms(median(lat)), "p95_ms": ms(percentile(lat, 95)), "max_ms": ms(max(lat)) if lat else 0.0,
            "n": len(lat), "statuses": result.statuses, "unanswered": result.errors, "latencies": lat}


def hanging(world: World) -> dict:
    plan = world.plan
    from connect_plugin.datasources.rest import DEFAULT_MAX_CONCURRENT

    # Warm the healthy path (connections to the upstream in both workers).
    _healthy_series(world, 1.0)
    baseline = _healthy_series(world, plan.hang_seconds)
    variants = []
    threads = world.server.threads
    # The default limit, half the threads, and the largest limit that leaves a thread
    # free even when every call in flight and every caller waiting for a slot hangs.
    limits = []
    for limit in (DEFAULT_MAX_CONCURRENT, max(1, threads // 2), max(1, (threads - 1) // 2)):
        if limit not in limits:
            limits.append(limit)
    for limit in limits:
        world.api.patch_datasource(world.datasources["hanging"], {"max_concurrent_calls": limit})
        stop = threading.Event()
        box: dict = {}

        def pressure(box: dict = box, stop: threading.Event = stop) -> None:
            box["result"] = loadgen.closed_loop(
                HOST, world.port, world.options("hanging", limit=50), connections=plan.hang_clients,
                seconds=plan.hang_seconds + 60, pause=plan.hang_retry_pause, stop=stop, drain_seconds=0)

        thread = threading.Thread(target=pressure, daemon=True)
        thread.start()
        time.sleep(2.0)  # the hanging calls pile up first
        measured = _healthy_series(world, plan.hang_seconds)
        stop.set()
        thread.join(30)
        result = box.get("result")
        variants.append({"limit": limit, "healthy": measured,
                         "hanging_statuses": dict(result.statuses) if result else {}})
        time.sleep(plan.hang_timeout + 1.0)  # let the abandoned calls time out in the workers
    after = _healthy_series(world, plan.hang_seconds)
    # The reference: both series without the hanging one, before and after, pooled.
    pooled = baseline.pop("latencies") + after.pop("latencies")
    reference = {"p50_ms": ms(median(pooled)), "p95_ms": ms(percentile(pooled, 95)), "n": len(pooled)}
    for variant in variants:
        variant["healthy"].pop("latencies", None)
        variant["ratio"] = variant["healthy"]["p95_ms"] / reference["p95_ms"]
    return {"baseline": baseline, "after": after, "reference": reference, "variants": variants, "threads": threads,
            "workers": world.server.workers, "clients": plan.hang_clients, "timeout": plan.hang_timeout,
            "retry_pause": plan.hang_retry_pause, "default_limit": DEFAULT_MAX_CONCURRENT}


def parsers(body: bytes) -> list[dict]:
    """Every JSON parser importable here, on the same payload (median of 7)."""
    import importlib

    candidates = [("json (stdlib)", "json", lambda m: m.loads), ("orjson", "orjson", lambda m: m.loads),
                  ("msgspec", "msgspec", lambda m: m.json.Decoder().decode), ("ujson", "ujson", lambda m: m.loads),
                  ("simdjson (pysimdjson, to Python objects)", "simdjson", lambda m: (lambda b: m.Parser().parse(b).as_dict())),
                  ("python-rapidjson", "rapidjson", lambda m: m.loads)]
    out = []
    for label, module, make in candidates:
        try:
            loads = make(importlib.import_module(module))
        except ImportError:
            continue
        times = []
        for _ in range(7):
            started = time.perf_counter()
            loads(body)
            times.append(time.perf_counter() - started)
        out.append({"parser": label, "ms": ms(median(times))})
    return out


def load_average() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


__all__ = ["Plan", "World", "seed", "latency", "throughput", "single_flight", "big_answer", "curve", "hanging",
           "parsers", "load_average"]
