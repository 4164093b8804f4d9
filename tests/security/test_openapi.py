"""The OpenAPI 3.1 description of the plugin's REST API (``connect_plugin/openapi.yaml``,
served at ``/plugins/connect/api/openapi.yaml``): it names exactly the routes the
app has, real answers match it, and a bounded ``schemathesis`` run against the app
finds no 500 and no answer that departs from it.

The fuzzing run never calls out. Fuzzed datasources get random URLs, so
* the operations that contact a datasource (``x-contacts-datasource``: Test
  connection, options, the item tester) are left out of it, and
* every outbound call is refused anyway: ``OutboundClient.request`` raises
  ``BlockedAddress``, and ``socket.getaddrinfo`` / ``socket.socket.connect`` fail
  for the whole run (schemathesis calls the WSGI app in-process: no socket is
  needed). A count shows that nothing even tried.
"""

from __future__ import annotations

import itertools
import re
import socket
import time
from pathlib import Path

import jsonschema_rs
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.conftest import (
    SESSION_COOKIE,
    World,
    build_app,
    dispose,
    seed_people,
    url_map_routes,
)

SPEC_PATH = Path(__file__).resolve().parents[2] / "connect_plugin" / "openapi.yaml"
SPEC_URL = "/plugins/connect/api/openapi.yaml"
PREFIX = "/plugins/connect"
EXAMPLES_PER_OPERATION = 50  # per generation mode; the whole run stays well under a minute
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text("utf-8"))


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.removeprefix(PREFIX))


# --- the description itself ------------------------------------------------------------


def test_it_is_served_to_anyone_as_yaml(world):
    response = world.app.test_client().get(SPEC_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.get_data(as_text=True) == SPEC_PATH.read_text("utf-8")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_it_is_openapi_3_1_with_the_contract_schemas_and_security(spec):
    assert spec["openapi"].startswith("3.1.")
    assert spec["servers"] == [{"url": PREFIX}]
    schemas = spec["components"]["schemas"]
    assert {"Datasource", "Item", "Options", "Error", "TestResult"} <= set(schemas)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {**schemes["basicAuth"], "type": "http", "scheme": "basic"}
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert schemes["csrfHeader"] == {**schemes["csrfHeader"], "type": "apiKey", "in": "header",
                                     "name": "X-CSRFToken"}
    # Unsafe calls by cookie need the header; reads do not.
    assert {"sessionCookie": [], "csrfHeader": []} in spec["security"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            security = operation.get("security", spec["security"])
            if path.endswith("openapi.yaml"):
                assert security == []
            elif method in ("post", "patch", "put", "delete"):
                assert {"sessionCookie": [], "csrfHeader": []} in security, (method, path)
                assert {"sessionCookie": []} not in security, (method, path)
            if security:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_every_api_route_is_described_and_nothing_else(spec):
    routes = {(_openapi_path(rule), method.lower()) for _endpoint, method, rule in url_map_routes()
              if rule.startswith(PREFIX + "/api/")}
    described = {(path, method) for path, item in spec["paths"].items() for method in item
                 if method != "parameters"}
    assert routes - described == set(), "routes without a description in connect_plugin/openapi.yaml"
    assert described - routes == set(), "described operations the app does not have"


def test_every_secret_field_is_write_only_and_never_in_answers(spec):
    schemas = spec["components"]["schemas"]
    secrets = {"password", "value", "token", "client_secret"}
    assert all(schemas["AuthInput"]["properties"][name]["writeOnly"] for name in secrets)
    assert not secrets & set(schemas["AuthOutput"]["properties"])
    assert {f"{name}_set" for name in secrets} <= set(schemas["AuthOutput"]["properties"])


# --- real answers match it ---------------------------------------------------------------


def _validator(spec: dict, ref: str):
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{ref}", "components": spec["components"]})


def test_real_answers_match_the_schemas(world, spec):
    """The answers the fuzzing run cannot reach (successful creates, options and
    tests that call a loopback upstream) match their schemas too."""
    admin = world.session("admin")
    member = world.session("member")
    checks = []
    for auth in ({"mode": "none"}, {"mode": "basic", "username": "svc", "password": "Pw-openapi-1"},
                 {"mode": "api_key", "location": "query", "key": "k", "value": "Key-openapi-2"},
                 {"mode": "bearer", "token": "Token-openapi-3"},
                 {"mode": "oauth2_client_credentials", "token_url": world.upstream.url("/token"), "client_id": "c",
                  "client_secret": "Secret-openapi-4", "scope": "read"}):
        created = admin.post("/plugins/connect/api/datasources", json={
            "name": f"OpenAPI {auth['mode']}", "config": {"base_url": world.upstream.url("/api")}, "auth": auth})
        assert created.status_code == 201, created.json
        checks.append(("Datasource", created.json))
    checks.append(("Datasource", admin.get(f"/plugins/connect/api/datasources/{world.datasource_id}").json))
    checks += [("DatasourceType", t) for t in admin.get("/plugins/connect/api/datasource-types").json]
    checks.append(("Item", admin.get(f"/plugins/connect/api/items/{world.item_id}").json))
    checks.append(("TestResult", admin.post(f"/plugins/connect/api/datasources/{world.datasource_id}/test").json))
    checks.append(("TestResult", admin.post(f"/plugins/connect/api/datasources/{created.json['id']}/test").json))
    checks.append(("Trace", admin.post(f"/plugins/connect/api/items/{world.item_id}/test", json={}).json))
    options = member.get(f"/plugins/connect/api/items/{world.item_id}/options?issue=DEMO-1&q=mac")
    assert options.status_code == 200 and options.json["total"] == 1
    checks.append(("Options", options.json))
    for expected, response in ((404, admin.get("/plugins/connect/api/items/999999")),
                               (400, admin.post("/plugins/connect/api/items", json={"name": ""})),
                               (403, member.get("/plugins/connect/api/datasources")),
                               (401, world.app.test_client().get("/plugins/connect/api/items")),
                               (400, member.get(f"/plugins/connect/api/items/{world.item_id}/options?project=DEMO&limit=0"))):
        assert response.status_code in (400, 401, 403, 404)
        assert response.status_code == expected, (expected, response.status_code, response.json)
        checks.append(("Error", response.json))
    for ref, body in checks:
        errors = [error.message for error in _validator(spec, ref).iter_errors(body)]
        assert errors == [], (ref, body, errors)


# --- the schemathesis run ----------------------------------------------------------------


class OutboundRefused:
    """Counts every attempt to call out; each one is refused."""

    def __init__(self):
        self.attempts = 0

    def request(self, *args, **kwargs):
        from connect_plugin.errors import BlockedAddress

        self.attempts += 1
        raise BlockedAddress("Outbound calls are refused during the fuzzing run.")

    def socket_call(self, *args, **kwargs):
        self.attempts += 1
        raise OSError("network use is refused during the fuzzing run")


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory):
    """An app of its own (the run creates and deletes at random) with an admin
    session, so that the run's calls reach the views instead of the login check.
    Its datasources point at ``api.invalid`` (a name that cannot resolve)."""
    app = build_app(tmp_path_factory.mktemp("fuzz"), ca_bundle="")
    try:
        seed_people(app)
        world = World(app=app, upstream=None, datasource_id=0, item_id=0)
        world.logins["admin"] = world.login("admin")
        admin = world.session("admin")
        admin.post("/plugins/connect/api/datasources", json={
            "name": "Fuzzed", "config": {"base_url": "https://api.invalid/v1"},
            "auth": {"mode": "bearer", "token": "Fuzz-token-77"}})
        admin.post("/plugins/connect/api/items", json={"name": "Fuzzed item", "datasource_id": 1, "editor": "select",
                                                       "query": "/x"})
        yield world
    finally:
        dispose(app)


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_world):
    schema = schemathesis.openapi.from_wsgi(SPEC_URL, fuzz_world.app)
    schema.config.generation.update(with_security_parameters=False, database="none",
                                    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return schema


def _fuzz_cases(spec) -> list[tuple[str, GenerationMode]]:
    """(operationId, mode) for every operation that contacts no datasource; negative
    cases only where there is something to negate (parameters or a body)."""
    cases = []
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method == "parameters" or operation.get("x-contacts-datasource"):
                continue
            cases.append((operation["operationId"], GenerationMode.POSITIVE))
            if item.get("parameters") or operation.get("parameters") or operation.get("requestBody"):
                cases.append((operation["operationId"], GenerationMode.NEGATIVE))
    return cases


def _targets(world) -> dict[str, int]:
    """A datasource and an item of their own for one operation's run."""
    n = next(_targets_made)
    admin = world.session("admin")
    ds = admin.post("/plugins/connect/api/datasources", json={
        "name": f"Fuzz target {n}", "config": {"base_url": "https://api.invalid/v1"}, "auth": {"mode": "none"}})
    item = admin.post("/plugins/connect/api/items", json={
        "name": f"Fuzz target {n}", "datasource_id": ds.json["id"], "editor": "select", "query": "/x"})
    return {"datasource_id": ds.json["id"], "item_id": item.json["id"]}


_targets_made = itertools.count(1)
FUZZ_CASES = _fuzz_cases(yaml.safe_load(SPEC_PATH.read_text("utf-8")))
PER_OP = {}
RUN = {"examples": 0, "seconds": 0.0, "statuses": {}}


@pytest.mark.parametrize("operation_id, mode", FUZZ_CASES, ids=[f"{o}-{m.value}" for o, m in FUZZ_CASES])
def test_schemathesis_run(fuzz_world, fuzz_schema, monkeypatch, operation_id, mode):
    refused = OutboundRefused()
    monkeypatch.setattr("connect_plugin.outbound.client.OutboundClient.request", refused.request)
    monkeypatch.setattr(socket, "getaddrinfo", refused.socket_call)
    monkeypatch.setattr(socket.socket, "connect", refused.socket_call)
    monkeypatch.setattr(socket, "create_connection", refused.socket_call)
    login = fuzz_world.logins["admin"]
    cookies, headers = {SESSION_COOKIE: login.cookie}, {"X-CSRFToken": login.csrf}
    operation = fuzz_schema.find_operation_by_id(operation_id)
    assert not operation.definition.raw.get("x-contacts-datasource")
    strategy = operation.as_strategy(generation_mode=mode)
    targets = _targets(fuzz_world)
    if "{" in operation.path and mode is GenerationMode.POSITIVE:
        # Half the cases aim at objects that exist (random ids mostly name none).
        fixed = {name: targets[name] for name in ("datasource_id", "item_id") if "{" + name + "}" in operation.path}
        strategy = st.one_of(strategy, operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    started = time.monotonic()

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        RUN["examples"] += 1
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and "datasource_id" in case.body \
                and RUN["examples"] % 2:
            case.body["datasource_id"] = targets["datasource_id"]  # items on a datasource that exists
        response = case.call(headers=headers, cookies=cookies)
        RUN["statuses"][response.status_code] = RUN["statuses"].get(response.status_code, 0) + 1
        PER_OP.setdefault((operation_id, mode.value), []).append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
    RUN["seconds"] += time.monotonic() - started
    assert refused.attempts == 0, "nothing in the fuzzed operations may even try to call out"


def test_schemathesis_run_summary():
    """The closing note quotes these numbers."""
    if not RUN["examples"]:
        pytest.skip("the run did not take place (run the module whole)")
    operations = len({operation for operation, _mode in FUZZ_CASES})
    print(f"\nschemathesis: {RUN['examples']} examples over {operations} operations ({len(FUZZ_CASES)} "
          f"operation-modes) in {RUN['seconds']:.1f} s; statuses {dict(sorted(RUN['statuses'].items()))}")
    for (operation, mode), codes in PER_OP.items():
        print(f"  {operation} {mode}: " + ", ".join(f"{codes.count(c)}x{c}" for c in sorted(set(codes))))
    assert RUN["statuses"].get(500, 0) == 0
    assert any(200 <= code < 300 for code in RUN["statuses"]), "the run reached the views"


def test_ids_beyond_the_integer_columns_are_not_found_never_a_500(world):
    """Found by the run: ids past 2**63 reached SQLite (OverflowError) and past
    2**31 would reach PostgreSQL's INTEGER columns (DataError), as 500s."""
    admin, member = world.session("admin"), world.session("member")
    for huge in (2**31, 2**63, 2**70):
        for path in (f"/plugins/connect/api/datasources/{huge}", f"/plugins/connect/api/items/{huge}",
                     f"/plugins/connect/api/items/{huge}/options", f"/plugins/connect/admin/items/{huge}",
                     f"/plugins/connect/admin/datasources/{huge}"):
            client = member if path.endswith("/options") else admin
            query = {"project": "DEMO"} if path.endswith("/options") else None
            assert client.get(path, query_string=query).status_code == 404, path
        assert admin.delete(f"/plugins/connect/api/items/{huge}").status_code == 404
        bad_ds = admin.post("/plugins/connect/api/items", json={
            "name": "Huge", "datasource_id": huge, "editor": "select", "query": "/x"})
        assert bad_ds.status_code == 400 and "datasource_id" in bad_ds.json["fields"]
        bad_dep = admin.post("/plugins/connect/api/items", json={
            "name": "Huge", "datasource_id": world.datasource_id, "editor": "select",
            "query": f"/x?a=$issue.connected_item_{huge}"})
        assert bad_dep.status_code == 400 and "query" in bad_dep.json["fields"]
        field = f"connected_item_{huge}"
        bad_field = member.put("/rest/api/2/issue/DEMO-1", json={"fields": {field: "A-1"}})
        assert bad_field.status_code == 400 and field in bad_field.json["fields"]
