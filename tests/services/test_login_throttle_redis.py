"""With Redis as the cache, the login throttle is one for every worker and node
(issue 13, rule 8): failures counted by one process refuse the next attempt in
another; the counters expire with the window and hold no user name; and a Redis that
is down leaves each process throttling on its own instead of letting guesses through."""

from __future__ import annotations

import redis

from tests.conftest import BOB, basic, seed_people


def _two_workers(make_app, url: str):
    """Two host apps on one database and one Redis, as two gunicorn workers are."""
    first = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=url)
    seed_people(first)
    return first.test_client(), make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=url).test_client()


def test_failures_in_one_worker_throttle_the_account_in_another(make_app, redis_url):
    one, other = _two_workers(make_app, redis_url)
    for client in (one, other, one, other, one):
        assert client.get("/rest/api/2/myself", headers=basic(" Bob", "guess")).status_code == 401
    for client in (one, other):
        throttled = client.get("/rest/api/2/myself", headers=BOB)
        assert throttled.status_code == 429 and 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    assert other.get("/rest/api/2/myself", headers=basic("alice", "alice-pw")).status_code == 200

    stored = redis.Redis.from_url(redis_url)
    keys = [key.decode() for key in stored.keys("connect-host:login-failures:*")]
    assert keys, "the counters live in Redis"
    for key in keys:
        assert "bob" not in key.lower(), "a hash of the name, not the name"
        assert 0 < stored.pttl(key) <= 15 * 60 * 1000, "each counter expires with the window"
        assert stored.zcard(key) <= 50, "each counter holds at most its limit"
    stored.close()


def test_a_success_clears_the_count_for_every_worker(make_app, redis_url):
    one, other = _two_workers(make_app, redis_url)
    for _ in range(4):
        assert one.get("/rest/api/2/myself", headers=basic("bob", "guess")).status_code == 401
    assert other.get("/rest/api/2/myself", headers=BOB).status_code == 200
    assert one.get("/rest/api/2/myself", headers=basic("bob", "guess")).status_code == 401
    assert other.get("/rest/api/2/myself", headers=BOB).status_code == 200, "one failure since the success"


def test_without_redis_each_worker_still_throttles(make_app, private_redis):
    one, _other = _two_workers(make_app, private_redis.url(0))
    private_redis.stop()
    for _ in range(5):
        assert one.get("/rest/api/2/myself", headers=basic("bob", "guess")).status_code == 401
    assert one.get("/rest/api/2/myself", headers=BOB).status_code == 429
