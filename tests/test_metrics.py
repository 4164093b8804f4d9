"""Prometheus metrics at /plugins/connect/metrics: who may read them, and what they
count after real field loads against loopback HTTPS upstreams (the gunicorn
multiprocess case is in tests/services/test_metrics_workers.py)."""

from __future__ import annotations

import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from connect_plugin import errors
from connect_plugin.metrics import OUTCOMES, outcome_of
from tests.conftest import ADMIN, ALICE, CAROL, make_datasource, make_item, seed_people
from tests.security.leak_guard import GUARD
from tests.support.https_servers import HTTPSServer, Json, Reply, Sleep, make_ca

METRICS = "/plugins/connect/metrics"
TOKEN = "Metrics-scrape-token-5d81c2"
ASSETS = [{"id": "A-1", "name": "MacBook Pro"}, {"id": "A-2", "name": "ThinkPad X1"}]


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client, headers=ADMIN) -> dict[tuple[str, frozenset], float]:
    response = client.get(METRICS, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def value(found, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def options(client, item_id, **params):
    query = "&".join(f"{k}={v}" for k, v in {"issue": "DEMO-1", **params}.items())
    return client.get(f"/plugins/connect/api/items/{item_id}/options?{query}", headers=ALICE)


@pytest.fixture
def host(make_app):
    app = make_app(CONNECT_METRICS_TOKEN=TOKEN, CONNECT_MAX_RESPONSE_BYTES=4096)
    seed_people(app)
    return app


@pytest.fixture
def api(host, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    client = host.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    return client, ds, upstream


# --- who may read ---------------------------------------------------------------------------


def test_admins_and_the_token_read_the_metrics_others_get_the_admin_api_answers(host):
    client = host.test_client()
    for headers in (ADMIN, {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": f"bearer  {TOKEN} "}):
        response = client.get(METRICS, headers=headers)
        assert response.status_code == 200, headers
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        assert "# TYPE connect_upstream_calls_total counter" in response.get_data(as_text=True)
    refused = {
        "anonymous": ({}, 401),
        "wrong token": ({"Authorization": "Bearer Metrics-scrape-token-5d81c3"}, 401),
        "shorter token": ({"Authorization": "Bearer Metrics"}, 401),
        "token without the scheme": ({"Authorization": TOKEN}, 401),
        "plain user": (ALICE, 403),
        "user in no project": (CAROL, 403),
    }
    for who, (headers, status) in refused.items():
        response = client.get(METRICS, headers=headers)
        assert response.status_code == status, who
        assert response.is_json and "connect_" not in response.get_data(as_text=True), who
        assert response.json["error"], who
    # The same answers as an admin-only API route.
    assert client.get("/plugins/connect/api/datasources").status_code == 401
    assert client.get("/plugins/connect/api/datasources", headers=ALICE).status_code == 403


def test_without_a_configured_token_no_bearer_token_is_accepted(people):
    client = people.test_client()
    for token in ("", "None", TOKEN):
        assert client.get(METRICS, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get(METRICS, headers=ADMIN).status_code == 200


# --- what is counted ---------------------------------------------------------------------------


def test_a_field_load_is_one_ok_call_and_a_second_load_is_a_cache_hit(api):
    client, ds, upstream = api
    item = make_item(client, ds["id"])
    assert options(client, item["id"]).json["cached"] is False
    assert options(client, item["id"], q="mac").json["cached"] is True  # filtered from the cached answer
    found = scrape(client)
    name = ds["name"]
    assert len(upstream.requests) == 1
    assert value(found, "connect_upstream_calls_total", datasource=name, outcome="ok") == 1
    assert value(found, "connect_cache_misses_total", datasource=name) == 1
    assert value(found, "connect_cache_hits_total", datasource=name) == 1
    assert value(found, "connect_upstream_duration_seconds_count", datasource=name) == 1
    assert value(found, "connect_upstream_duration_seconds_bucket", datasource=name, le="+Inf") == 1
    assert 0 < value(found, "connect_upstream_duration_seconds_sum", datasource=name) < 10


def test_each_failure_is_counted_by_its_kind(api, host, ca):
    client, ds, upstream = api
    upstream.route("/api/broken", Json({"error": "boom"}, status=500))
    upstream.route("/api/html", Reply(200, {"Content-Type": "text/html"}, b"<html>maintenance</html>"))
    upstream.route("/api/big", Json({"items": [{"id": str(n), "name": "x" * 50} for n in range(200)]}))
    expected = {"http_error": "/broken", "not_json": "/html", "too_large": "/big"}
    for outcome, query in expected.items():
        item = make_item(client, ds["id"], name=f"Item {outcome}", query=query)
        assert options(client, item["id"]).status_code == 502, outcome
    slow = make_datasource(client, upstream.url("/api"), name="Slow API", timeout_seconds=1)
    upstream.route("/api/slow", Sleep(3))
    assert options(client, make_item(client, slow["id"], name="Slow", query="/slow")["id"]).status_code == 504
    with HTTPSServer(make_ca(), {"/api/assets": Json({"items": ASSETS})}) as untrusted:
        other = make_datasource(client, untrusted.url("/api"), name="Untrusted API")
        assert options(client, make_item(client, other["id"], name="Untrusted")["id"]).status_code == 502

    found = scrape(client)
    for outcome in expected:
        assert value(found, "connect_upstream_calls_total", datasource=ds["name"], outcome=outcome) == 1, outcome
    assert value(found, "connect_upstream_calls_total", datasource="Slow API", outcome="timeout") == 1
    assert value(found, "connect_upstream_calls_total", datasource="Untrusted API", outcome="tls") == 1
    assert value(found, "connect_upstream_calls_total", datasource=ds["name"], outcome="ok") == 0
    assert value(found, "connect_cache_misses_total", datasource=ds["name"]) == 3
    assert value(found, "connect_cache_hits_total", datasource=ds["name"]) == 0
    assert value(found, "connect_upstream_duration_seconds_count", datasource="Slow API") == 1
    assert value(found, "connect_upstream_duration_seconds_sum", datasource="Slow API") >= 1


def test_a_caller_the_limiter_turns_away_is_a_busy_call_and_a_rejection(api, host):
    client, ds, upstream = api
    busy = make_datasource(client, upstream.url("/api"), name="Busy API", max_concurrent_calls=1)
    item = make_item(client, busy["id"], name="Busy")
    limiter = host.extensions["connect"].limiter
    taken, done = threading.Event(), threading.Event()

    def hold_the_only_slot():
        with limiter.slot(busy["id"], 1, "Busy API"):
            taken.set()
            done.wait(10)

    holder = threading.Thread(target=hold_the_only_slot)
    holder.start()
    try:
        assert taken.wait(5)
        response = options(client, item["id"])
        assert response.status_code == 503, response.json
    finally:
        done.set()
        holder.join(5)
    assert options(client, item["id"]).status_code == 200

    found = scrape(client)
    assert value(found, "connect_limiter_rejections_total", datasource="Busy API") == 1
    assert value(found, "connect_upstream_calls_total", datasource="Busy API", outcome="busy") == 1
    assert value(found, "connect_upstream_calls_total", datasource="Busy API", outcome="ok") == 1
    assert value(found, "connect_upstream_duration_seconds_count", datasource="Busy API") == 1  # no call, no time
    assert value(found, "connect_cache_misses_total", datasource="Busy API") == 2


def test_two_apps_in_one_process_count_apart(make_app, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    first, second = make_app(), make_app()  # one database; each app its own registry
    seed_people(first)
    client = first.test_client()
    item = make_item(client, make_datasource(client, upstream.url("/api"))["id"])
    assert options(client, item["id"]).status_code == 200
    assert value(scrape(client), "connect_upstream_calls_total", datasource="Assets API", outcome="ok") == 1
    assert value(scrape(second.test_client()), "connect_upstream_calls_total", datasource="Assets API",
                 outcome="ok") == 0


def test_a_datasource_name_is_a_safe_label_value(api):
    client, ds, upstream = api
    name = 'Assets "EU" \\ west'
    odd = make_datasource(client, upstream.url("/api"), name=name)
    assert options(client, make_item(client, odd["id"], name="Odd")["id"]).status_code == 200
    assert value(scrape(client), "connect_upstream_calls_total", datasource=name, outcome="ok") == 1


def test_the_leak_guard_reads_the_metrics_and_no_secret_is_in_them(host, upstream):
    upstream.route("/api/assets", Json({"items": ASSETS}))
    client = host.test_client()
    secret = "Metrics-datasource-bearer-8e21"
    ds = make_datasource(client, upstream.url("/api"), name="Secret API", auth={"mode": "bearer", "token": secret})
    assert options(client, make_item(client, ds["id"])["id"]).status_code == 200
    body = client.get(METRICS, headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert 'datasource="Secret API"' in body
    assert secret not in body and TOKEN not in body
    with GUARD.lock:
        recorded = [seen.text for seen in GUARD.seen if seen.where.startswith(f"response to GET {METRICS} (200)")]
    assert body in recorded, "the leak guard must record the metrics answer"
    assert TOKEN in GUARD.secrets(), "the metrics token is watched like every other secret"


def test_outcomes_come_from_the_typed_errors():
    cases = {errors.UpstreamHTTPError: "http_error", errors.UpstreamTimeout: "timeout",
             errors.BlockedAddress: "refused", errors.InsecureURL: "refused", errors.TLSFailure: "tls",
             errors.ResponseTooLarge: "too_large", errors.BadUpstreamData: "not_json",
             errors.UpstreamBusy: "busy", errors.ConnectFailure: "error", errors.ResolveFailure: "error",
             errors.TooManyRedirects: "error", errors.UpstreamError: "error"}
    for cls, outcome in cases.items():
        assert outcome_of(cls("x")) == outcome, cls
    assert outcome_of(ValueError("x")) == "error"
    assert outcome_of(errors.ValidationError("x")) == "error"
    assert set(cases.values()) | {"ok"} == set(OUTCOMES)
