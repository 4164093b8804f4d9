"""A truncated paged answer through the shared Redis cache: another app (another
worker or node, with its own memo) gets the answer from Redis with ``truncated``
still set, and no upstream call is made again."""

from __future__ import annotations

from tests.conftest import ADMIN, make_datasource, make_item, seed_people
from tests.support.https_servers import Json


def test_a_truncated_answer_stays_truncated_through_redis(make_app, redis_url, upstream):
    first = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_url)
    seed_people(first)
    second = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=redis_url)

    def handler(request):
        page = int(request.param("page"))
        return Json([{"id": f"R{page}-{n}", "name": f"Row {page}.{n}"} for n in range(3)])

    upstream.route("/api/rows", handler)
    client = first.test_client()
    ds = make_datasource(client, upstream.url("/api"), pagination={"mode": "page", "page_param": "page",
                                                                   "page_size": 3, "max_pages": 2})
    item = make_item(client, ds["id"], query="/rows", options={"path": "$[*]", "value": "${row.id}",
                                                                "label": "${row.name}"})
    url = f"/plugins/connect/api/items/{item['id']}/options?issue=DEMO-1"
    loaded = client.get(url, headers=ADMIN).json
    assert loaded["cached"] is False and loaded["truncated"] is True and loaded["total"] == 6
    shared = second.test_client().get(url, headers=ADMIN).json
    assert shared["cached"] is True and shared["truncated"] is True
    assert shared["options"] == loaded["options"]
    assert len(upstream.requests) == 2
