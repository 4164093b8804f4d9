"""``python -m benchmarks.run [--quick] [--output BENCHMARKS.md]`` (``make bench``).

Starts a loopback HTTPS upstream, a private Redis when ``redis-server`` is on PATH,
and the reference host under gunicorn (2 workers, gthread) with the bench's bare
JSON route, runs the nine scenarios and the profiles, and writes the report. The
full run takes a few minutes on 2 cores; ``--quick`` well under two.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from . import paging, report, scenarios
from .stack import ROOT, Stack

WORKERS = 2
THREADS = 16  # the README's production recipe: --worker-class gthread --threads 16 (above the default limit of 8)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for module in ("flask", "sqlalchemy", "msgspec", "orjson", "gunicorn", "requests", "redis"):
        try:
            from importlib.metadata import version

            versions[module] = version(module)
        except Exception:  # noqa: BLE001 - only for the report
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "versions": versions,
            "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the Connect plugin against the limits of its stack.")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (under two minutes)")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="where to write the report")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profiles")
    args = parser.parse_args(argv)

    plan = scenarios.Plan.make(args.quick)
    started = time.monotonic()
    results: dict = {"quick": args.quick, "machine": machine(), "load_before": scenarios.load_average(),
                     "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "workers": WORKERS, "threads": THREADS}
    with Stack(quick=args.quick) as stack:
        log("starting the upstream (building its answers) and the database")
        stack.start_upstream(prebuild=(50, 500) + scenarios.SIZES)
        stack.prepare()
        results["redis"] = stack.start_redis()
        server = stack.start_gunicorn(workers=WORKERS, threads=THREADS)
        world = scenarios.seed(stack, server, plan)
        results["plan"] = plan.__dict__.copy()

        steps = [
            ("latency", "1. cache-hit latency", lambda: scenarios.latency(world)),
            ("throughput", "2. cache-hit throughput", lambda: scenarios.throughput(world)),
            ("flight_simple", "3. single flight (SimpleCache)", lambda: scenarios.single_flight(world, "SimpleCache")),
            ("big", "4. a 50,000-row answer", lambda: scenarios.big_answer(world)),
            ("curve", "5. time to the first page", lambda: scenarios.curve(world)),
            ("hanging", "6. a hanging datasource", lambda: scenarios.hanging(world)),
            ("paging", "10. the first load of a 50-page answer", lambda: paging.run(world)),
        ]
        for key, title, step in steps:
            log(title)
            try:
                results[key] = step()
                results[key]["load"] = scenarios.load_average()
            except Exception:  # noqa: BLE001 - one failed scenario must not hide the others
                results[key] = {"error": traceback.format_exc(limit=4)}
                log(f"{title} failed:\n{results[key]['error']}")
        stack.stop_gunicorn(server)

        if results["redis"]:
            log("3. single flight (RedisCache): a second gunicorn on the private Redis")
            try:
                redis_server = stack.start_gunicorn(workers=WORKERS, threads=THREADS, cache="redis")
                world.server = redis_server
                world.cookie = scenarios.session_cookie(redis_server.base, "alice", "alice-pw")
                world.api = scenarios.Api(redis_server.base)
                results["flight_redis"] = scenarios.single_flight(world, "RedisCache")
                stack.stop_gunicorn(redis_server)
            except Exception:  # noqa: BLE001
                results["flight_redis"] = {"error": traceback.format_exc(limit=4)}

        log("4a diagnostic: the first load without the pickled copy (a gunicorn with CACHE_TYPE=NullCache)")
        try:
            null_server = stack.start_gunicorn(workers=WORKERS, threads=THREADS,
                                               extra_env={"CACHE_TYPE": "NullCache"})
            world.server = null_server
            world.cookie = scenarios.session_cookie(null_server.base, "alice", "alice-pw")
            world.api = scenarios.Api(null_server.base)
            results["big_nullcache"] = scenarios.first_load_only(world, "NullCache")
            stack.stop_gunicorn(null_server)
        except Exception:  # noqa: BLE001
            results["big_nullcache"] = {"error": traceback.format_exc(limit=4)}

        log("4c. peak RSS per worker: 10 loads of the 50k answer, each after a clear, and 50 searches "
            "(a gunicorn of its own)")
        try:
            from . import memory

            memory_server = stack.start_gunicorn(workers=WORKERS, threads=THREADS)
            results["memory"] = memory.run(world, memory_server)
            stack.stop_gunicorn(memory_server)
        except Exception:  # noqa: BLE001
            results["memory"] = {"error": traceback.format_exc(limit=4)}

        if "error" not in results.get("big", {"error": 1}):
            log("JSON parsers on the 50,000-row payload")
            body = stack.upstream.get(f"{stack.upstream_base}/rows?n={scenarios.BIG}", timeout=60).content
            results["parsers"] = scenarios.parsers(body)

        log("9. stats recording on a cache hit (in process, recording on and off by turns)")
        try:
            from . import recording

            results["recording"] = recording.run(stack, world, args.quick)
        except Exception:  # noqa: BLE001
            results["recording"] = {"error": traceback.format_exc(limit=4)}

        if not args.no_profile:
            log("profiles (pyinstrument, in process)")
            try:
                from . import profiles

                results["profiles"] = profiles.run(stack, world, args.quick)
            except Exception:  # noqa: BLE001
                results["profiles"] = {"error": traceback.format_exc(limit=4)}
    log("11. the edit screen of DEMO-1 in Chromium (cold and warm)")
    try:
        from . import edit_screen

        results["edit_screen"] = edit_screen.run(args.quick)
    except Exception:  # noqa: BLE001
        results["edit_screen"] = {"error": traceback.format_exc(limit=4)}
    log("8. JQL search by a connected value on PostgreSQL (in process)")
    try:
        from . import jql_search

        results["jql"] = jql_search.run(args.quick)
    except Exception:  # noqa: BLE001
        results["jql"] = {"error": traceback.format_exc(limit=4)}
    log("7. the redactor after many tokens (in process)")
    try:
        from . import redaction

        results["redaction"] = redaction.run(args.quick)
    except Exception:  # noqa: BLE001
        results["redaction"] = {"error": traceback.format_exc(limit=4)}
    results["load_after"] = scenarios.load_average()
    results["seconds"] = time.monotonic() - started
    Path(args.output).write_text(report.render(results))
    log(f"wrote {args.output} in {results['seconds']:.0f} s")
    print(report.summary_text(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
