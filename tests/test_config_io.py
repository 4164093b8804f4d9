"""Configuration as data (issue 16; CONTRACT section 9): ``GET``/``POST
/plugins/connect/api/config`` and ``connect-host config export|import``, between
instances with their own databases, against a real HTTPS API on loopback."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from tests.conftest import ADMIN, ALICE, host_config, make_datasource, make_item, seed_people
from tests.support.https_servers import Json, Reply

CONFIG = "/plugins/connect/api/config"
PASSWORD = "basic-pass-7f3a9c"
CONTINENTS = [{"code": "EU", "name": "Europe"}, {"code": "AS", "name": "Asia"}]
COUNTRIES = {"EU": [{"code": "FR", "name": "France"}, {"code": "DE", "name": "Germany"}],
             "AS": [{"code": "JP", "name": "Japan"}]}


def basic_only(reply):
    """An upstream route that answers only with the right Basic password."""
    import base64

    wanted = "Basic " + base64.b64encode(f"svc:{PASSWORD}".encode()).decode()

    def handler(request):
        if request.header("Authorization") != wanted:
            return Reply(401, body=b'{"error": "who are you"}')
        return reply(request)

    return handler


@pytest.fixture
def routes(upstream):
    upstream.route("/api/continents", basic_only(lambda request: Json(CONTINENTS)))
    upstream.route("/api/countries", basic_only(
        lambda request: Json({"countries": COUNTRIES.get(request.param("continent"), [])})))
    upstream.route("/api/zeta", Json([{"id": "z", "name": "Zeta"}]))
    return upstream


@pytest.fixture
def source(people, routes):
    """An instance with two datasources and three items; "Zeta" is created first, so
    ids here differ from those a fresh instance gives when importing in name order."""
    client = people.test_client()
    geo = make_datasource(client, routes.url("/api"), name="Geo", auth={
        "mode": "basic", "username": "svc", "password": PASSWORD}, cache_ttl_seconds=0)
    public = make_datasource(client, routes.url("/api"), name="Public", cache_ttl_seconds=0,
                             pagination={"mode": "link_header", "max_pages": 3})
    make_item(client, public["id"], name="Zeta", query="/zeta", options={"path": "$[*]"},
              pagination={"mode": "next_url", "next_path": "$.next"})
    continent = make_item(client, geo["id"], name="Continent", query="/continents",
                          options={"path": "$[*]", "value": "${row.code}", "label": "${row.name}"})
    make_item(client, geo["id"], name="Country", editor="select",
              query=f"/countries?continent=$issue.{continent['field_key']}&x=${{issue.{continent['field_key']}}}",
              options={"path": "$.countries[*]", "value": "${row.code}", "label": "${row.name}",
                       "details": [{"name": "Code", "template": "${row.code}"}]}, projects=["DEMO"])
    return client


@pytest.fixture
def target(tmp_path, ca_bundle, new_app):
    """A second instance: its own database, users and DEMO project, no configuration."""
    app = new_app(host_config(tmp_path / "target", ca_bundle), migrate=True)
    seed_people(app)
    return app.test_client()


def export(client) -> dict:
    response = client.get(CONFIG, headers=ADMIN)
    assert response.status_code == 200, response.json
    return response.json


def post(client, document, *, dry_run=False):
    return client.post(CONFIG, headers=ADMIN, json=document, query_string={"dry_run": "1"} if dry_run else None)


def item_named(client, name) -> dict:
    return next(item for item in client.get("/plugins/connect/api/items", headers=ADMIN).json
                if item["name"] == name)


def options(client, name, **deps) -> list[dict]:
    item = item_named(client, name)
    response = client.get(f"/plugins/connect/api/items/{item['id']}/options", headers=ALICE,
                          query_string={"issue": "DEMO-1", **{f"deps.{k}": v for k, v in deps.items()}})
    assert response.status_code == 200, response.json
    return response.json["options"]


def give_password(client, name="Geo"):
    ds = next(d for d in client.get("/plugins/connect/api/datasources", headers=ADMIN).json if d["name"] == name)
    response = client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=ADMIN,
                            json={"auth": {"password": PASSWORD}})
    assert response.status_code == 200, response.json


# --- export ---------------------------------------------------------------------------


def test_the_export_names_everything_by_name_and_holds_no_id_or_secret(source):
    document = export(source)
    assert document["version"] == 1
    assert [d["name"] for d in document["datasources"]] == ["Geo", "Public"]
    geo = document["datasources"][0]
    assert geo == {"name": "Geo", "type": "rest", "config": geo["config"],
                   "auth": {"mode": "basic", "username": "svc"}}
    assert geo["config"]["cache_ttl_seconds"] == 0 and geo["config"]["base_url"].endswith("/api")
    assert [i["name"] for i in document["items"]] == ["Continent", "Country", "Zeta"]
    country = document["items"][1]
    assert country["datasource"] == "Geo"
    assert country["query"] == "/countries?continent=$issue.connected_item[Continent]" \
                               "&x=${issue.connected_item[Continent]}"
    assert country["options"]["details"] == [{"name": "Code", "template": "${row.code}"}]
    assert country["projects"] == ["DEMO"]
    text = json.dumps(document)
    assert PASSWORD not in text and "_set" not in text
    # Keys other parts of the API add flow through as the API shows them.
    assert document["datasources"][1]["config"]["pagination"]["mode"] == "link_header"
    assert document["items"][2]["pagination"]["mode"] == "next_url"
    assert not any(key in item for item in document["items"]
                   for key in ("id", "datasource_id", "field_key", "depends_on", "version"))


# --- import ---------------------------------------------------------------------------


def test_round_trip_into_an_empty_instance_gives_the_same_document_and_options(source, target):
    document = export(source)
    response = post(target, document)
    assert response.status_code == 200, response.json
    assert response.json["created"] == [{"datasource": "Geo"}, {"datasource": "Public"}, {"item": "Continent"},
                                        {"item": "Country"}, {"item": "Zeta"}]
    assert response.json["updated"] == [] and response.json["unchanged"] == []
    assert response.json["secrets_needed"] == [{"datasource": "Geo", "fields": ["password"]}]
    assert export(target) == document

    # The reference points at the imported Continent, whose id differs from the source's.
    continent_here, continent_there = item_named(target, "Continent"), item_named(source, "Continent")
    assert continent_here["id"] != continent_there["id"]
    assert item_named(target, "Country")["depends_on"] == [continent_here["id"]]

    # Geo waits for its password: its fields say so instead of calling without it.
    url = f"/plugins/connect/api/items/{continent_here['id']}/options"
    waiting = target.get(url, headers=ADMIN, query_string={"issue": "DEMO-1"})
    assert waiting.status_code == 409 and "Geo waits for its password" in waiting.json["error"], waiting.json
    waiting = target.get(url, headers=ALICE, query_string={"issue": "DEMO-1"})
    assert waiting.status_code == 409 and "until an administrator fixes its settings" in waiting.json["error"]
    assert options(target, "Zeta") == options(source, "Zeta")

    listing = target.get("/plugins/connect/admin/datasources", headers=ADMIN).get_data(as_text=True)
    assert listing.count("Waits for secrets") == 1
    geo_id = next(d["id"] for d in target.get("/plugins/connect/api/datasources", headers=ADMIN).json
                  if d["name"] == "Geo")
    page = target.get(f"/plugins/connect/admin/datasources/{geo_id}", headers=ADMIN).get_data(as_text=True)
    assert "Geo waits for its password" in page

    give_password(target)
    assert "Waits for secrets" not in target.get("/plugins/connect/admin/datasources",
                                                 headers=ADMIN).get_data(as_text=True)
    assert options(target, "Continent") == options(source, "Continent")
    assert options(target, "Country", **{continent_here["field_key"]: "EU"}) == \
        options(source, "Country", **{continent_there["field_key"]: "EU"}) == \
        [{"value": "FR", "label": "France", "details": {"Code": "FR"}},
         {"value": "DE", "label": "Germany", "details": {"Code": "DE"}}]

    again = post(target, document)
    assert again.json["created"] == [] and again.json["updated"] == [] and len(again.json["unchanged"]) == 5
    assert again.json["secrets_needed"] == []  # the password entered here is kept
    assert options(target, "Continent") == options(source, "Continent")


def test_a_dry_run_answers_the_plan_and_writes_nothing(source, target):
    document = export(source)
    response = post(target, document, dry_run=True)
    assert response.status_code == 200, response.json
    assert response.json["dry_run"] is True and len(response.json["created"]) == 5
    assert response.json["secrets_needed"] == [{"datasource": "Geo", "fields": ["password"]}]
    assert export(target) == {"version": 1, "datasources": [], "items": []}
    assert "No changes recorded yet." in target.get("/plugins/connect/admin/audit", headers=ADMIN).get_data(True)


def test_an_import_updates_by_name_keeps_secrets_and_resets_what_the_file_leaves_out(source):
    document = export(source)
    changed = copy.deepcopy(document)
    country = changed["items"][1]
    country["options"]["label"] = "${row.name} (${row.code})"
    del country["options"]["details"], country["projects"]
    del changed["datasources"][0]["config"]["cache_ttl_seconds"]
    response = post(source, changed)
    assert response.status_code == 200, response.json
    assert response.json["updated"] == [{"datasource": "Geo"}, {"item": "Country"}]
    assert response.json["secrets_needed"] == []
    item = item_named(source, "Country")
    assert item["projects"] is None and "details" not in item["options"]
    geo = export(source)["datasources"][0]
    assert geo["config"]["cache_ttl_seconds"] == 300  # back to its default
    continent = item_named(source, "Continent")
    assert options(source, "Country", **{continent["field_key"]: "AS"}) == [{"value": "JP", "label": "Japan (JP)"}]


def test_a_url_moved_to_another_host_leaves_the_secrets_behind(source):
    document = export(source)
    geo = document["datasources"][0]
    geo["config"]["base_url"] = geo["config"]["base_url"].replace("127.0.0.1", "localhost")
    geo["config"].pop("health_check_url", None)
    response = post(source, document)
    assert response.status_code == 200, response.json
    assert response.json["secrets_needed"] == [{"datasource": "Geo", "fields": ["password"]}]
    ds = next(d for d in source.get("/plugins/connect/api/datasources", headers=ADMIN).json if d["name"] == "Geo")
    assert ds["auth"]["password_set"] is False


def test_every_change_of_an_import_is_in_the_audit_log_without_secrets(source, target):
    document = export(source)
    assert post(target, document).status_code == 200
    give_password(target)
    document["items"][0]["options"]["label"] = "${row.name}!"
    assert post(target, document).status_code == 200
    assert post(target, document).json["updated"] == []  # changes nothing: nothing to log
    page = target.get("/plugins/connect/admin/audit", headers=ADMIN).get_data(as_text=True)
    assert page.count("config imported") == 2
    assert "created 5, updated 0, unchanged 0" in page and "created 0, updated 1, unchanged 4" in page
    for name in ("Geo", "Public", "Continent", "Country", "Zeta"):
        assert name in page
    assert "label_template" in page and PASSWORD not in page


# --- bad documents ----------------------------------------------------------------------


BAD = {
    "not an object": (lambda d: ["x"], "must be a JSON object", None),
    "bad version": (lambda d: {**d, "version": 2}, "version: this instance reads configuration version 1",
                    "version"),
    "unknown top-level key": (lambda d: {**d, "extras": []}, "extras: unknown key", "extras"),
    "items not a list": (lambda d: {**d, "items": {}}, "items: must be a list", "items"),
    "entry without a name": (lambda d: {**d, "items": d["items"] + [{"datasource": "Geo"}]},
                             "items[3]: name: Name is required.", "items[3].name"),
    "a name twice": (lambda d: {**d, "datasources": d["datasources"] + [{**d["datasources"][0], "name": "GEO"}]},
                     "datasources[2] 'GEO': name: datasources[0] 'Geo' has the same name", "datasources[2].name"),
    "unknown datasource": (lambda d: _set(d, "items", 2, datasource="Nope"),
                           "items[2] 'Zeta': datasource: 'Nope' is not a datasource of this file.",
                           "items[2].datasource"),
    "reference to an item not in the file": (
        lambda d: {**d, "items": [i for i in d["items"] if i["name"] != "Continent"]},
        "items[0] 'Country': query: refers to the item 'Continent', which is not in this file.", "items[0].query"),
    "reference by id": (lambda d: _set(d, "items", 1, query="/countries?continent=$issue.connected_item_1"),
                        "items[1] 'Country': query: $issue.connected_item_1 names an item by id", "items[1].query"),
    "items in a circle": (lambda d: _set(d, "items", 0, query="/continents?c=$issue.connected_item[Country]"),
                          "these items read each other in a circle: 'Continent' -> 'Country' -> 'Continent'",
                          "items[0]"),
    "bad mapping": (lambda d: _set(d, "items", 2, options={"path": "$[", "value": "${row.id}", "label": "x"}),
                    "items[2] 'Zeta': options.path:", "items[2].options.path"),
    "bad editor": (lambda d: _set(d, "items", 2, editor="radio"), "items[2] 'Zeta': editor: Editor must be one of",
                   "items[2].editor"),
    "unknown variable": (lambda d: _set(d, "items", 2, query="/zeta?q=$issue.colour"),
                         "items[2] 'Zeta': query: Unknown variable $issue.colour", "items[2].query"),
    "plain http URL": (lambda d: _set(d, "datasources", 1, config={"base_url": "http://127.0.0.1/api"}),
                       "datasources[1] 'Public': config.base_url:", "datasources[1].config.base_url"),
    "unknown auth mode": (lambda d: _set(d, "datasources", 1, auth={"mode": "kerberos"}),
                          "datasources[1] 'Public': auth.mode: Unknown authentication mode 'kerberos'",
                          "datasources[1].auth.mode"),
    "a secret in the file": (
        lambda d: _set(d, "datasources", 0, auth={"mode": "basic", "username": "svc", "password": "typed-in-file"}),
        "datasources[0] 'Geo': auth.password: a configuration file never holds secrets", "datasources[0].auth.password"),
    "an id": (lambda d: _set(d, "items", 2, datasource_id=1), "items[2] 'Zeta': datasource_id: ids differ",
              "items[2].datasource_id"),
}


def _set(document: dict, part: str, index: int, **values) -> dict:
    document = copy.deepcopy(document)
    document[part][index].update(values)
    return document


def test_every_bad_document_is_a_400_naming_the_entry_and_writes_nothing(source, target):
    document = export(source)
    for case, (change, message, field) in BAD.items():
        response = post(target, change(document))
        assert response.status_code == 400, (case, response.json)
        assert message in response.json["error"], (case, response.json)
        if field is not None:
            assert field in response.json["fields"], (case, response.json)
    assert export(target) == {"version": 1, "datasources": [], "items": []}
    assert "No changes recorded yet." in target.get("/plugins/connect/admin/audit", headers=ADMIN).get_data(True)


def test_one_transaction_an_invalid_later_entry_leaves_the_earlier_ones_unwritten(source, target):
    document = export(source)
    document["items"][2]["options"] = {"path": "$[", "value": "${row.id}", "label": "${row.name}"}  # Zeta, last
    response = post(target, document)
    assert response.status_code == 400 and response.json["error"].startswith("items[2] 'Zeta'")
    assert export(target) == {"version": 1, "datasources": [], "items": []}

    # In an instance that has them, the earlier entries keep their old state too.
    changed = copy.deepcopy(export(source))
    changed["items"][0]["options"]["label"] = "${row.name} changed"
    changed["datasources"][1]["config"]["timeout_seconds"] = 5
    changed["items"][2]["editor"] = "radio"
    before = export(source)
    assert post(source, changed).status_code == 400
    assert export(source) == before


def test_only_admins_may_export_or_import(source):
    assert source.get(CONFIG, headers=ALICE).status_code == 403
    assert source.post(CONFIG, headers=ALICE, json=export(source)).status_code == 403
    assert source.get(CONFIG).status_code == 401


# --- the CLI ----------------------------------------------------------------------------


def test_cli_export_and_import_through_files(source, target, tmp_path):
    runner = source.application.test_cli_runner()
    out = tmp_path / "config.yaml"
    result = runner.invoke(args=["config", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text()) == export(source)
    assert PASSWORD not in out.read_text()

    stdout = runner.invoke(args=["config", "export"])
    assert json.loads(stdout.output) == export(source)
    as_yaml = runner.invoke(args=["config", "export", "--format", "yaml"])
    assert yaml.safe_load(as_yaml.output) == export(source)

    importer = target.application.test_cli_runner()
    dry = importer.invoke(args=["config", "import", str(out), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[0] == "Dry run: nothing was written."
    assert "created: datasource Geo" in dry.output and "created: item Country" in dry.output
    assert "secrets needed: datasource Geo (password)" in dry.output
    assert export(target)["items"] == []

    done = importer.invoke(args=["config", "import", str(out)])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == "created 5, updated 0, unchanged 0, datasources waiting for secrets 1"
    assert export(target) == export(source)


def test_cli_import_of_a_bad_file_names_the_entry_and_writes_nothing(source, target, tmp_path):
    document = export(source)
    document["items"][0]["datasource"] = "Nope"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    result = target.application.test_cli_runner().invoke(args=["config", "import", str(bad)])
    assert result.exit_code == 1
    assert "items[0] 'Continent': datasource: 'Nope' is not a datasource of this file." in result.output
    assert "Nothing was written." in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nitems: [\n")
    result = target.application.test_cli_runner().invoke(args=["config", "import", str(broken)])
    assert result.exit_code == 1 and "not valid YAML" in result.output
    assert export(target)["items"] == []


# --- the demo's configuration in a fresh instance ----------------------------------------


@pytest.fixture
def demo_upstream(tmp_path):
    from plugin_host.demo.upstream import DemoUpstream

    server = DemoUpstream(tmp_path / "demo-tls").start()
    yield server
    server.stop()


def test_the_demos_configuration_imports_into_a_fresh_instance_and_serves_the_same_options(
        tmp_path, new_app, demo_upstream):
    from cryptography.fernet import Fernet

    from plugin_host.demo.seed import DATASOURCE_NAME, _seed_host, seed_demo
    from plugin_host.demo.upstream import API_KEY
    from tests.conftest import basic

    def instance(name):
        return new_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/{name}.db", "SECRET_KEY": "t",
                        "INSTANCE_PATH": str(tmp_path / name), "CONNECT_SECRET_KEYS": Fernet.generate_key().decode(),
                        "CONNECT_CA_BUNDLE": str(demo_upstream.ca_file), "CONNECT_ALLOWED_HOSTS": "127.0.0.1"},
                       migrate=True)

    demo, fresh = instance("demo"), instance("fresh")
    seed_demo(demo, demo_upstream.base_url)
    with fresh.app_context():
        _seed_host()  # the same users, project and issues; no datasource, no item
    admin, alice = basic("admin", "admin"), basic("alice", "alice")
    document = demo.test_client().get(CONFIG, headers=admin).json
    assert API_KEY not in json.dumps(document)

    client = fresh.test_client()
    answer = client.post(CONFIG, headers=admin, json=document).json
    assert answer["created"] == [{"datasource": d["name"]} for d in document["datasources"]] + \
        [{"item": i["name"]} for i in document["items"]]
    assert answer["secrets_needed"] == [{"datasource": DATASOURCE_NAME, "fields": ["value"]}]
    ds = client.get("/plugins/connect/api/datasources", headers=admin).json[0]
    assert client.patch(f"/plugins/connect/api/datasources/{ds['id']}", headers=admin,
                        json={"auth": {"value": API_KEY}}).status_code == 200
    assert client.get(CONFIG, headers=admin).json == document

    def served(app, issue):
        items = {i["name"]: i for i in app.test_client().get("/plugins/connect/api/items", headers=admin).json}
        continent = items["Continent"]["field_key"]
        answers = {}
        for name, item in items.items():
            query = {"issue": issue, "q": "mac" if item["editor"] == "autocomplete" else None,
                     f"deps.{continent}": "EU"}
            response = app.test_client().get(f"/plugins/connect/api/items/{item['id']}/options", headers=alice,
                                             query_string={k: v for k, v in query.items() if v is not None})
            assert response.status_code == 200, (name, response.json)
            answers[name] = response.json["options"]
        return answers

    for issue in ("DEMO-1", "DEMO-2", "DEMO-3"):
        there, here = served(demo, issue), served(fresh, issue)
        assert here == there and len(here) == len(document["items"]) >= 6
        assert all(here[name] for name in ("Asset search", "Continent", "Country")), here
