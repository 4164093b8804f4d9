"""Memory is bounded by bytes, not entries (issue 13, rule 10): the in-process memo
holds at most CONNECT_CACHE_MAX_BYTES of mapped answers, one per key however many
``q`` values filter it; storing a newer version or cache generation drops the older
ones at once; SimpleCache keeps no second copy; and a process's RSS under searches
and clears of a 50,000-row answer stays under the bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import orjson
import pytest

from connect_plugin.caching.memo import Lineage, Memo, estimate_bytes
from connect_plugin.caching.answer import CachedAnswer
from connect_plugin.caching.response_cache import cache_key, key_lineage
from tests.conftest import ADMIN, ALICE, make_datasource, make_item
from tests.support.https_servers import Json, Reply

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
ROWS = 50_000


def rows_body(n: int = ROWS) -> bytes:
    return orjson.dumps({"items": [{"id": f"A-{i:05d}", "name": f"Asset {i:05d} of team {i % 97}"}
                                   for i in range(n)]})


def answer(n: int, tag: str = "") -> CachedAnswer:
    return CachedAnswer([(f"{tag}A-{i:05d}", f"Asset {i:05d} of team {i % 97}") for i in range(n)], time.time())


def lineage_key(item=1, item_version=1, ds=1, ds_version=1, generation=0, url="https://api/x") -> str:
    return cache_key(item, item_version, ds, ds_version, generation, url)


# --- the estimate --------------------------------------------------------------------


@pytest.mark.parametrize("kept", ["tuples", "details", "dict"])
def test_the_size_estimate_is_close_to_what_the_answer_holds(kept):
    tracemalloc.start()
    try:
        if kept == "dict":  # as a first load keeps it (the row loop's value -> label)
            options = {f"A-{i:05d}": f"Asset {i:05d} of team {i % 97}" for i in range(ROWS)}
        else:
            options = [(f"A-{i:05d}", f"Asset {i:05d} of team {i % 97}", {"Serial": f"SN{i:07d}", "Room": f"R{i % 50}"})
                       if kept == "details" else (f"A-{i:05d}", f"Asset {i:05d} of team {i % 97}") for i in range(ROWS)]
        built = CachedAnswer(options, time.time())
        built.label_index()
        built.at([0])  # a search's hit: the dict's keys by position
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0.85 * held < estimate_bytes(built) < 1.15 * held


def test_the_estimate_of_a_50k_answer_costs_milliseconds_at_most():
    """Once per stored answer (about 0.3 ms on an idle core), not per hit."""
    big = answer(ROWS)
    started = time.perf_counter()
    for _ in range(10):
        estimate_bytes(big)
    assert (time.perf_counter() - started) / 10 < 0.005


# --- the memo --------------------------------------------------------------------------


def test_the_memo_keeps_the_most_recent_answers_within_its_bytes():
    one = estimate_bytes(answer(1000))
    memo = Memo(max_bytes=3 * one + one // 2)
    far = time.time() + 300
    for i in range(5):
        memo.put(f"k{i}", answer(1000, tag=str(i)), far)
    assert memo.get("k1") is None and memo.get("k0") is None
    assert memo.get("k2") is not None  # now the most recent: k3 leaves first
    memo.put("k5", answer(1000, tag="5"), far)
    assert [key for key in ("k2", "k3", "k4", "k5") if memo.get(key) is not None] == ["k2", "k4", "k5"]
    assert memo.bytes <= memo.max_bytes and len(memo) == 3


def test_an_answer_larger_than_the_bound_is_served_but_not_kept():
    from connect_plugin.caching.response_cache import ResponseCache
    from flask import Flask

    app = Flask(__name__)
    app.config.update(CACHE_TYPE="SimpleCache", CONNECT_CACHE_MAX_BYTES=estimate_bytes(answer(100)))
    cache = ResponseCache()
    cache.init_app(app)
    calls = []

    def load(n):
        def inner():
            calls.append(n)
            return answer(n).options
        return inner

    first, cached = cache.get_or_load("opt:9", 300, load(5000), lock_seconds=5)
    assert (len(first.options), cached) == (5000, False)
    again, cached = cache.get_or_load("opt:9", 300, load(5000), lock_seconds=5)
    assert (len(again.options), cached, calls) == (5000, False, [5000, 5000])
    assert len(cache.memo) == 0 and cache.memo.bytes == 0
    cache.get_or_load("opt:10", 300, load(50), lock_seconds=5)
    assert cache.get_or_load("opt:10", 300, load(50), lock_seconds=5)[1] is True


def test_a_newer_version_or_generation_drops_the_older_entries_at_once():
    memo = Memo(max_bytes=256 * MIB)
    far = time.time() + 300
    keys = {
        "item1 v1": lineage_key(item=1, item_version=1),
        "item1 v1 other query": lineage_key(item=1, item_version=1, url="https://api/y"),
        "item2 gen0": lineage_key(item=2, item_version=4),
        "item3 of another datasource": lineage_key(item=3, ds=2),
    }
    for key in keys.values():
        memo.put(key, answer(10), far, key_lineage(key))
    assert len(memo) == 4

    newer_item = lineage_key(item=1, item_version=2)  # an edit of item 1
    memo.put(newer_item, answer(10), far, key_lineage(newer_item))
    assert memo.get(keys["item1 v1"]) is None and memo.get(keys["item1 v1 other query"]) is None
    assert memo.get(keys["item2 gen0"]) is not None

    cleared = lineage_key(item=1, item_version=2, generation=1)  # "clear cache" of datasource 1
    memo.put(cleared, answer(10), far, key_lineage(cleared))
    assert memo.get(newer_item) is None
    assert memo.get(keys["item2 gen0"]) is None, "another item of the cleared datasource is unreachable too"
    assert memo.get(keys["item3 of another datasource"]) is not None
    edited = lineage_key(item=1, item_version=2, ds_version=2, generation=1)  # an edit of datasource 1
    memo.put(edited, answer(10), far, key_lineage(edited))
    assert memo.get(cleared) is None
    assert len(memo) == 2 and memo.bytes == 2 * estimate_bytes(answer(10))


def test_a_miss_drops_the_superseded_answers_before_it_loads():
    """The old generation must not share the process's memory with the new one being built."""
    from connect_plugin.caching.response_cache import ResponseCache
    from flask import Flask

    cache = ResponseCache()
    cache.init_app(Flask(__name__))
    held_while_loading = []

    def load():
        held_while_loading.append(len(cache.memo))
        return answer(100).options

    cache.get_or_load(lineage_key(generation=0), 300, load, lock_seconds=5)
    cache.get_or_load(lineage_key(generation=1), 300, load, lock_seconds=5)  # after a "clear cache"
    assert held_while_loading == [0, 0] and len(cache.memo) == 1


class _Watched(CachedAnswer):
    """An answer that notes, when it is freed, whether the memo's lock was held."""

    def __init__(self, memo: Memo, notes: list[bool]):
        super().__init__({"v": "label"}, time.time())
        self._memo, self._notes = memo, notes

    def __del__(self):
        self._notes.append(self._memo._lock.locked())


@pytest.mark.parametrize("how", ["superseded", "evicted", "replaced", "expired", "datasource cleared"])
def test_answers_are_freed_after_the_memo_lock_is_released(how):
    """Freeing a large answer takes milliseconds; under the lock every hit of the
    process would wait for it."""
    memo, notes = Memo(max_bytes=256 * MIB), []
    key = lineage_key(generation=0)
    memo.put(key, _Watched(memo, notes), time.time() + (-1 if how == "expired" else 300), key_lineage(key))
    if how == "superseded":
        memo.put(lineage_key(generation=1), answer(1), time.time() + 300, key_lineage(lineage_key(generation=1)))
    elif how == "evicted":
        memo.max_bytes = estimate_bytes(answer(1000))
        memo.put("opt:other", answer(1000), time.time() + 300)
    elif how == "replaced":
        memo.put(key, answer(1), time.time() + 300, key_lineage(key))
    elif how == "expired":
        assert memo.get(key) is None
    else:
        memo.drop_datasource(key_lineage(key).datasource_id)
    assert notes == [False]


def test_a_key_of_the_plugin_carries_its_lineage():
    assert key_lineage(cache_key(7, 3, 2, 5, 9, "https://api/x")) == Lineage(7, 3, 2, 5, 9)
    assert key_lineage("opt:1") is None


# --- through the options endpoint --------------------------------------------------------


def test_searches_share_one_answer_and_simplecache_keeps_no_second_copy(people, upstream):
    calls = []

    def rows(request):
        calls.append(request.raw_query)
        return Reply(200, {"Content-Type": "application/json"}, rows_body(2000))

    upstream.route("/api/rows", rows)
    upstream.route("/api/search", rows)
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    item = make_item(client, ds["id"], name="Rows", query="/rows")
    typed = make_item(client, ds["id"], name="Typed", query="/search?q=$userInput", editor="autocomplete")
    state = people.extensions["connect"]

    def options(some, **params):
        response = client.get(f"/plugins/connect/api/items/{some['id']}/options",
                              query_string={"project": "DEMO", **params}, headers=ALICE)
        assert response.status_code == 200, response.json
        return response.json

    totals = {options(item, q=f"asset {i:05d}")["total"] for i in range(30)}
    assert calls == [""] and len(state.cache.memo) == 1 and totals == {1}
    for i in range(5):
        options(typed, q=f"x{i}")
    assert len(calls) == 6 and len(state.cache.memo) == 6, "with $userInput each evaluated query is its own key"
    assert state.cache.cache.cache._cache == {}, "SimpleCache would hold a second, pickled copy"

    client.post(f"/plugins/connect/api/datasources/{ds['id']}/cache/clear", headers=ADMIN)
    assert options(item)["cached"] is False and len(state.cache.memo) == 1


def test_clear_cache_frees_the_datasources_answers_at_once_and_keeps_the_others(people, upstream):
    upstream.route("/api/rows", lambda request: Reply(200, {"Content-Type": "application/json"}, rows_body(500)))
    client = people.test_client()
    state = people.extensions["connect"]
    cleared, kept = (make_datasource(client, upstream.url("/api"), name=name) for name in ("Cleared", "Kept"))
    items = [make_item(client, ds["id"], name=f"Rows of {ds['name']}", query="/rows") for ds in (cleared, kept)]
    for item in items:
        assert client.get(f"/plugins/connect/api/items/{item['id']}/options?project=DEMO",
                          headers=ALICE).status_code == 200
    assert len(state.cache.memo) == 2
    held = state.cache.memo.bytes

    assert client.post(f"/plugins/connect/api/datasources/{cleared['id']}/cache/clear",
                       headers=ADMIN).status_code == 200
    assert len(state.cache.memo) == 1 and 0 < state.cache.memo.bytes < held, "freed before any next load"
    page = client.get(f"/plugins/connect/api/items/{items[1]['id']}/options?project=DEMO", headers=ALICE).json
    assert page["cached"] is True


def test_rss_stays_under_the_bound_under_searches_and_clears(upstream, ca_bundle, tmp_path):
    """A separate process (its RSS is the plugin's alone) on a real HTTPS upstream:
    10 loads of a 50,000-row answer, each after a clear, 50 searches on it and 50
    searches of an autocomplete item (each its own key, the same 50,000 rows)."""
    body = rows_body()
    upstream.route("/api/rows", Reply(200, {"Content-Type": "application/json"}, body))
    upstream.route("/api/search", Reply(200, {"Content-Type": "application/json"}, body))
    upstream.route("/api/small", Json({"items": [{"id": "S-1", "name": "Small"}]}))
    bound = 64 * MIB
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in [name for name in env if name.startswith(("CONNECT_", "CACHE_"))]:
        del env[name]
    done = subprocess.run([sys.executable, "-m", "tests.support.memory_probe", str(tmp_path), ca_bundle,
                           upstream.url("/api"), str(bound)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    before = report["rss_before_kib"] * 1024
    one_load = report["first_peak_kib"] * 1024 - before  # one 50k answer loaded and kept, at its peak
    grown, peak = report["rss_after_kib"] * 1024 - before, report["peak_kib"] * 1024 - before
    print(f"one load +{one_load / MIB:.0f} MiB at its peak; after the scenario RSS +{grown / MIB:.0f} MiB, "
          f"peak +{peak / MIB:.0f} MiB; memo {report['memo_entries']} entries, {report['memo_bytes'] / MIB:.0f} MiB")
    assert report["loads_cached"] == [False] * 10
    assert report["searches_cached"] == [True] * 50 and report["search_totals"] == [1]
    assert report["typed_cached"] == [False] * 50
    assert report["simplecache_entries"] == 0
    assert report["memo_bytes"] <= bound
    # The kept answers stay under the bound; a load in flight holds its parse and its
    # options besides, as the first load did on its own.
    assert grown < bound + one_load, f"RSS grew by {grown / MIB:.0f} MiB (bound {bound / MIB:.0f} MiB)"
    assert peak < bound + one_load, f"RSS peaked {peak / MIB:.0f} MiB above the start (bound {bound / MIB:.0f} MiB)"
