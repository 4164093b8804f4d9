"""Where the time goes: the hot paths profiled in this process with pyinstrument, and
the first load of a big answer timed step by step with the product's own functions.

The app is built here exactly as gunicorn builds it (same environment, same
database, same upstream); Flask's test client drives it, so the profile holds the
request's own work without the network.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pickle
import sys
import time
from urllib.parse import urlencode

from .scenarios import SEARCHES as SEARCH_NEEDLES  # scenario 4b's needles
from .stack import Stack
from .stats import median, ms


@contextlib.contextmanager
def _environment(env: dict[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build_app(stack: Stack):
    from .bench_app import create_app

    with _environment(stack.env):
        return create_app()


def _admin_headers() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(b"admin:admin-pw").decode()}


def _profile(fn, interval: float = 0.0005) -> str | None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)
    lines = [line.rstrip() for line in text.splitlines()]
    # Drop pyinstrument's banner; keep the tree, cut at a readable depth.
    start = next((i for i, line in enumerate(lines) if line.startswith("Profile at")), 0)
    tree = [line for line in lines[start + 1:] if line.strip()]
    return "\n".join(tree[:60])


def run(stack: Stack, world, quick: bool) -> dict:
    app = build_app(stack)
    client = app.test_client()
    name, _, value = world.cookie.partition(";")[0].partition("=")
    client.set_cookie(name, value)
    items, datasources = world.items, world.datasources
    out: dict = {}

    hit_url = f"/plugins/connect/api/items/{items['main']}/options?project=DEMO&limit=50"
    issue_url = f"/plugins/connect/api/items/{items['main']}/options?issue=DEMO-1&limit=50"
    for url in (hit_url, issue_url, "/bench/bare"):
        for _ in range(200):
            response = client.get(url)
            assert response.status_code == 200, response.data[:200]
    count = 500 if quick else 2000
    timings = {}
    for label, url in (("options", hit_url), ("options_issue", issue_url), ("bare", "/bench/bare")):
        started = time.perf_counter()
        for _ in range(count):
            client.get(url)
        timings[label] = ms(time.perf_counter() - started) / count
    out["in_process_ms"] = timings
    out["hit"] = _profile(lambda: [client.get(hit_url) for _ in range(count)])
    out["hit_issue"] = _profile(lambda: [client.get(issue_url) for _ in range(count // 2)])

    # The first load of the 50,000-row answer.
    big_url = f"/plugins/connect/api/items/{items['rows50000']}/options?project=DEMO&limit=50"
    clear_url = f"/plugins/connect/api/datasources/{datasources['big']}/cache/clear"

    def cold_loads(times: int) -> None:
        for _ in range(times):
            assert client.post(clear_url, headers=_admin_headers()).status_code == 200
            response = client.get(big_url)
            assert response.status_code == 200 and response.json["cached"] is False, response.data[:200]

    cold_loads(1)
    out["cold"] = _profile(lambda: cold_loads(3 if quick else 6), interval=0.001)

    # Searches (q) on the cached answer: scenario 4b's needles, each new to the entry's
    # index only the first time (the index is built once per entry).
    assert client.get(big_url + "&q=team").status_code == 200  # builds the label index

    def searches(rounds: int) -> None:
        for _ in range(rounds):
            for needle in SEARCH_NEEDLES:
                assert client.get(f"{big_url}&{urlencode({'q': needle})}").status_code == 200

    out["search"] = _profile(lambda: searches(10 if quick else 40))
    out["first_load"] = steps(app, items["rows50000"], 3 if quick else 5)
    if "paged" in items:
        out["paging_steps"] = paging_steps(app, client, world, 7 if quick else 21)
    return out


def paging_steps(app, client, world, rounds: int) -> dict:
    """Scenario 10's first load taken apart in process, by turns in each round: the
    direct walk (fetch + parse), the plugin's walk alone (``Connector.get_pages``:
    fetch + row decoder), the walk mapping each page as it arrives (what a first load
    does), and the whole cold request through Flask's test client. Fastest and
    median of each."""
    from connect_plugin.connected_items.mapping import OptionCollector, compile_mapping, find_rows
    from connect_plugin.connected_items.options import item_pagination
    from connect_plugin.connected_items.query import join_url
    from connect_plugin.datasources.connector import Connector
    from connect_plugin.models import ConnectedItem

    from .paging import _direct
    from .stack import direct_session

    state = app.extensions["connect"]
    item_id, datasource_id = world.items["paged"], world.datasources["paged"]
    options_url = f"/plugins/connect/api/items/{item_id}/options?project=DEMO&limit=50"
    clear_url = f"/plugins/connect/api/datasources/{datasource_id}/cache/clear"
    http = direct_session(world.stack.ca_file)
    series: dict[str, list[float]] = {"direct": [], "walk": [], "walk_map": [], "request": []}
    for round_number in range(rounds + 1):  # the first round warms up
        with app.test_request_context():
            item = state.db.session().get(ConnectedItem, item_id)
            url = join_url(item.datasource.config["base_url"], item.query)
            mapping = compile_mapping(*item.mapping_spec())
            started = time.perf_counter()
            pages = Connector.for_datasource(state, item.datasource).get_pages(
                url, item_pagination(item), decode_rows=mapping.decode_rows,
                rows_of=lambda data: find_rows(mapping, data))
            walked = time.perf_counter()
            del pages
            collector = OptionCollector(mapping, "bench")
            started_map = time.perf_counter()
            Connector.for_datasource(state, item.datasource).get_pages(
                url, item_pagination(item), decode_rows=mapping.decode_rows, take_rows=collector.add,
                rows_of=lambda data: find_rows(mapping, data))
            collector.kept_options()
            mapped = time.perf_counter()
        del collector
        direct = _direct(http, url)[0]
        assert client.post(clear_url, headers=_admin_headers()).status_code == 200
        started_request = time.perf_counter()
        response = client.get(options_url)
        requested = time.perf_counter()
        assert response.status_code == 200 and response.json["cached"] is False, response.data[:200]
        if round_number:
            series["direct"].append(direct)
            series["walk"].append(walked - started)
            series["walk_map"].append(mapped - started_map)
            series["request"].append(requested - started_request)
    return {key: {"fastest_ms": ms(min(values)), "median_ms": ms(median(values))} for key, values in series.items()} \
        | {"rounds": rounds}


def steps(app, item_id: int, repeat: int) -> list[dict]:
    """The first load's steps, each timed alone with the product's functions."""
    from connect_plugin.datasources.connector import Connector
    from connect_plugin.connected_items.mapping import compile_mapping, map_options
    from connect_plugin.outbound.json_answer import parse_json
    from connect_plugin.models import ConnectedItem
    from connect_plugin.connected_items.query import join_url
    from connect_plugin.caching.memo import estimate_bytes
    from connect_plugin.caching.answer import CachedAnswer

    state = app.extensions["connect"]
    with app.app_context():
        db = state.db.session()
        try:
            item = db.get(ConnectedItem, item_id)
            datasource = item.datasource
            url = join_url(datasource.config["base_url"], item.query)
            connector = Connector.for_datasource(state, datasource)
            mapping = compile_mapping(*item.mapping_spec())
            series: dict[str, list[float]] = {"fetch": [], "parse": [], "rows": [], "map": [], "store": [],
                                              "fold": []}
            entry: dict[str, int] = {}
            body = b""
            for _ in range(repeat):
                started = time.perf_counter()
                body = connector.get(url).body
                series["fetch"].append(time.perf_counter() - started)
                started = time.perf_counter()
                data = parse_json(body, datasource.name)
                series["parse"].append(time.perf_counter() - started)
                started = time.perf_counter()
                if mapping.decode_rows is None or mapping.decode_rows(body) is None:
                    raise RuntimeError("the bench's mapping should be read by the row decoder")
                series["rows"].append(time.perf_counter() - started)
                started = time.perf_counter()
                options = map_options(mapping, data)
                series["map"].append(time.perf_counter() - started)
                del data
                answer = CachedAnswer(options, time.time())
                started = time.perf_counter()
                pickled = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)  # what Redis's Cache.set does
                series["store"].append(time.perf_counter() - started)
                entry["objects"] = _deep_size(options)
                entry["pickled"] = len(pickled)
                entry["estimate"] = estimate_bytes(answer)
                started = time.perf_counter()
                answer.label_index()  # the first search's extra work
                series["fold"].append(time.perf_counter() - started)
        finally:
            db.close()
    labels = {
        "fetch": "HTTPS fetch through the plugin's outbound client (guard, deadline, size cap)",
        "parse": "JSON parse of the whole answer (`parse_json`, msgspec; what the direct side does)",
        "rows": "what a first load does instead: the rows straight from the bytes, only the keys the templates "
                "read (`row_decoder`, msgspec structs that the generated row loop maps directly)",
        "map": "JSONPath + templates to 50,000 options (`mapping.map_options`)",
        "store": "pickling the mapped options for a shared cache (`Cache.set`; Redis only, SimpleCache keeps none)",
        "fold": "case-folded labels, once per entry (first search only)",
    }
    return {"steps": [{"step": key, "label": labels[key], "ms": ms(median(values))} for key, values in series.items()],
            "bytes": len(body), "entry_objects_mib": entry["objects"] / 2**20,
            "entry_pickled_mib": entry["pickled"] / 2**20, "entry_estimate_mib": entry["estimate"] / 2**20}


def _deep_size(options: list[tuple[str, str]]) -> int:
    """Bytes of the list, its tuples and their strings (each string counted once)."""
    seen: set[int] = set()
    total = sys.getsizeof(options)
    for pair in options:
        total += sys.getsizeof(pair)
        for text in pair:
            if id(text) not in seen:
                seen.add(id(text))
                total += sys.getsizeof(text)
    return total
