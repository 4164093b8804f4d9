"""CSRF (CONTRACT section 3): HTML forms carry tokens; JSON calls made with the
session cookie need ``X-CSRFToken`` for unsafe methods; Basic-authenticated calls
need none.

Pages are found by crawling from ``/`` as an admin and as a member (links and the
pages that submitting a form renders, such as the wizard's configuration step), and
``/login`` as a visitor. Every POST form found must carry a ``csrf_token``;
submitting it without one is refused and changes nothing in the database, and the
same submission with the token gets past the check (so the refusal is the token's
doing). The JSON calls are taken from the URL map.
"""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import ADMIN
from tests.security.conftest import db_snapshot, url_map_routes
from tests.security.pages import Form, crawl, destructive

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_unique = itertools.count(1)


# --- HTML forms -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crawled(world):
    """Every POST form of every page, for the admin, the member and a visitor."""
    admin, _ = world.client("admin", "session")
    member, _ = world.client("member", "session")
    visitor, _ = world.client("anonymous", "none")
    found: dict[str, dict[tuple, Form]] = {}
    pages: dict[str, list[str]] = {}
    for role, client in (("admin", admin), ("member", member)):
        pages[role], found[role] = crawl(client, ["/", "/plugins/connect/admin/datasources",
                                                  "/plugins/connect/admin/items", "/plugins/connect/admin/audit"])
    pages["anonymous"], found["anonymous"] = crawl(visitor, ["/login"])
    return pages, found


def test_the_crawl_reaches_every_page_kind(crawled):
    pages, found = crawled
    admin_pages = " ".join(pages["admin"])
    for needle in ("/browse/DEMO-1", "/admin/datasources/new/rest", "/admin/datasources/1", "/admin/items/new",
                   "/admin/items/1", "/admin/items/1/delete", "/admin/datasources/1/delete", "/admin/audit"):
        assert needle in admin_pages, needle
    assert "/browse/DEMO-1" in pages["member"]
    actions = {key[1] for key in found["admin"]}
    # the configuration step of the wizard is reached only by submitting the name step
    assert any("step" in dict(form.fields) and dict(form.fields)["step"] == "configure"
               for form in found["admin"].values())
    assert {"/plugins/connect/admin/datasources/1/test", "/plugins/connect/admin/datasources/1/cache/clear",
            "/plugins/connect/admin/items/1/test", "/browse/DEMO-1"} <= actions


def test_every_form_carries_a_csrf_token(crawled):
    _pages, found = crawled
    forms = [form for role in found.values() for form in role.values()]
    print(f"{len(forms)} POST forms: " + ", ".join(sorted(f"{role}:{key[1]}" for role, by_key in found.items()
                                                         for key in by_key)))
    assert len(forms) >= 10
    for form in forms:
        tokens = [value for name, value in form.fields if name == "csrf_token"]
        assert len(tokens) == 1 and len(tokens[0]) > 20, f"the form posting to {form.path} on {form.page} has no token"


def test_posting_a_form_without_its_token_is_refused_and_changes_nothing(world, crawled):
    _pages, found = crawled
    for role in ("admin", "member", "anonymous"):
        channel = "none" if role == "anonymous" else "session"
        forms = sorted(found[role].values(), key=lambda f: (destructive(f), f.path))
        for form in forms:
            client, _ = world.client(role, channel)
            before = db_snapshot(world.app)
            refused = client.post(form.path, data=_changed(form.data(with_token=False)))
            text = refused.get_data(as_text=True)
            assert refused.status_code == 400, f"{role}: {form.path} without token -> {refused.status_code}"
            assert "CSRF" in text or "form expired" in text, text[:300]
            assert db_snapshot(world.app) == before, f"{role}: {form.path} without a token changed the database"
            if role == "anonymous":
                assert client.get("/").status_code == 302, "not logged in by a form without a token"
                continue
            path = _fresh_target(world, form.path) if destructive(form) else form.path
            accepted = client.post(path, data=_changed(form.data(with_token=True)))
            assert not (accepted.status_code == 400 and "CSRF" in accepted.get_data(as_text=True)), form.path
            if destructive(form):
                assert accepted.status_code == 302, f"{path} with its token deletes"


def _fresh_target(world, path: str) -> str:
    """A delete confirmation aimed at an object made for it (the world's own stay)."""
    n = next(_unique)
    if path.startswith("/plugins/connect/admin/items/"):
        return f"/plugins/connect/admin/items/{world.new_item(f'Form doomed {n}')}/delete"
    return f"/plugins/connect/admin/datasources/{world.new_datasource(f'Form doomed {n}')}/delete"


def _changed(data: dict[str, list[str]]) -> dict[str, list[str]]:
    """The form as a user would change it: a new name or summary, so that an
    accepted submission would show in the database."""
    data = dict(data)
    n = next(_unique)
    for name in ("name", "summary"):
        if data.get(name) not in (None, [""]):
            data[name] = [f"{data[name][0]} {n}"]
    return data


# --- JSON calls ---------------------------------------------------------------------------

JSON_ROUTES = [(endpoint, method, rule) for endpoint, method, rule in url_map_routes()
               if method in UNSAFE and ("/api/" in rule)]


def _json_call(world, endpoint: str, rule: str) -> tuple[str, dict]:
    """A call that an allowed caller makes successfully, on objects of its own where
    the call destroys them."""
    n = next(_unique)
    doomed = endpoint in ("connect.delete_datasource", "connect.delete_item")
    ds = world.new_datasource(f"Csrf {n}") if endpoint == "connect.delete_datasource" else world.datasource_id
    item = world.new_item(f"Csrf {n}") if endpoint == "connect.delete_item" else world.item_id
    path = (rule.replace("<int:datasource_id>", str(ds)).replace("<int:item_id>", str(item))
            .replace("<key>", world.issue_key))
    bodies = {
        "rest.post_project": {"key": f"CS{n}", "name": f"Csrf {n}"},
        "rest.post_issue": {"fields": {"project": {"key": "DEMO"}, "summary": f"Csrf {n}"}},
        "rest.put_issue": {"fields": {"summary": f"Laptop for Alice {n}"}},
        "connect.create_datasource": {"name": f"Csrf {n}", "type": "rest",
                                      "config": {"base_url": world.upstream.url("/api")}},
        "connect.patch_datasource": {"config": {"cache_ttl_seconds": 300 + n}},
        "connect.create_item": {"name": f"Csrf {n}", "datasource_id": world.datasource_id, "editor": "select",
                                "query": "/assets"},
        "connect.patch_item": {"name": f"Asset {n}"},
        "connect.test_item": {"issue": "DEMO-1"},
        "rest.search": {"jql": "project = DEMO"},
        "connect.post_config": {"version": 1, "datasources": [
            {"name": f"Csrf {n}", "type": "rest", "config": {"base_url": world.upstream.url("/api")}}]},
    }
    assert doomed or "<" not in path
    return path, ({"json": bodies[endpoint]} if endpoint in bodies else {})


@pytest.mark.parametrize("endpoint, method, rule", JSON_ROUTES, ids=[f"{m} {r}" for _e, m, r in JSON_ROUTES])
def test_json_calls_with_the_session_need_the_header_and_basic_calls_do_not(world, endpoint, method, rule):
    role = "member" if endpoint in ("rest.post_issue", "rest.put_issue") else "admin"
    client, _ = world.client(role, "session")

    path, body = _json_call(world, endpoint, rule)
    before = db_snapshot(world.app)
    refused = client.open(path, method=method, **body)
    assert refused.status_code == 400, (path, refused.status_code)
    assert refused.is_json and "CSRF" in refused.json["error"], refused.get_data(as_text=True)
    assert db_snapshot(world.app) == before, f"{method} {path} without the header changed the database"

    wrong = client.open(path, method=method, headers={"X-CSRFToken": "not-the-token"}, **body)
    assert wrong.status_code == 400 and "CSRF" in wrong.json["error"]
    assert db_snapshot(world.app) == before

    allowed = client.open(path, method=method, headers={"X-CSRFToken": world.logins[role].csrf}, **body)
    assert 200 <= allowed.status_code < 300, (path, allowed.status_code, allowed.get_data(as_text=True)[:300])

    path, body = _json_call(world, endpoint, rule)
    basic, headers = world.client(role, "basic")
    by_script = basic.open(path, method=method, headers=headers, **body)
    assert 200 <= by_script.status_code < 300, (path, by_script.status_code, by_script.get_data(as_text=True)[:300])


def test_a_token_from_another_session_is_refused(world):
    alice, _ = world.client("member", "session")
    other_token = world.logins["admin"].csrf
    response = alice.put("/rest/api/2/issue/DEMO-1", json={"fields": {"summary": "Hijacked"}},
                         headers={"X-CSRFToken": other_token})
    assert response.status_code == 400
    assert world.app.test_client().get("/rest/api/2/issue/DEMO-1", headers=ADMIN).json["fields"]["summary"] \
        != "Hijacked"


def test_every_unsafe_json_route_is_covered():
    assert {endpoint for endpoint, _m, _r in JSON_ROUTES} >= {
        "rest.post_project", "rest.post_issue", "rest.put_issue", "connect.create_datasource",
        "connect.patch_datasource", "connect.delete_datasource", "connect.test_datasource",
        "connect.clear_datasource_cache", "connect.create_item", "connect.patch_item", "connect.delete_item",
        "connect.test_item"}
