"""BENCHMARKS.md from the results of one run."""

from __future__ import annotations

from typing import Any

TARGETS = {
    # Issue 17's goals (ratios of one run).
    "latency": 1.15,
    "latency_issue": 1.25,
    "throughput": 0.85,
    "flight": 1,
    "first": 1.3,
    "search": 0.05,
    "edit_screen_warm_ms": 150,
    "exponent": 1.1,
    "hanging": 1.2,
    "recording": 1.05,
}


def _f(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _ok(flag: bool) -> str:
    return "**met**" if flag else "**not met**"


def _failed(results: dict, key: str) -> str | None:
    data = results.get(key)
    if data is None:
        return "not run"
    if "error" in data:
        return "failed: " + data["error"].strip().splitlines()[-1]
    return None


def edit_screen_row(results: dict) -> tuple[str, str, str, str, str]:
    """Issue 17's browser figure: the edit screen of DEMO-1, first options shown."""
    goal = f"report; warm < {TARGETS['edit_screen_warm_ms']} ms"
    screen = results.get("edit_screen")
    label = "the edit screen of DEMO-1 in Chromium: first options shown, cold (cache cleared) / warm"
    if screen is None:
        return ("11", label, "not measured: no browser run in this bench yet (Playwright + /usr/bin/chromium "
                            "against the demo; see the issue 17 notes)", goal, "")
    if "error" in screen:
        why = screen["error"] if screen["error"].startswith("not measured") else _failed(results, "edit_screen")
        return ("11", label, why, goal, "")
    return ("11", label, f"cold {screen['cold_ms']:.0f} ms, warm {screen['warm_ms']:.0f} ms ({screen['fields']} fields)",
            goal, _ok(screen["warm_ms"] < TARGETS["edit_screen_warm_ms"]))


def rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """(scenario, figure, measured, target, verdict) for the summary table."""
    out = []
    lat = results.get("latency", {})
    if _failed(results, "latency"):
        out.append(("1", "cache-hit latency ratio", _failed(results, "latency"), f"<= {TARGETS['latency']}", ""))
    else:
        out.append(("1", "options on a cache hit (50 of 500) / bare endpoint, median latency",
                    f"{_f(lat['ratio'])}x ({_f(lat['options']['median_ms'])} ms vs {_f(lat['bare']['median_ms'])} ms)",
                    f"<= {TARGETS['latency']} (limit 1.0)", _ok(lat["ratio"] <= TARGETS["latency"])))
        out.append(("1b", "same, with `issue=DEMO-1` (the host's permission check on the issue)",
                    f"{_f(lat['ratio_issue'])}x ({_f(lat['options_issue']['median_ms'])} ms)",
                    f"<= {TARGETS['latency_issue']}", _ok(lat["ratio_issue"] <= TARGETS["latency_issue"])))
    thr = results.get("throughput", {})
    if _failed(results, "throughput"):
        out.append(("2", "cache-hit throughput ratio", _failed(results, "throughput"), f">= {TARGETS['throughput']}", ""))
    else:
        out.append(("2", f"cache-hit throughput, {results['workers']} workers: options / bare",
                    f"{_f(thr['cpu_ratio'])} by worker CPU per answer ({_f(thr['cpu_options_ms'], 3)} vs "
                    f"{_f(thr['cpu_bare_ms'], 3)} ms); wall clock {_f(thr['ratio'])} ({thr['options_rps']:.0f} vs "
                    f"{thr['bare_rps']:.0f} req/s)",
                    f">= {TARGETS['throughput']}", _ok(thr["cpu_ratio"] >= TARGETS["throughput"])))
    for key, label in (("flight_simple", "SimpleCache, per process"), ("flight_redis", "RedisCache, shared")):
        if key == "flight_redis" and not results.get("redis"):
            out.append(("3", "100 concurrent cold requests, one key: upstream calls (RedisCache)",
                        "not run: no redis-server on PATH", "1", ""))
            continue
        if _failed(results, key):
            out.append(("3", f"upstream calls ({label})", _failed(results, key), "1", ""))
            continue
        fl = results[key]
        # The target is about upstream calls; answers refused as busy (503 with
        # Retry-After, which the field script retries) are shown in section 3.
        verdict = _ok(fl["max_calls"] <= TARGETS["flight"])
        if key == "flight_simple" and fl["max_calls"] > 1:
            verdict = "**not met** by design: one call per worker (see 3)"
        out.append(("3", f"100 concurrent cold requests for one key: upstream calls ({label})",
                    f"{', '.join(map(str, fl['calls']))} (per trial)", "1", verdict))
    big = results.get("big", {})
    if _failed(results, "big"):
        out.append(("4", "50,000-row answer", _failed(results, "big"), "", ""))
    else:
        out.append(("4a", f"50,000 rows ({big['bytes'] / 1e6:.1f} MB): first load / direct fetch + parse",
                    f"{_f(big['first_ratio'])}x (fastest of {big['trials']}: {big['first_ms']:.0f} ms vs "
                    f"{big['direct_ms']:.0f} ms; medians {_f(big['median_ratio'])}x)",
                    f"<= {TARGETS['first']}", _ok(big["first_ratio"] <= TARGETS["first"])))
        out.append(("4b", "search (`q`) on a cache hit / parsing the payload once",
                    f"{_f(big['search_ratio'], 3)}x ({_f(big['search_ms'])} ms vs {_f(big['parse_ms'], 1)} ms)",
                    f"<= {TARGETS['search']}", _ok(big["search_ratio"] <= TARGETS["search"])))
        peak = max(w["peak_mib"] for w in big["workers"])
        served = [w for w in big["workers"] if w["served"]] or big["workers"]
        nc = results.get("big_nullcache")
        if nc and "error" not in nc:
            out.append(("4a'", "diagnostic: the same with `CACHE_TYPE=NullCache` (no pickled copy of the options)",
                        f"{_f(nc['first_ratio'])}x (fastest: {nc['first_ms']:.0f} ms vs {nc['direct_ms']:.0f} ms; "
                        f"medians {_f(nc['median_ratio'])}x)",
                        "context", "see proposal P1"))
        out.append(("4c'", "context: peak memory (VmHWM) of scenario 4's worker, after scenarios 1-3",
                    f"{big['peak_first_mib']:.0f} MiB after the first load of the 50k answer (RSS "
                    f"{served[0]['rss_before_mib']:.0f} MiB before, +{big['entry_mib']:.0f} MiB after); "
                    f"{peak:.0f} MiB after {big['trials'] + 1} loads, each after a cache clear", "context",
                    "see 4"))
    mem = results.get("memory", {})
    if _failed(results, "memory"):
        out.append(("4c", "peak RSS per worker", _failed(results, "memory"), "<= 200 MiB, flat", ""))
    else:
        out.append(("4c", f"peak RSS per worker (VmHWM), fresh workers: {mem['loads']} loads of the 50k answer, "
                          f"each after a clear, then {mem['searches']} distinct searches",
                    "; ".join(f"{w['peaks_mib'][0]:.0f} MiB after the first load, {w['peak_mib']:.0f} MiB at the "
                              f"end (+{w['growth_after_first_mib']:.1f})" for w in mem["workers"]),
                    f"<= {mem['goal_mib']:.0f} MiB, flat after the first (+< {mem['flat_mib']:.0f} MiB)",
                    f"peak {_ok(mem['peak_met'])}; flat {_ok(mem['flat_met'])}"
                    + ("" if mem["flat_met"] else f": +{mem['growth_after_first_mib']:.0f} MiB by the 3rd load, "
                                                  f"+{mem['growth_after_third_mib']:.1f} MiB after it (see 4c)")))
    out.append(edit_screen_row(results))
    cur = results.get("curve", {})
    if _failed(results, "curve"):
        out.append(("5", "time to the first page", _failed(results, "curve"), "linear or better", ""))
    else:
        pts = ", ".join(f"{p['rows'] // 1000}k {p['first_ms']:.0f} ms" for p in cur["points"])
        out.append(("5", "time to the first page (1k, 10k, 50k, 100k rows)",
                    f"{pts}; exponent {_f(cur['exponent'])} (10k..100k)", "linear or better (<= 1.1)",
                    _ok(cur["exponent"] <= TARGETS["exponent"])))
    hang = results.get("hanging", {})
    if _failed(results, "hanging"):
        out.append(("6", "healthy p95 while another hangs", _failed(results, "hanging"), "<= 1.2", ""))
    else:
        for variant in hang["variants"]:
            default = " (the default)" if variant["limit"] == hang["default_limit"] else ""
            out.append(("6", f"healthy datasource p95 while another hangs / without: hanging one limited to "
                             f"{variant['limit']} calls in flight{default}, {hang['threads']} threads per worker",
                        f"{_f(variant['ratio'])}x ({variant['healthy']['p95_ms']:.1f} ms vs "
                        f"{hang['reference']['p95_ms']:.1f} ms)", "<= 1.2",
                        _ok(variant["ratio"] <= TARGETS["hanging"])))
    red = results.get("redaction", {})
    if _failed(results, "redaction"):
        out.append(("7", "redactor after many tokens", _failed(results, "redaction"), "flat", ""))
    elif red:
        first, last = red["points"][0], red["points"][-1]
        pts = "; ".join(f"{p['seen']:,} seen: {p['held']:,} held, {_f(p['redact_us'], 1)} us per URL, "
                        f"{_f(p['register_us'], 1)} us per token" for p in red["points"])
        out.append(("7", "the process-wide redactor after N OAuth2 tokens: masking one URL", pts,
                    "flat in N (was 239 ms per URL at 200k)",
                    _ok(last["redact_us"] <= 3 * max(first["redact_us"], 1.0)
                        and all(p["masked"] for p in red["points"]))))
    pag = results.get("paging", {})
    if _failed(results, "paging"):
        out.append(("10", "first load of a 50-page answer", _failed(results, "paging"), "<= 1.3", ""))
    elif pag:
        out.append(("10", f"first load of a {pag['pages']}-page answer ({pag['rows']:,} rows, Link headers) / "
                         "fetching and parsing those pages directly",
                    f"{_f(pag['ratio'])}x ({_f(pag['first_ms'], 1)} ms vs {_f(pag['direct_ms'], 1)} ms; medians "
                    f"{_f(pag['median_ratio'])}x)", f"<= {pag['goal']}", _ok(pag["ratio"] <= pag["goal"])))
    jql = results.get("jql", {})
    if _failed(results, "jql"):
        out.append(("8", "JQL search by a connected value", _failed(results, "jql"), "<= 50 ms", ""))
    elif jql.get("skipped"):
        out.append(("8", "JQL search by a connected value over 100,000 issues (PostgreSQL)",
                    f"not run: {jql['skipped']}", "<= 50 ms median", ""))
    elif jql:
        out.append(("8", f"JQL `connected_item_N = value` over {jql['issues']:,} issues on PostgreSQL, "
                         "first page of 50 with its total, median",
                    f"{_f(jql['by_value_ms'], 1)} ms (`in (a, b)`: {_f(jql['by_in_ms'], 1)} ms; without the "
                    f"value index: {_f(jql['no_index_ms'], 1)} ms; label `~`, not indexed: "
                    f"{_f(jql['by_label_ms'], 1)} ms)", f"<= {jql['goal_ms']:.0f} ms",
                    _ok(jql["by_value_ms"] <= jql["goal_ms"])))
    rec = results.get("recording", {})
    if _failed(results, "recording"):
        out.append(("9", "cache hit with stats recording / without", _failed(results, "recording"), "<= 1.05", ""))
    else:
        out.append(("9", "cache hit with stats recording / without (in process, CPU per request)",
                    f"{_f(rec['ratio'], 3)}x ({_f(rec['on_ms'], 3)} ms vs {_f(rec['off_ms'], 3)} ms)", "<= 1.05",
                    _ok(rec["ratio"] <= TARGETS["recording"])))
    return out


def summary_text(results: dict) -> str:
    lines = ["| # | figure | measured | target | |", "|---|---|---|---|---|"]
    for row in rows(results):
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _table(header: list[str], body: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in body:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def render(results: dict) -> str:
    m = results["machine"]
    plan = results.get("plan", {})
    parts = [
        "# BENCHMARKS",
        "",
        "Written by `make bench` (`python -m benchmarks.run"
        + (" --quick" if results["quick"] else "") + "`); do not edit by hand. "
        "Every ratio compares two series measured side by side in the same run, interleaved "
        "where possible: the machine is shared and noisy, so absolute figures are context only.",
        "",
        f"- Run: {results['started']}, {results['seconds']:.0f} s"
        + (" (**--quick**: fewer repetitions)" if results["quick"] else "")
        + f"; load average before {results['load_before']}, after {results['load_after']}.",
        f"- Machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, {m['platform']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        f"- Server: `gunicorn --workers {results['workers']} --worker-class gthread --threads {results['threads']} "
        "'benchmarks.bench_app:create_app()'` (the product app plus one bare route), SQLite in a temporary "
        "folder, `CACHE_TYPE=SimpleCache`"
        + (", and for scenario 3 also `RedisCache` on a private `redis-server`" if results.get("redis")
           else "; no `redis-server` on PATH, so scenario 3 ran with SimpleCache only")
        + ". Upstream: a threaded HTTPS server (its own process) on 127.0.0.1 with a CA made by "
        "`plugin_host.demo.certs`; rows of about 160 bytes. Logins: the session cookie of a project member "
        "(GET /login, csrf_token, POST).",
        "",
        "## Summary",
        "",
        summary_text(results),
        "",
    ]
    parts += _details(results, plan)
    return "\n".join(parts) + "\n"


def _details(results: dict, plan: dict) -> list[str]:
    out: list[str] = []
    lat = results.get("latency")
    if lat and "error" not in lat:
        out += [
            "## 1. Cache-hit latency",
            "",
            f"One keep-alive connection, {lat['options']['n']} requests per endpoint after "
            f"{plan.get('latency_warmup')} warm-up rounds, the three endpoints rotated request by request. "
            "`options` is `/plugins/connect/api/items/<id>/options?project=DEMO&limit=50` for an item whose answer has 500 "
            "rows, `bare` is `/bench/bare` (same login check, the same first page as a constant).",
            "",
            _table(["endpoint", "median ms", "p90 ms"],
                   [[name, _f(lat[name]["median_ms"], 3), _f(lat[name]["p90_ms"], 3)]
                    for name in ("bare", "options", "options_issue")]),
            "",
            f"Ratio of medians: **{_f(lat['ratio'])}** (per block: "
            + ", ".join(_f(r) for r in lat["block_ratios"]) + f"); with `issue=DEMO-1`: {_f(lat['ratio_issue'])}.",
            "",
            "**1b.** With `issue`, the options endpoint also asks the host for the issue and whether the "
            "user may edit it (`HostAdapter.get_issue` and `can_edit_issue`), which the bare endpoint does not: "
            "in the reference host one Core query per request reads the issue, its project, its reporter and the "
            "user's membership (before issue 17: two ORM queries with joined loads plus a commit each). Without "
            "`issue`, `project=` costs one query for the project and the membership (`can_create_issue`). The "
            "profile below (`options?issue=`) shows them; see \"Issue 17\" at the end.",
            "",
        ]
    thr = results.get("throughput")
    if thr and "error" not in thr:
        out += [
            "## 2. Cache-hit throughput",
            "",
            f"{thr['connections']} keep-alive connections spread evenly over the workers (checked by the "
            f"`X-Bench-Worker` header), closed loop, {plan.get('throughput_seconds')} s per endpoint and round, "
            f"{len(thr['round_ratios'])} rounds alternating which endpoint goes first. The load generator is one "
            f"Python thread on the same 2 cores (it used {thr['client_cpu'] * 100:.0f}% of a core).",
            "",
            f"Wall clock: bare {thr['bare_rps']:.0f} req/s, options {thr['options_rps']:.0f} req/s; ratio per "
            "round " + ", ".join(_f(r) for r in thr["round_ratios"]) + f"; median {_f(thr['ratio'])}. "
            "Answers per worker in each series: " + "; ".join("/".join(map(str, b)) for b in thr["balance"]) + ".",
            "",
            f"Worker CPU per answer (user + system time of the worker processes during each series, divided by "
            f"the answers): bare {_f(thr['cpu_bare_ms'], 3)} ms, options {_f(thr['cpu_options_ms'], 3)} ms, so "
            f"2 dedicated cores serve options at **{_f(thr['cpu_ratio'])}** of the bare rate. That is the figure "
            "the verdict uses: the wall-clock rates also move with whatever else runs on the shared machine "
            f"(load average {thr.get('load', '?')} at the end of this scenario), and on a quiet machine the two "
            "agree.",
            "",
        ]
    out += ["## 3. Concurrent cold requests for one key", ""]
    for key in ("flight_simple", "flight_redis"):
        fl = results.get(key)
        if not fl or "error" in fl:
            if key == "flight_redis" and not results.get("redis"):
                out += ["RedisCache: not run, `redis-server` is not on PATH.", ""]
            elif fl:
                out += [f"{key}: failed:", "", "```", fl["error"], "```", ""]
            continue
        out += [
            f"**{fl['label']}**: {plan.get('flight_requests')} connections send the same request at once "
            f"after a cache clear; the upstream takes {0.3} s to answer.",
            "",
            _table(["trial", "upstream calls", "statuses", "answers with cached=false", "workers", "p50 ms",
                    "max ms"],
                   [[i + 1, t["calls"], t["statuses"], t["uncached_answers"], t["workers"], f"{t['p50_ms']:.0f}",
                     f"{t['max_ms']:.0f}"] for i, t in enumerate(fl["trials"])]),
            "",
        ]
    out += [
        "SimpleCache lives in each worker process, so the single flight holds per process: one upstream call "
        "per worker that receives part of the burst (2 here). That is the documented reason for "
        "`CACHE_TYPE=RedisCache` with several workers, where a short Redis lock makes the other workers wait "
        "for the one call.",
        "",
        "Each worker lets at most 8 callers of a datasource hold a slot and 4 more wait for one (the default "
        "limit; waiters for the same key count too, so that a hanging API cannot gather every thread behind "
        "one key). The rest of a burst this large gets `503 … is busy` with `Retry-After: 1` at once; the "
        "issue page's field script asks again after that second, when the answer is cached. A gentler rule "
        "for same-key waiters (no slot, refused only once the API stalls) served the whole burst but let a "
        "slow API's waiters be refused after 2 s, so it was not kept.",
        "",
    ]
    big = results.get("big")
    if big and "error" not in big:
        out += [
            "## 4. A 50,000-row answer",
            "",
            f"Payload {big['bytes']:,} bytes. Direct: `requests.Session().get(url).content` + msgspec's decoder (the plugin's parser), in "
            f"the bench process, keep-alive. First load: a cache clear, then `options?project=DEMO&limit=50` through the app. "
            f"{big['trials']} interleaved trials each after one untimed round. The ratio uses the fastest trial of "
            "each side (noise on a shared machine only ever adds time, so the minimum is the steadiest estimate "
            f"of each side's own cost; the ratio of medians was {_f(big['median_ratio'])}).",
            "",
            _table(["", "fastest ms", "median ms", "all trials ms"],
                   [["direct fetch + parse", f"{big['direct_ms']:.1f}", f"{big['direct_median_ms']:.1f}",
                     ", ".join(f"{x:.0f}" for x in big["direct_all_ms"])],
                    ["first load through the plugin", f"{big['first_ms']:.1f}", f"{big['first_median_ms']:.1f}",
                     ", ".join(f"{x:.0f}" for x in big["first_all_ms"])],
                    ["parse only (msgspec), fastest of 7", f"{big['parse_ms']:.1f}", "", ""],
                    ["first search on the hit (folds the labels once)", "", f"{big['first_search_ms']:.2f}", ""],
                    ["search on the hit, median (p90)", "",
                     f"{big['search_ms']:.2f} ({big['search_p90_ms']:.2f})", ""]]),
            "",
            "Searches: " + ", ".join(f"`{q}` ({n} matches)" for q, n in big["search_totals"].items()) + ".",
            "",
            _table(["worker", "RSS before MiB", "RSS after MiB", "peak (VmHWM) MiB", "served the loads"],
                   [[w["pid"], f"{w['rss_before_mib']:.0f}", f"{w['rss_after_mib']:.0f}", f"{w['peak_mib']:.0f}",
                     "yes" if w["served"] else "no"] for w in big["workers"]]),
            "",
            f"The first load of the 50k answer raises its worker's RSS by {big['entry_mib']:.0f} MiB: the cached "
            "entry itself (its size is under Profiles: the mapped options in the in-process memo, the only "
            "copy with SimpleCache) plus the memory that parsing the 8 MB answer took, which CPython's "
            "allocator keeps for reuse; the peak (VmHWM) adds what the parse holds while it runs. Each "
            "trial clears the cache first; storing the new generation drops the old one from the memo. This "
            "worker also served scenarios 1-3 first; 4c below measures fresh workers.",
            "",
        ]
        parsers = results.get("parsers")
        if parsers:
            out += ["JSON parsers importable here, same payload (median of 7):", "",
                    _table(["parser", "ms"], [[p["parser"], f"{p['ms']:.1f}"] for p in parsers]), ""]
    mem = results.get("memory")
    if mem and "error" not in mem:
        out += [
            "## 4c. Peak RSS per worker (issue 13 rule 10, issue 17)",
            "",
            f"A gunicorn of its own ({results['workers']} fresh workers, `CONNECT_CACHE_MAX_BYTES` at its default "
            "of 256 MiB, SimpleCache), one keep-alive connection per worker. "
            f"{mem['loads']} times: a cache clear, then the 50k answer loaded on every worker; then "
            f"{mem['searches']} distinct searches (`q`) on each worker. VmHWM (peak RSS) after each load, "
            "and at the end.",
            "",
            _table(["worker", "RSS before MiB", "RSS after the first load MiB", "peak after each load MiB",
                    "RSS at the end MiB", "peak at the end MiB", "peak growth after the first MiB"],
                   [[w["pid"], f"{w['rss_before_mib']:.0f}", f"{w['rss_first_mib']:.0f}",
                     ", ".join(f"{p:.0f}" for p in w["peaks_mib"]), f"{w['rss_after_mib']:.0f}",
                     f"{w['peak_mib']:.0f}", f"{w['growth_after_first_mib']:.1f}"] for w in mem["workers"]]),
            "",
            "The memo is bounded by bytes (an estimate made once per stored answer) and storing the answer of "
            "a new cache generation drops the old generation's at once, so after the first load a worker holds "
            "one 50k answer however often the cache is cleared; the searches filter that one answer (one entry "
            "per key, whatever `q`). SimpleCache keeps no second, pickled copy. Before (256 entries, SimpleCache "
            "500 entries, old generations left to age out): 375 MiB after 10 loads.",
            "",
            "What still grows after the first load is not kept answers: a miss drops the superseded "
            "generation before it loads, and the memo then holds one 50k answer. It is the allocator: the "
            "first load's parse (about 40 MiB of short-lived objects) frees memory around the entry that "
            "stays, and the next loads cannot reuse all of it, until it settles by the third load. A worker "
            "that keeps nothing (`CONNECT_CACHE_MAX_BYTES=0`, measured in process) stays flat from the "
            "first (within 10 MiB), and with the entry kept, tracemalloc (in process) sees the same "
            "Python-level peak on every load (48 MiB, 9 MiB of it the kept answer): the growth is "
            "fragmentation, not objects. `MALLOC_ARENA_MAX=2` changed nothing; `malloc_trim(0)` after each "
            "load lowered the resting RSS by 14 MiB but not the peak of the second load. Issue 17's second "
            "round halved the load's own peak (tracemalloc, in process, 50,000 rows: 41.5 MiB for the whole "
            "parse + map before, 20.4 MiB with the row decoder's structs; 9.8 MiB kept either way), which "
            "lowered the peak after the first load (see the table) but not the growth after it: the "
            "fragmentation comes from the kept options (50,000 tuples and their strings, interleaved with "
            "what each load frees). Closing it would take a compact entry (the options in a few large "
            "buffers rather than 150,000 small objects), which every reader of the entry would have to "
            "go through: not done.",
            "",
        ]
    cur = results.get("curve")
    if cur and "error" not in cur:
        out += [
            "## 5. Time to the first page",
            "",
            f"Cache clear, then `options?project=DEMO&limit=50`; {cur['trials']} interleaved trial(s) per size, the fastest "
            "of each side.",
            "",
            _table(["rows", "first page ms", "us per row", "direct fetch + parse ms", "first / direct"],
                   [[f"{p['rows']:,}", f"{p['first_ms']:.1f}", f"{p['us_per_row']:.2f}", f"{p['direct_ms']:.1f}",
                     _f(p["ratio"])] for p in cur["points"]]),
            "",
            f"Fitted exponent of time against rows from 10k to 100k: **{_f(cur['exponent'])}** (1.0 is linear; "
            "below 1.0 the fixed cost of a request still shows).",
            "",
        ]
    hang = results.get("hanging")
    if hang and "error" not in hang:
        base = hang["baseline"]
        out += [
            "## 6. A healthy datasource while another hangs",
            "",
            f"Healthy: an item whose datasource has caching off (every request calls the upstream, 50 rows), "
            f"asked 50 times a second on a fixed schedule, each request on a connection of its own (many "
            f"users; gunicorn's workers take them as they come) and timed from when it was due (open loop: a "
            f"stall is measured, not skipped), {plan.get('hang_seconds')} s per series. "
            f"Hanging: an item whose upstream never answers (timeout {hang['timeout']} s), "
            f"{hang['clients']} clients (more than the {hang['workers']} x {hang['threads']} worker threads), "
            f"each asking again {hang['retry_pause']:g} s after its answer (504, or 503 when the datasource is "
            "busy).",
            "",
            _table(["series", "healthy p50 ms", "healthy p95 ms", "max ms", "requests", "hanging answers"],
                   [["without the hanging one", f"{base['p50_ms']:.1f}", f"{base['p95_ms']:.1f}",
                     f"{base['max_ms']:.0f}", base["n"], ""]]
                   + [[f"hanging one, limit {v['limit']}", f"{v['healthy']['p50_ms']:.1f}",
                       f"{v['healthy']['p95_ms']:.1f}", f"{v['healthy']['max_ms']:.0f}", v["healthy"]["n"],
                       v["hanging_statuses"]] for v in hang["variants"]]
                   + [["without, again afterwards", f"{hang['after']['p50_ms']:.1f}",
                       f"{hang['after']['p95_ms']:.1f}", f"{hang['after']['max_ms']:.0f}", hang["after"]["n"], ""]]),
            "",
            f"The reference p95 is that of both series without the hanging datasource, pooled: "
            f"{hang['reference']['p95_ms']:.1f} ms over {hang['reference']['n']} requests.",
            "",
        ]
    rec = results.get("recording")
    if rec and "error" not in rec:
        out += [
            "## 9. Stats recording on a cache hit",
            "",
            "In the bench process, the gunicorn app's database driven by Flask's test client: "
            f"{rec['rounds']} rounds of {rec['count']} cache hits with recording on and {rec['count']} with it off "
            "(the recorder's `recording` switch, which only the bench turns off), the order swapped every round; "
            "CPU time of the process per request, its background flush thread included "
            f"(store: `{rec['store']}`).",
            "",
            f"Median {rec['on_ms']:.3f} ms with recording, {rec['off_ms']:.3f} ms without; the median of the "
            f"rounds' ratios **{rec['ratio']:.3f}** (per round: " + ", ".join(_f(r, 3) for r in rec["block_ratios"]) + "). "
            f"The hook alone (one cache-hit count, timed in a loop) takes {rec['hook_us']:.2f} µs, "
            f"{100 * rec['hook_share']:.2f} % of a hit: the ratio's spread is the shared machine's noise, "
            "not the recording.",
            "",
        ]
    out += _edit_screen_section(results.get("edit_screen"))
    out += _paging_section(results.get("paging"), (results.get("profiles") or {}).get("paging_steps"))
    prof = results.get("profiles")
    if prof and "error" not in prof:
        t = prof["in_process_ms"]
        out += [
            "## Profiles",
            "",
            "In the bench process, the same app and database driven by Flask's test client (no network), "
            f"per request: bare {t['bare']:.3f} ms, options {t['options']:.3f} ms, options with issue "
            f"{t['options_issue']:.3f} ms.",
            "",
        ]
        first = prof.get("first_load")
        if first:
            out += ["First load of the 50,000-row answer, each step timed alone with the product's functions "
                    "(median):", "",
                    _table(["step", "ms"], [[s["label"], f"{s['ms']:.1f}"] for s in first["steps"]]), "",
                    f"The cached entry: {first['entry_objects_mib']:.1f} MiB of Python objects (the mapped "
                    f"options in the in-process memo; the memo's own estimate: {first['entry_estimate_mib']:.1f} MiB "
                    f"with the folded labels) and {first['entry_pickled_mib']:.1f} MiB pickled (the copy that "
                    "`Cache.set` stores in Redis; with SimpleCache none is stored).", ""]
        if not prof.get("hit"):
            out += ["pyinstrument is not installed here, so the call trees are missing (it belongs in the dev "
                    "extras).", ""]
        for key, title in (("hit", "cache hit, `options?project=DEMO&limit=50`"), ("hit_issue", "cache hit with `issue=DEMO-1`"),
                           ("cold", "first load of 50,000 rows (cache clear + options)"),
                           ("search", "searches (`q`) on the cached 50,000-row answer, scenario 4b's needles")):
            if prof.get(key):
                out += [f"pyinstrument, {title}:", "", "```", prof[key], "```", ""]
    elif prof:
        out += ["## Profiles", "", "```", prof["error"], "```", ""]
    out += _proposals(results)
    return out


# Issue 17, where the time went before and after (in process, Flask's test client, the
# bench's own app and database; measured side by side on the shared 2-core machine at a
# load average near 9, so shares and ratios, not absolute times).
ISSUE_17 = [
    "**Issue 17, before and after (in-process profiles, `benchmarks/profiles.py`).**",
    "",
    "- *Cache hit with `issue=`.* Before: `options_scope` was 72 % of `item_options` (pyinstrument, 250 hits): "
    "`HostAdapter.get_issue` 0.80 s (`issue_by_key`, an ORM select with the project and reporter joined, "
    "0.70 s) and `can_edit_issue` 0.40 s (`is_member`, a second ORM query), each followed by a session commit. "
    "After: one Core statement (`plugin_host/adapter.py`, `_ISSUE_READ`: issue, project key, reporter, "
    "`EXISTS` membership for the request's user) read once per request and kept in `g`; `can_edit_issue` "
    "answers from it for that user and asks `is_member` for anyone else; admins as before. `options_scope` "
    "fell to 39 % of `item_options`. Medians of 400 interleaved in-process requests: options with `issue=` / "
    "bare 4.4x before, 2.3x after; without `issue` 4.0x before, 2.25x after (in process there is no network "
    "or HTTP parsing, so these ratios are larger than gunicorn's).",
    "- *Cache hit with `project=`.* Before: `can_create_issue` 60 % of `item_options` (`project_by_key` + "
    "`is_member`, two ORM queries); after: one Core query (`_PROJECT_READ`), 28 %. `end_read` now returns at "
    "once for a session with no transaction begun.",
    "- Nothing is cached across requests, so permissions stay as fresh as before: a membership removed or "
    "given, or an issue edited, is seen by the next options request (`tests/test_options_host_reads.py`).",
    "- *Search `q` on a cached answer.* Before: a Python test per label over the case-folded list (50,000 "
    "iterations for any needle). After: `caching/answer.LabelIndex`, built on the first search of an entry: "
    "the folded labels joined into one string (each ended by NUL) with an array of offsets; a narrow needle is "
    "one regular-expression scan in C that jumps to the end of each matching label (offset to index by "
    "bisection), a broad one (held by more than a quarter of an evenly spaced sample of 512 labels) keeps the "
    "per-label test, which is cheaper there (a first version asked `str.count`, which the profile showed "
    "costing as much as the scan itself). Alone, on 50,000 labels (CPU time, fastest of 9): `team 42` 2.3 -> 0.6 ms, "
    "`phone 777` 1.7 -> 0.6 ms, `sn00` 2.1 -> 0.7 ms, no match 1.8 -> 0.5 ms, `of team` (every label) 2.1 ms "
    "either way. The memo's size estimate counts the joined copy (label length + 9 bytes per option).",
    "- *Second round: no commit on a hit.* The profile after the first round showed three commits of "
    "read-only transactions per hit (the reference host's lookups and the plugin's options path each gave "
    "their connection back after every read, so the next read checked one out again) at about a quarter of "
    "the plugin's own cost. Connections are now given back only when the request is about to wait for an "
    "upstream (`state.release_before_wait`, called by the outbound client before every call and by the miss "
    "gate before waiting for another caller's call; `HostAdapter.release_connections` is the host's side), "
    "so a hit reads the user, the permission and the item on one connection per database with no commit "
    "(`tests/test_options_host_reads.py` counts commits and checkouts, and checks that a request waiting "
    "on the upstream holds no connection of either pool). The pools keep 16 connections, one per worker "
    "thread: with connections held for a whole request, SQLite's default pool of 5 closed and reopened "
    "them under 8 concurrent requests, which cost more CPU than the commits saved. In process (CPU per "
    "request, fastest of 15 rounds of 200): options minus bare 0.46 ms before this round, 0.35 ms after.",
    "- *Second round: the first load.* A page's rows are read straight from its bytes with only the keys the "
    "templates use (`connected_items/row_decoder.py`: msgspec structs of those keys, untracked by the "
    "garbage collector, which the generated row loop reads by attribute; on the bench's 50,000 rows decode + "
    "map took 35 ms against 36 ms for the direct side's parse alone, fastest of 15 in process), instead "
    "of parsing the whole answer and then walking it: see the steps table under Profiles (the parse of the "
    "whole answer is what the direct side does; the row decoder is what a first load does instead).",
    "- *Under gunicorn.* The gap is larger than in process: latency +0.6-0.8 ms and worker CPU +0.7 ms per "
    "answer, against +0.35 ms of CPU in process. py-spy on a worker (500 Hz, idle included, a keep-alive "
    "loop of hits) sees the request thread's own frames at about 0.85 ms per hit against 0.44 ms per bare "
    "answer; the rest lies outside them. A likely part (not proven here) is the GIL changing hands around "
    "each SQLite call, which releases it: a hit makes three round trips to SQLite (user, permission, item) "
    "where the bare endpoint makes one.",
    "- *Left, and what would close it.* A hit still does two database reads that the bare endpoint does "
    "not: the host's permission read (issue or project with the membership, one Core query) and the item "
    "row on the plugin's own database (one Core query), each some 0.05-0.1 ms of SQLAlchemy's execution "
    "and result handling more than the read itself. Skipping them means keeping the item's configuration "
    "in each worker between requests, which needs a signal every worker and node sees when an admin changes "
    "it (Redis or the database: a read again) or a time-to-live (edits seen late, including which projects "
    "an item is offered in, a permission rule): not done. A search cannot cost less than a hit, so 4b's "
    "goal (0.05x of one parse) leaves about 0.1-0.2 ms above a hit for scanning 50,000 labels, below the "
    "C regular-expression scan's 0.5 ms.",
    "",
]


def _proposals(results: dict) -> list[str]:
    """What the profiles show and what would close each gap (for files the bench does not own)."""
    lat, big, hang = results.get("latency", {}), results.get("big", {}), results.get("hanging", {})
    prof = results.get("profiles") or {}
    steps = {s["step"]: s["ms"] for s in (prof.get("first_load") or {}).get("steps", [])}
    nc = results.get("big_nullcache") or {}
    out = ["## Where the time goes, and what closes the gaps", ""]
    out += [
        "Fixed in this round (the profiles above are after these):",
        "",
        "- **Cache hit** (`connect_plugin/connected_items/read_model.py`, `views/api_items.py`): the options endpoint read the item "
        "through the ORM with its datasource joined and the datasource's secrets in a second query; the profile "
        "showed that load as the plugin's largest own cost on a hit, as large as the host's user lookup. It is "
        "now one Core query (`connected_items.read_model.load_item`) into plain read-only rows; the secrets are read only when a "
        "miss calls the connector.",
        "- **Mapping** (`connect_plugin/connected_items/mapping.py`): templates that start with a placeholder (`${row.id}`) "
        "carried an empty literal part, so none of the specialised renderers ever applied; and each row cost "
        "two renderer calls plus one getter call per placeholder. The row loop is now generated once per mapping "
        "(compiled with the templates inlined as `row.get(key)` and one f-string, the literals and keys bound as "
        "locals, never pasted into the source), with the old renderers for rows that are not objects. "
        "50,000 rows map about twice as fast, with identical results (the unit and property tests, and a "
        "3,000-example comparison with the previous implementation).",
        "- JSONPath was already compiled (a direct traversal for simple paths) and mapped options were already "
        "what the cache keeps; the parser is msgspec (see P5).",
        "",
    ]
    out += ISSUE_17
    if lat and "error" not in lat:
        out += [
            "**1b, the host's issue check (scenario 1b).** With `issue=`, "
            f"the options endpoint costs {_f(lat['ratio_issue'])}x the bare one against {_f(lat['ratio'])}x without: "
            "the host looks up the issue and the user's membership, which the bare endpoint does not. The "
            "reference host reads both in one Core query per request (before issue 17: 1.84x with against 1.28x "
            "without); what is left of the gap is shared with `project=` (see \"Left\" above). A Jira user "
            "pays this once per field of the edit screen.",
            "",
        ]
    if big and "error" not in big:
        line = (f"**P1, the first load (scenario 4a).** The first load of 50,000 rows takes "
                f"{_f(big['first_ratio'])}x the direct fetch and parse. Of the steps measured one by one: fetch "
                f"{steps.get('fetch', 0):.0f} ms is what the direct fetch does too; the direct side then parses "
                f"the whole answer ({steps.get('parse', 0):.0f} ms) where a first load reads only the rows' used "
                f"keys ({steps.get('rows', 0):.0f} ms); mapping {steps.get('map', 0):.0f} ms is the plugin's own "
                f"work (a generated row loop, already halved); and with Redis {steps.get('store', 0):.0f} ms go to storing the mapped "
                "options in the shared cache, one orjson blob (12-18 ms as pickled tuples). With SimpleCache "
                "(scenario 4a) nothing is stored there any more: the memo is the process's only copy.")
        if nc and "error" not in nc:
            line += (f" Measured with `CACHE_TYPE=NullCache` (same run), which now does the same work as "
                     f"SimpleCache: {_f(nc['first_ratio'])}x.")
        out += [line, ""]
        out += [
            "**P2, memory (scenario 4c), done.** The memo (`connect_plugin/caching/memo.py`) is bounded by "
            "bytes (`CONNECT_CACHE_MAX_BYTES`, 256 MiB), not entries; storing a key drops the entries of older "
            "item versions and of older datasource versions and cache generations; expired entries go first "
            "when the bound is reached; SimpleCache keeps no pickled second copy. Left: a load in flight still "
            "holds its parsed JSON (about 3x the payload) besides the bound; a streaming parse would cut that.",
            "",
        ]
    if hang and "error" not in hang:
        variants = {v["limit"]: v for v in hang["variants"]}
        default = variants.get(hang["default_limit"])
        text = ("**P3, hanging datasources (scenario 6).** ")
        if default:
            text += (f"With the default limit ({hang['default_limit']} calls in flight) and gunicorn's "
                     f"{hang['threads']} threads per worker (the README's recipe), the healthy datasource's p95 went "
                     f"from {hang['reference']['p95_ms']:.0f} ms to {default['healthy']['p95_ms']:.0f} ms. ")
        measured = "; ".join(f"limit {k}: {_f(v['ratio'])}x" for k, v in sorted(variants.items(), reverse=True))
        text += (f"Measured ({measured}). What keeps a hanging API contained: callers waiting for another "
                 "caller's call to the same key take a slot too, only a successful call counts as progress (a "
                 "hanging API stays \"stalled\" and further callers are refused at once), and the README's recipe "
                 "runs more threads per worker (16) than the default limit (8).")
        out += [text, ""]
    out += [
        "**P4, scenario 3.** With SimpleCache each worker makes its own call (single flight is per process); "
        "with Redis the target holds. The README already says to use Redis with several workers; the "
        "reference host could warn at start-up when it runs several workers on SimpleCache.",
        "",
        "**P5, the JSON parser.** orjson was the first choice, but it is not exact: integers outside the "
        "64-bit range come back as floats, so an id `12345678901234567890123` rendered as "
        "`1.2345678901234568e+22` (and two such ids could collide in the de-duplication). Measured on the same "
        "8 MB payload (table above; in a scratch virtualenv also pysimdjson, ujson, python-rapidjson and yyjson, "
        "62-64 ms): msgspec was the fastest and is exact, refusing NaN, trailing data and bad UTF-8 like "
        "orjson. `parse_json` now uses `msgspec.json.Decoder().decode`; an answer nested deeper than Python's "
        "recursion limit is a clear error.",
        "",
    ]
    return out


def _edit_screen_section(screen: dict | None) -> list[str]:
    """Scenario 11 with the page's own timings: where a visit's time went."""
    if not screen or "error" in screen or "warm_steps" not in screen:
        return []
    names = [("html", "the issue page's HTML received"), ("calls_start", "the first options request sent"),
             ("dcl", "DOMContentLoaded"), ("first", "**the first field shows its options**"),
             ("calls_end", "the last options answer received"), ("all", "no field busy any more")]
    table = ["| moment (ms since the navigation began, median) | cold | warm |", "|---|---|---|"]
    table += [f"| {label} | {screen['cold_steps'][key]:.0f} | {screen['warm_steps'][key]:.0f} |"
              for key, label in names]
    return [
        "## 11. The edit screen of DEMO-1 in Chromium",
        "",
        f"{screen['trials']} cold visits (every datasource's cache cleared through the API just before) and as many "
        f"warm ones, alternating, on the demo served by gunicorn (2 gthread workers of 16 threads, the README's "
        f"recipe); {screen['fields']} connected fields, each asking for its options with `issue=DEMO-1`.",
        "",
        *table,
        "",
        f"Static files fetched on a warm visit: {screen['warm_steps']['static_fetched']:.0f} (their URLs carry "
        "the content digest of their folder and are cached for a year, `connect_plugin/static_files.py`; the "
        "field script's three modules are announced with `modulepreload`, so a cold browser fetches them at "
        "once rather than one import level at a time). Before, every visit fetched or revalidated the "
        "stylesheets and the four modules in three rounds, and werkzeug's development server in the bench's "
        "own process answered them beside Playwright's driver: warm 183 ms. What is left before the first "
        "request is the browser's own parse, style and script start on the shared 2-core machine; the "
        "answers themselves take 1-3 ms each in the workers.",
        "",
    ]


def _paging_section(pag: dict | None, parts: dict | None = None) -> list[str]:
    if not pag or "error" in pag:
        return []
    out = [
        "## 10. The first load of a 50-page answer",
        "",
        f"{pag['pages']} pages of {pag['rows'] // pag['pages']} rows behind GitHub-shaped Link headers, loaded "
        "through the host after a cache clear, against one keep-alive `requests` session following the same "
        "links and parsing each page with msgspec; the fastest of each side's "
        f"{pag.get('trials', 9)} trials, taken by turns "
        f"({_f(pag['first_ms'], 1)} ms vs {_f(pag['direct_ms'], 1)} ms; medians {_f(pag['first_median_ms'], 1)} ms "
        f"vs {_f(pag['direct_median_ms'], 1)} ms).",
        "",
    ]
    if parts:
        rows = [
            ["fetch + parse every page directly (the goal's baseline)", parts["direct"]],
            ["the plugin's walk alone: every page through its outbound client, rows read by the row decoder "
             "(`Connector.get_pages`)", parts["walk"]],
            ["the walk mapping each page's rows to options as the page arrives (`OptionCollector`, what a "
             "first load does)", parts["walk_map"]],
            ["the whole first load through the host (Flask's test client, after a cache clear)", parts["request"]],
        ]
        base = parts["direct"]["fastest_ms"]
        out += [
            f"Where the time goes, in process (the same upstream, {parts['rounds']} rounds, each step by turns):",
            "",
            _table(["", "fastest ms", "median ms", "fastest / direct"],
                   [[label, f"{row['fastest_ms']:.1f}", f"{row['median_ms']:.1f}",
                     f"{row['fastest_ms'] / base:.2f}x"] for label, row in rows]),
            "",
            "The walk itself costs less than the direct side: the plugin's call per page is now a little "
            "cheaper than `requests.Session.get` (it sends through the adapter, without the session's merging "
            "and cookie steps; requests prepares each origin once, not each URL, and the origin's host spelling "
            "is cached; guard, deadline, redaction and size cap stay per call), and the row decoder reads only "
            "the keys the templates use, into structs typed `str` when a page holds only strings (any other value "
            "falls back to the untyped structs for the next 64 pages), in about a third of the time of the direct "
            "side's full parse. What the direct side does not do at all is the rest: mapping 25,000 rows to "
            "(value, label) in the generated row loop (one dict store per row, no dict per row; a page of the "
            "typed decode is read by a loop of its own with no check per row; column-wise rewrites with "
            "`map`/`attrgetter` measured twice as slow), each page right after it is decoded, into one dict for "
            "all pages, which the cache keeps as it is (`caching/answer.py`: no tuple per option is built; "
            "building them cost 2 ms of each first load in a worker), and the host request around the load "
            "(session, permission, item, cache entry). Measured inside a worker (perf_counter around each step "
            "of one first load): fetching the 50 pages about 39-42 ms, decoding 6, mapping 6, next-page "
            "checks 2, storing 0.3; a plain `requests` walk over the same pages, run in the same worker, took "
            "43 ms against 36 ms in the bench's own process, so part of what is left is the worker's share of "
            "the 2-core machine rather than the plugin. A helper thread decoding one page while the next is "
            "fetched was tried and was slower: both halves hold the GIL.",
            "",
        ]
    return out
