"""Login throttling cannot be sidestepped (issue 13, rule 8): every spelling of a
name shares the account's counter, a throttled Basic call answers 429 with
``Retry-After``, the throttle's memory is bounded, and an unknown name costs the same
password-hash work as a wrong password. (Sharing through Redis:
tests/services/test_login_throttle_redis.py.)"""

from __future__ import annotations

import werkzeug.security
import pytest

from plugin_host.login_throttle import LocalThrottle
from tests.conftest import BOB, basic, login

from tests.test_usernames import SPELLINGS


def test_spellings_of_a_name_share_one_counter(people):
    client = people.test_client()
    for spelling in SPELLINGS:
        assert client.get("/rest/api/2/myself", headers=basic(spelling, "guess")).status_code == 401
    # Five failures in all, under five spellings: the account is throttled.
    assert client.get("/rest/api/2/myself", headers=BOB).status_code == 429
    assert login(client, "bob", "bob-pw").status_code == 429


def test_every_spelling_reaches_the_same_account(people):
    client = people.test_client()
    for spelling in SPELLINGS:
        answer = client.get("/rest/api/2/myself", headers=basic(spelling, "bob-pw"))
        assert answer.status_code == 200 and answer.json["name"] == "bob", spelling
    assert login(client, "\uff42\uff4f\uff42", "bob-pw").status_code == 302


def test_a_throttled_basic_call_answers_429_with_retry_after(people):
    client = people.test_client()
    for _ in range(5):
        assert client.get("/rest/api/2/myself", headers=basic("bob", "guess")).status_code == 401
    for path in ("/rest/api/2/myself", "/rest/api/2/issue/DEMO-1", "/plugins/connect/api/items"):
        throttled = client.get(path, headers=BOB)
        assert throttled.status_code == 429, path
        assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
        assert "Too many failed login attempts" in throttled.json["error"]
    # Another account is not affected.
    assert client.get("/rest/api/2/myself", headers=basic("alice", "alice-pw")).status_code == 200


def test_the_throttled_login_form_says_when_to_retry(people):
    client = people.test_client()
    for i in range(5):
        assert login(client, "bob", f"guess-{i}").status_code == 401
    throttled = login(client, "bob", "bob-pw")
    assert throttled.status_code == 429 and 0 < int(throttled.headers["Retry-After"]) <= 15 * 60


def test_the_throttle_forgets_old_failures_and_never_grows_past_its_bound():
    now = [1000.0]
    throttle = LocalThrottle(window=60, limit=3, address_limit=50, max_keys=100, clock=lambda: now[0])
    for i in range(1000):  # an attacker inventing names, from many addresses
        throttle.failed(f"name-{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(throttle) <= 100
    for _ in range(3):
        throttle.failed("bob", "192.0.2.1")
    assert throttle.retry_after("bob", "192.0.2.9") == 60, "the recent account is still throttled"
    now[0] += 30
    assert throttle.retry_after("bob", "192.0.2.9") == 30
    now[0] += 30
    assert throttle.retry_after("bob", "192.0.2.9") == 0
    assert len(throttle) < 100, "expired counters are dropped when looked at"


def test_the_apps_throttle_is_bounded(people):
    throttle = people.extensions["host_login_throttle"]
    throttle.max_keys = 10
    client = people.test_client()
    for i in range(12):
        response = client.get("/rest/api/2/myself", headers=basic(f"nobody-{i}", "guess"),
                              environ_base={"REMOTE_ADDR": f"10.1.0.{i}"})
        assert response.status_code == 401
    assert len(throttle) <= 10


@pytest.fixture
def hashes_checked(monkeypatch):
    """The methods of the password hashes computed (werkzeug's one hashing step)."""
    methods: list[str] = []
    real = werkzeug.security._hash_internal

    def spy(method, salt, password):
        methods.append(method)
        return real(method, salt, password)

    monkeypatch.setattr(werkzeug.security, "_hash_internal", spy)
    return methods


def test_an_unknown_name_costs_the_same_hashing_as_a_wrong_password(people, hashes_checked):
    client = people.test_client()
    assert client.get("/rest/api/2/myself", headers=basic("bob", "guess")).status_code == 401
    wrong_password = list(hashes_checked)
    hashes_checked.clear()
    assert client.get("/rest/api/2/myself", headers=basic("nobody-at-all", "guess")).status_code == 401
    assert wrong_password and hashes_checked == wrong_password, "the same method and cost for both"
    hashes_checked.clear()
    assert login(client, "nobody-at-all", "guess").status_code == 401
    assert hashes_checked == wrong_password
