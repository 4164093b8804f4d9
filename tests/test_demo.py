"""The offline demo behind ``make run``: certificates, the sample API, the seed, the runner.

Every connection here goes to the demo's own servers on 127.0.0.1.
"""

from __future__ import annotations

import base64
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.fernet import Fernet

from plugin_host.demo.certs import ensure_certs
from plugin_host.demo.seed import DATASOURCE_NAME, seed_demo
from plugin_host.demo.upstream import API_KEY, ASSETS, DemoUpstream

ROOT = Path(__file__).resolve().parent.parent


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = DemoUpstream(tmp_path_factory.mktemp("demo-tls")).start()
    yield server
    server.stop()


@pytest.fixture
def app(tmp_path, monkeypatch, upstream, new_app):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CONNECT_CA_BUNDLE", str(upstream.ca_file))
    monkeypatch.setenv("CONNECT_ALLOWED_HOSTS", "127.0.0.1")
    return new_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "SECRET_KEY": "t",
                    "CONNECT_SECRET_KEYS": Fernet.generate_key().decode()}, migrate=True)


# --- certificates ---------------------------------------------------------------------


def test_certs_are_made_once_and_reused(tmp_path):
    first = ensure_certs(tmp_path / "tls")
    contents = [p.read_bytes() for p in (first.ca, first.cert, first.key)]
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificate(first.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(first.ca.read_bytes())
    leaf.verify_directly_issued_by(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert not list(first.ca.parent.glob("*ca*key*")), "the CA's private key is never stored"

    again = ensure_certs(tmp_path / "tls")
    assert [p.read_bytes() for p in (again.ca, again.cert, again.key)] == contents


def test_expired_or_broken_certs_are_made_again(tmp_path):
    old = ensure_certs(tmp_path / "tls", now=datetime(2020, 1, 1, tzinfo=timezone.utc))
    old_ca = old.ca.read_bytes()
    fresh = ensure_certs(tmp_path / "tls")
    assert fresh.ca.read_bytes() != old_ca
    leaf = x509.load_pem_x509_certificate(fresh.cert.read_bytes())
    assert leaf.not_valid_after_utc > datetime.now(timezone.utc)

    fresh.key.write_text("not a key")
    repaired = ensure_certs(tmp_path / "tls")
    assert repaired.key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(repaired.key.stat().st_mode) == 0o600


# --- the sample API -------------------------------------------------------------------


def test_upstream_health_and_api_key(upstream):
    ca = str(upstream.ca_file)
    assert upstream.base_url == f"https://127.0.0.1:{upstream.port}/api"
    health = requests.get(f"{upstream.base_url}/health", verify=ca, timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok"}

    refused = requests.get(f"{upstream.base_url}/assets", verify=ca, timeout=5)
    assert refused.status_code == 401
    assert "X-Api-Key" in refused.json()["error"]
    wrong = requests.get(f"{upstream.base_url}/assets", headers={"X-Api-Key": "nope"}, verify=ca, timeout=5)
    assert wrong.status_code == 401

    mine = requests.get(f"{upstream.base_url}/assets", params={"owner": "alice@example.com"},
                        headers={"X-Api-Key": API_KEY}, verify=ca, timeout=5)
    assert mine.status_code == 200
    items = mine.json()["items"]
    assert items and all(a["owner"] == "alice@example.com" for a in items)
    assert items[0] == {"id": "A-1001", "name": "MacBook Pro 14", "serial": "C02XK1",
                        "owner": "alice@example.com", "type": "Laptop"}


def test_upstream_data_endpoints(upstream):
    ca, base, key = str(upstream.ca_file), upstream.base_url, {"X-Api-Key": API_KEY}
    assert 35 <= len(ASSETS) <= 45 and len({a["id"] for a in ASSETS}) == len(ASSETS)

    found = requests.get(f"{base}/assets", params={"q": "macbook"}, headers=key, verify=ca, timeout=5).json()
    assert {a["id"] for a in found["items"]} == {"A-1001", "A-1021", "A-1041"}
    by_serial = requests.get(f"{base}/assets", params={"q": "c02xk1"}, headers=key, verify=ca, timeout=5).json()
    assert [a["id"] for a in by_serial["items"]] == ["A-1001"]
    in_text = requests.get(f"{base}/assets", params={"q": "Laptop C02XK1 does not charge"}, headers=key,
                           verify=ca, timeout=5).json()
    assert [a["owner"] for a in in_text["items"]] == ["alice@example.com"]

    continents = requests.get(f"{base}/continents", verify=ca, timeout=5).json()
    assert {"code": "EU", "name": "Europe"} in continents
    countries = requests.get(f"{base}/countries", params={"continent": "EU"}, verify=ca, timeout=5).json()
    assert {"code": "FR", "name": "France"} in countries["countries"]
    assert requests.get(f"{base}/countries", params={"continent": "XX"}, verify=ca, timeout=5).json() == \
        {"countries": []}
    assert requests.get(f"{base}/countries", verify=ca, timeout=5).status_code == 400

    search = requests.get(f"{base}/search", params={"jql": "MacBook does not charge"}, verify=ca, timeout=5).json()
    assert search["total"] == len(search["issues"]) > 0
    assert search["issues"][0]["key"] == "OPS-12"
    assert "summary" in search["issues"][0]["fields"]

    missing = requests.get(f"{base}/nothing", verify=ca, timeout=5)
    assert missing.status_code == 404 and "error" in missing.json()
    assert requests.post(f"{base}/assets", json={}, verify=ca, timeout=5).status_code == 405


def test_upstream_refuses_non_loopback_hosts(tmp_path):
    with pytest.raises(ValueError, match=r"The sample API listens on loopback only \(.*\), not '0\.0\.0\.0'\."):
        DemoUpstream(tmp_path, host="0.0.0.0")


def test_upstream_command_prints_its_port(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugin_host.demo.upstream", "--port", "0", "--cert-dir", str(tmp_path / "tls"),
         "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("LISTENING "), first + proc.stderr.read()
        port = int(first.split()[1])
        answer = requests.get(f"https://127.0.0.1:{port}/api/health", verify=str(tmp_path / "tls" / "ca.pem"),
                              timeout=5)
        assert answer.json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0


# --- the seed and the options it makes possible --------------------------------------


def _counts(app):
    from sqlalchemy import func, select

    from connect_plugin.state import session as plugin_session
    from connect_plugin.models import ConnectedItem, Datasource
    from plugin_host.db import session as host_session
    from plugin_host.models import Issue, Project, User

    with app.app_context():
        db, host = plugin_session(), host_session()
        project = host.scalar(select(Project).where(Project.key == "DEMO"))
        return {
            "datasources": db.scalar(select(func.count()).select_from(Datasource)),
            "items": db.scalar(select(func.count()).select_from(ConnectedItem)),
            "issues": host.scalar(select(func.count()).select_from(Issue)),
            "users": sorted(u.username for u in host.scalars(select(User))),
            "admins": sorted(u.username for u in host.scalars(select(User).where(User.is_admin))),
            "members": sorted(u.username for u in project.members),
            "base_url": db.scalar(select(Datasource)).config["base_url"],
        }


def test_seed_is_idempotent_and_follows_the_port(app, upstream):
    first = seed_demo(app, upstream.base_url)
    assert first.created and len(first.items) == 7 and first.issues == ["DEMO-1", "DEMO-2", "DEMO-3"]
    second = seed_demo(app, upstream.base_url)
    assert not second.created and not second.updated_urls
    assert second.items == first.items and second.datasource_id == first.datasource_id

    counts = _counts(app)
    assert counts["datasources"] == 1 and counts["items"] == 7 and counts["issues"] == 3
    assert counts["users"] == ["admin", "alice", "bob"] and counts["admins"] == ["admin"]
    assert counts["members"] == ["alice", "bob"]

    moved = seed_demo(app, "https://127.0.0.1:1234/api")
    assert moved.updated_urls and not moved.created
    assert _counts(app)["base_url"] == "https://127.0.0.1:1234/api"
    seed_demo(app, upstream.base_url)
    counts = _counts(app)
    assert counts["base_url"] == upstream.base_url and counts["datasources"] == 1 and counts["items"] == 7

    client = app.test_client()
    listed = client.get("/plugins/connect/api/datasources", headers=basic("admin", "admin")).get_json()
    assert [d["name"] for d in listed] == [DATASOURCE_NAME]
    assert listed[0]["auth"] == {"mode": "api_key", "location": "header", "key": "X-Api-Key", "value_set": True}
    assert listed[0]["config"]["health_check_url"] == f"{upstream.base_url}/health"
    assert API_KEY not in client.get("/plugins/connect/api/datasources", headers=basic("admin", "admin")).text
    assert client.get("/rest/api/2/issue/DEMO-1", headers=basic("alice", "alice")).status_code == 200


def _options(client, item_id, user, **params):
    response = client.get(f"/plugins/connect/api/items/{item_id}/options", query_string=params,
                          headers=basic(user, user))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_demo_options_end_to_end(app, upstream):
    seeded = seed_demo(app, upstream.base_url)
    items = seeded.items
    client = app.test_client()

    assert client.post(f"/plugins/connect/api/datasources/{seeded.datasource_id}/test",
                       headers=basic("admin", "admin")).get_json()["ok"] is True

    alice = _options(client, items["Asset"], "alice", issue="DEMO-1")
    expected = [a for a in ASSETS if a["owner"] == "alice@example.com"]
    assert alice["total"] == len(expected)
    assert alice["options"] == [{"value": a["id"], "label": f"{a['name']} ({a['serial']})",
                                 "details": {"Serial": a["serial"], "Type": a["type"], "Owner": a["owner"]}}
                                for a in expected]
    assert {"value": "A-1001", "label": "MacBook Pro 14 (C02XK1)",
            "details": {"Serial": "C02XK1", "Type": "Laptop", "Owner": "alice@example.com"}} in alice["options"]
    bob = _options(client, items["Asset"], "bob", issue="DEMO-1")
    assert bob["options"] and "A-1001" not in {o["value"] for o in bob["options"]}

    continent = items["Continent"]
    continents = _options(client, continent, "alice", issue="DEMO-1")
    assert {"value": "EU", "label": "Europe"} in continents["options"]
    waiting = _options(client, items["Country"], "alice", issue="DEMO-1")
    assert waiting["options"] == [] and waiting["message"] == "Fill in Continent first."
    europe = _options(client, items["Country"], "alice", issue="DEMO-1", **{f"deps.connected_item_{continent}": "EU"})
    labels = {o["label"] for o in europe["options"]}
    assert {"France", "Germany", "Spain"} <= labels and "Japan" not in labels
    assert {"value": "FR", "label": "France"} in europe["options"]

    search = _options(client, items["Asset search"], "bob", issue="DEMO-2", q="macbook")
    assert {o["value"] for o in search["options"]} == {"A-1001", "A-1021", "A-1041"}
    owner = _options(client, items["Asset owner (read-only)"], "bob", issue="DEMO-2")
    assert owner["options"] == [{"value": "A-1001", "label": "alice@example.com"}]
    related = _options(client, items["Related issues"], "bob", issue="DEMO-2")
    assert related["options"] and related["options"][0]["label"].startswith("OPS-")
    assert all(o["label"].startswith(o["value"] + ": ") for o in related["options"])

    # Any asset reads the four pages of the paged endpoint (Link headers) as one answer.
    every = _options(client, items["Any asset"], "alice", issue="DEMO-1", limit=200)
    assert [o["value"] for o in every["options"]] == [a["id"] for a in ASSETS] and len(ASSETS) == 40
    assert "truncated" not in every
    traced = client.post(f"/plugins/connect/api/items/{items['Any asset']}/test", headers=basic("admin", "admin"),
                         json={"issue": "DEMO-1"}).get_json()
    assert [(p["page"], p["rows"]) for p in traced["pages"]] == [(1, 10), (2, 10), (3, 10), (4, 10)]

    # Saving values goes through the same options: Europe, then France, in one change.
    saved = client.put("/rest/api/2/issue/DEMO-1", headers=basic("alice", "alice"),
                       json={"fields": {f"connected_item_{continent}": "EU",
                                        f"connected_item_{items['Country']}": "FR"}})
    assert saved.status_code == 204, saved.get_data(as_text=True)
    fields = client.get("/rest/api/2/issue/DEMO-1", headers=basic("alice", "alice")).get_json()["fields"]
    assert fields[f"connected_item_{items['Country']}"] == {"value": "FR", "label": "France"}


# --- the runner -----------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """The runner sets variables in os.environ; monkeypatch puts them back."""
    for name in ("CONNECT_CA_BUNDLE", "CONNECT_ALLOWED_HOSTS", "DATABASE_URL", "CONNECT_SECRET_KEYS", "SECRET_KEY",
                 "CONNECT_DATABASE_URL", "PLUGIN_MANIFESTS", "CACHE_TYPE", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path / "instance"


def test_prepare_sets_trust_and_allow_list_before_the_app(clean_env, monkeypatch):
    from plugin_host.demo import run

    monkeypatch.setenv("CONNECT_ALLOWED_HOSTS", "api.internal.example")
    demo = run.prepare(5999, verbose_upstream=False)
    try:
        assert os.environ["CONNECT_ALLOWED_HOSTS"] == "api.internal.example,127.0.0.1"
        assert os.environ["CONNECT_CA_BUNDLE"] == str(clean_env / "demo-tls" / "ca.pem")
        assert (clean_env / "demo-tls" / "server-key.pem").exists()
        assert demo.app.config["CONNECT_CA_BUNDLE"] == os.environ["CONNECT_CA_BUNDLE"]
        for text in ("http://127.0.0.1:5999", "admin / admin", "alice / alice", "bob / bob", "DEMO-1",
                     "Asset", "Continent", "Country"):
            assert text in demo.banner
        assert API_KEY not in demo.banner
        with demo.app.test_client() as client:
            answer = client.post("/plugins/connect/api/datasources/1/test", headers=basic("admin", "admin"))
            assert answer.get_json()["ok"] is True
            _the_issue_picker_searches_this_trackers_own_api(client, demo)
    finally:
        demo.stop()

    # A second start reuses everything and only follows the new port.
    monkeypatch.setenv("CONNECT_ALLOWED_HOSTS", "api.internal.example,127.0.0.1")
    again = run.prepare(5999, verbose_upstream=False)
    try:
        assert os.environ["CONNECT_ALLOWED_HOSTS"] == "api.internal.example,127.0.0.1"
        assert "already registered" in again.banner
        assert _counts(again.app)["datasources"] == 2  # the sample API and this tracker
        with again.app.test_client() as client:
            # The tracker's HTTPS port and the reader's password are new: the picker follows both.
            _the_issue_picker_searches_this_trackers_own_api(client, again)
    finally:
        again.stop()


def _the_issue_picker_searches_this_trackers_own_api(client, demo):
    from plugin_host.demo.seed import PICKER_NAME, TRACKER_NAME

    admin = basic("admin", "admin")
    items = {i["name"]: i for i in client.get("/plugins/connect/api/items", headers=admin).get_json()}
    picker = items[PICKER_NAME]
    tracker = {d["name"]: d for d in client.get("/plugins/connect/api/datasources", headers=admin).get_json()}
    assert tracker[TRACKER_NAME]["config"]["base_url"] == demo.tracker.api_url
    assert demo.tracker.api_url.startswith("https://127.0.0.1:")
    found = client.get(f"/plugins/connect/api/items/{picker['id']}/options?issue=DEMO-3&q=laptop",
                       headers=basic("alice", "alice"))
    assert found.status_code == 200, found.get_json()
    labels = [o["label"] for o in found.get_json()["options"]]
    assert labels == ["DEMO-1: Set up a new laptop for Alice's onboarding",
                      "DEMO-2: Laptop C02XK1 does not charge any more"]


def test_an_operator_ca_bundle_is_kept(clean_env, monkeypatch, tmp_path):
    from plugin_host.demo import run

    own = ensure_certs(tmp_path / "operator").ca
    monkeypatch.setenv("CONNECT_CA_BUNDLE", str(own))
    tls = clean_env / "demo-tls"
    demo_ca = ensure_certs(tls).ca
    bundle = run.trust_demo_ca(demo_ca, tls)
    text = Path(bundle).read_text()
    assert own.read_text() in text and demo_ca.read_text() in text
    assert os.environ["CONNECT_CA_BUNDLE"] == bundle


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_make_run_flow_serves_and_stops_on_ctrl_c(clean_env):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([sys.executable, "-m", "plugin_host.demo.run", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen = []
    try:
        deadline = time.monotonic() + 60
        while not any("Press Ctrl-C" in line for line in seen):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                pass
        banner = "".join(seen)
        assert f"http://127.0.0.1:{port}" in banner and "alice / alice" in banner
        url = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                login = requests.get(f"{url}/login", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert login.status_code == 200
        options = requests.get(f"{url}/plugins/connect/api/items/1/options", params={"issue": "DEMO-1"},
                               headers=basic("alice", "alice"), timeout=10)
        assert options.status_code == 200, options.text
        assert {"value": "A-1001", "label": "MacBook Pro 14 (C02XK1)", "details": {
            "Serial": "C02XK1", "Type": "Laptop", "Owner": "alice@example.com"}} in options.json()["options"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    time.sleep(0.2)
    while not lines.empty():
        seen.append(lines.get())
    assert proc.returncode == 0, "".join(seen)
    assert "Connect demo stopped." in "".join(seen)
