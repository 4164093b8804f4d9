"""Scenario 10: the first load of a 50-page answer (issue 14's pagination).

The options of an item whose datasource pages its answer with GitHub-shaped Link
headers (50 pages of 500 rows, about 4 MB in all), loaded through the host with the
cache cleared, against fetching and parsing those 50 pages directly (one keep-alive
session following the same Link headers, the same parser). Goal: at most 1.3x.
"""

from __future__ import annotations

import time
from urllib.parse import urljoin

from requests.utils import parse_header_links

from .scenarios import HOST, World, _check, _decode, direct_session, loadgen
from .stats import median, ms

PAGES = 50
PER_PAGE = 500
GOAL = 1.3


def _direct(http, url: str) -> tuple[float, int]:
    """Every page by its Link header, each parsed: (seconds, rows)."""
    started = time.perf_counter()
    rows = 0
    while url:
        response = http.get(url, timeout=60)
        rows += len(_decode(response.content)["items"])
        following = [link["url"] for link in parse_header_links(response.headers.get("Link", ""))
                     if link.get("rel") == "next"]
        url = urljoin(url, following[0]) if following else ""
    return time.perf_counter() - started, rows


def run(world: World) -> dict:
    query = f"/pages?per={PER_PAGE}&pages={PAGES}"
    api = world.api
    datasource = api.datasource("Bench paged API", world.stack.upstream_base, cache_ttl_seconds=3600,
                                pagination={"mode": "link_header", "max_pages": PAGES})
    world.datasources["paged"] = datasource
    world.items["paged"] = api.item("Paged rows", datasource, query)
    url = world.stack.upstream_base + query
    http = direct_session(world.stack.ca_file)
    conn = loadgen.Connection(HOST, world.port)
    direct, first = [], []
    try:
        _direct(http, url)  # warm: connections, and the server builds its pages
        for _trial in range(world.plan.paging_trials):
            seconds, rows = _direct(http, url)
            direct.append(seconds)
            api.clear(datasource)
            response = conn.request(world.options("paged", limit=50))
            data = _check(response, "first load of 50 pages", cached=False)
            if data["total"] != PAGES * PER_PAGE or data.get("truncated"):
                raise RuntimeError(f"the paged answer has {data['total']} options, truncated={data.get('truncated')}")
            first.append(response.latency)
    finally:
        conn.close()
    return {"pages": PAGES, "rows": rows, "direct_ms": ms(min(direct)), "first_ms": ms(min(first)),
            "ratio": min(first) / min(direct), "median_ratio": median(first) / median(direct),
            "direct_median_ms": ms(median(direct)), "first_median_ms": ms(median(first)), "goal": GOAL,
            "trials": len(first)}
