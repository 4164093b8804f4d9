"""A process that runs the plugin on the reference host and reports its memory.

    python -m tests.support.memory_probe WORKDIR CA_BUNDLE API_BASE MAX_BYTES

The API (a loopback HTTPS server the caller runs) answers ``/rows`` and ``/search``
with the same large list of rows. In this process: the test host with
``CONNECT_CACHE_MAX_BYTES=MAX_BYTES``, an item on ``/rows`` and an autocomplete item
on ``/search?q=$userInput``; then 10 loads of ``/rows``, each after a "clear cache",
50 distinct searches on that item (``q`` filters the cached answer) and 50 distinct
searches on the autocomplete item (each its own key). Prints one JSON line: VmRSS
before and after, VmHWM, and what the plugin kept.
"""

from __future__ import annotations

import gc
import json
import sys

from tests.conftest import ADMIN, build_app, dispose, login, make_datasource, make_item, seed_people

CLEARS = 10
SEARCHES = 50


def status_kib() -> dict[str, int]:
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def run(workdir: str, ca_bundle: str, api_base: str, max_bytes: int) -> dict:
    app = build_app(workdir, ca_bundle, CONNECT_CACHE_MAX_BYTES=str(max_bytes))
    try:
        seed_people(app)
        client = app.test_client()
        ds = make_datasource(client, api_base, cache_ttl_seconds=3600)
        rows = make_item(client, ds["id"], name="Rows", query="/rows")
        search = make_item(client, ds["id"], name="Search", query="/search?q=$userInput", editor="autocomplete")
        small = make_item(client, ds["id"], name="Small", query="/small")
        alice = app.test_client()
        login(alice, "alice", "alice-pw")  # a session: Basic would hash the password on every call

        def options(item, **params):
            response = alice.get(f"/plugins/connect/api/items/{item['id']}/options",
                                 query_string={"project": "DEMO", **params})
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            return response.json

        options(small)  # every module and pool of the request path loaded
        gc.collect()
        before = status_kib()
        loads = []
        for clear in range(CLEARS):
            cleared = client.post(f"/plugins/connect/api/datasources/{ds['id']}/cache/clear", headers=ADMIN)
            assert cleared.status_code == 200
            loads.append(options(rows, limit=5)["cached"])
            if clear == 0:
                first = status_kib()
        searched = [options(rows, q=f"asset {i:05d}", limit=5) for i in range(SEARCHES)]
        typed = [options(search, q=f"asset {i}", limit=5) for i in range(SEARCHES)]
        gc.collect()
        after = status_kib()
        memo = app.extensions["connect"].cache.memo
        plugin_cache = app.extensions["connect"].cache.cache.cache
        return {
            "rss_before_kib": before["VmRSS"], "rss_after_kib": after["VmRSS"], "peak_kib": after["VmHWM"],
            "first_rss_kib": first["VmRSS"], "first_peak_kib": first["VmHWM"],
            "loads_cached": loads, "searches_cached": [page["cached"] for page in searched],
            "search_totals": sorted({page["total"] for page in searched}),
            "typed_cached": [page["cached"] for page in typed],
            "memo_entries": len(memo._data), "memo_bytes": getattr(memo, "bytes", None),
            "simplecache_entries": len(getattr(plugin_cache, "_cache", {})),
        }
    finally:
        dispose(app)


if __name__ == "__main__":
    workdir, ca_bundle, api_base, max_bytes = sys.argv[1:5]
    print(json.dumps(run(workdir, ca_bundle, api_base, int(max_bytes))))
