"""The authorization matrix: every route and method of the host's URL map, called as
an anonymous visitor, a project member (alice), a non-member (carol) and an admin,
over the session cookie and over HTTP Basic, against the one table of expected
outcomes in ``access_table.py``.

The cases are generated from ``app.url_map`` at collection, so a new route fails
here until it has a row in the table. Routes with converters get real ids (the
world's datasource and item, DEMO-1); destructive calls (DELETE, the delete
confirmations) get a fresh object of their own. Session calls send the CSRF token,
so what is checked here is who may call, not CSRF (``test_csrf.py`` does that).
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.security import access_table
from tests.security.access_table import ACCESS, FORBIDDEN, LOGIN, OK, UNAUTH
from tests.security.conftest import build_app, dispose, url_map_routes

DESTRUCTIVE = {("connect.delete_datasource", "DELETE"), ("connect.delete_item", "DELETE"),
               ("connect.datasource_delete", "POST"), ("connect.item_delete", "POST")}
STATIC_FILES = {"static": "host.css", "connect.static": "connect/connect.css"}


ROUTES = url_map_routes()
CHANNELS = {"anonymous": ("none",), "member": ("session", "basic"), "non_member": ("session", "basic"),
            "admin": ("session", "basic")}
CASES = [(endpoint, method, rule, role, channel)
         for endpoint, method, rule in ROUTES
         for role in access_table.ROLES
         for channel in CHANNELS[role]]
_unique = itertools.count(1)


def outcome(response) -> str:
    code = response.status_code
    if code == 401:
        return UNAUTH
    if code == 403:
        return FORBIDDEN
    if code in (301, 302, 303, 307, 308):
        return LOGIN if urlsplit(response.headers.get("Location", "")).path == "/login" else OK
    if code < 300 or code in (400, 409):
        if code == 400 and "CSRF" in response.get_data(as_text=True):
            return "refused for CSRF"
        return OK
    return f"HTTP {code}"


def _path(world, endpoint: str, method: str, rule: str) -> str:
    destructive = (endpoint, method) in DESTRUCTIVE
    n = next(_unique)
    values = {}
    if "<int:datasource_id>" in rule:
        values["datasource_id"] = world.new_datasource(f"Doomed {n}") if destructive else world.datasource_id
    if "<int:item_id>" in rule:
        values["item_id"] = world.new_item(f"Doomed {n}") if destructive else world.item_id
    path = rule.replace("<int:datasource_id>", str(values.get("datasource_id", "")))
    path = path.replace("<int:item_id>", str(values.get("item_id", "")))
    path = path.replace("<key>", world.issue_key).replace("<type_name>", "rest").replace("<project_key>", "DEMO")
    path = path.replace("<path:filename>", STATIC_FILES.get(endpoint, ""))
    assert "<" not in path, f"{rule}: add a value for its converter in test_authz_matrix._path"
    if endpoint == "connect.item_options":
        path += f"?issue={world.issue_key}"
    return path


def _body(world, endpoint: str) -> dict:
    """What each unsafe call sends: enough for an allowed caller to succeed or to get
    the view's own validation answer."""
    n = next(_unique)
    json_bodies = {
        "rest.post_project": {},  # an admin gets the view's 400 naming key and name
        "rest.post_issue": {"fields": {"project": {"key": "DEMO"}, "summary": f"Authz {n}"}},
        "rest.put_issue": {"fields": {"summary": "Laptop for Alice"}},
        "connect.create_datasource": {"name": f"Authz {n}", "type": "rest",
                                      "config": {"base_url": "https://127.0.0.1:9/api"}},
        "connect.patch_datasource": {"config": {"cache_ttl_seconds": 300}},
        "connect.create_item": {"name": f"Authz {n}", "datasource_id": world.datasource_id, "editor": "select", "query": "/assets"},
        "connect.patch_item": {"name": "Asset"},
        "connect.test_item": {"issue": "DEMO-1"},
    }
    form_bodies = {
        "auth.login": {},
        "issues.browse": {"summary": "Laptop for Alice", "description": ""},
        "issues.create": {"summary": f"Created {n}", "description": ""},
        "connect.datasource_new_type": {"step": "name", "name": ""},
        "connect.datasource_detail": {"name": ""},
        "connect.item_new": {"name": ""},
        "connect.item_detail": {"name": ""},
        "connect.item_test": {"issue": "DEMO-1"},
    }
    if endpoint in json_bodies:
        return {"json": json_bodies[endpoint]}
    return {"data": form_bodies.get(endpoint, {})}


@pytest.mark.parametrize("endpoint, method, rule, role, channel", CASES,
                         ids=[f"{e}-{m}-{r}-{c}" for e, m, _rule, r, c in CASES])
def test_route_method_role(world, endpoint, method, rule, role, channel):
    want = access_table.expected(endpoint, method, role)
    assert want is not None, (f"{method} {rule} ({endpoint}) is not classified: add a row to "
                              "tests/security/access_table.py saying who may call it")
    client, headers = world.client(role, channel)
    kwargs = {}
    if method not in ("GET", "HEAD"):
        kwargs = _body(world, endpoint)
        if channel == "session":
            token = world.logins[role].csrf
            headers["X-CSRFToken"] = token
            if "data" in kwargs:
                kwargs["data"] = {**kwargs["data"], "csrf_token": token}
    path = _path(world, endpoint, method, rule)
    response = client.open(path, method=method, headers=headers, **kwargs)
    got = outcome(response)
    assert got == want, (f"{method} {path} as {role} over {channel}: expected {want}, got {got} "
                         f"({response.status_code}: {response.get_data(as_text=True)[:200]!r})")
    if got == LOGIN and endpoint.startswith("connect."):
        assert "next=" in response.headers["Location"], "the login page brings the visitor back"


OPTIONS_CASES = [(case, item, query, role, channel)
                 for (case, item, query) in access_table.OPTIONS_CASES
                 for role in access_table.ROLES
                 for channel in CHANNELS[role]]


@pytest.mark.parametrize("case, item, query, role, channel", OPTIONS_CASES,
                         ids=[f"options-{c}-{r}-{ch}".replace(" ", "_") for c, _i, _q, r, ch in OPTIONS_CASES])
def test_options_by_scope_and_role(world, case, item, query, role, channel):
    want = access_table.OPTIONS_CASES[(case, item, query)][role]
    client, headers = world.client(role, channel)
    item_id = {"asset": world.item_id, "ops": world.ops_item_id, "unknown": 987_654}[item]
    path = f"/plugins/connect/api/items/{item_id}/options" + (f"?{query}" if query else "")
    response = client.get(path, headers=headers)
    assert response.status_code == want, (f"GET {path} as {role} over {channel} ({case}): expected {want}, got "
                                          f"{response.status_code}: {response.get_data(as_text=True)[:200]!r}")


def test_a_user_without_the_right_hears_the_same_whatever_the_item(world):
    """Refused on a create screen, the answer is the same for an item shown there,
    one another project shows and an id that does not exist."""
    client, headers = world.client("non_member", "basic")
    answers = {client.get(f"/plugins/connect/api/items/{item_id}/options?project=DEMO", headers=headers)
               .get_data(as_text=True) for item_id in (world.item_id, world.ops_item_id, 987_654)}
    assert len(answers) == 1, answers
    member, headers = world.client("member", "basic")
    hidden = member.get(f"/plugins/connect/api/items/{world.ops_item_id}/options?project=DEMO", headers=headers)
    unknown = member.get("/plugins/connect/api/items/987654/options?project=DEMO", headers=headers)
    assert hidden.json["error"].replace(str(world.ops_item_id), "987654") == unknown.json["error"]


def test_the_table_has_no_row_for_a_route_that_is_gone():
    present = {(endpoint, method) for endpoint, method, _rule in ROUTES}
    assert set(ACCESS) - present == set()


def test_plugin_views_declare_the_audience_the_table_gives_them():
    """Every plugin view carries a guard decorator (views/guards.py) and it agrees
    with the table: public, user (any logged-in user) or admin."""
    with tempfile.TemporaryDirectory() as directory:
        app = build_app(Path(directory), ca_bundle="")
        try:
            views = dict(app.view_functions)
        finally:
            dispose(app)
    for endpoint, method, rule in ROUTES:
        if not endpoint.startswith("connect.") or endpoint == "connect.static":
            continue
        declared = getattr(views[endpoint], "connect_audience", None)
        assert declared is not None, f"{rule} has no guard decorator (api_admin, api_user, page_admin, public)"
        row = ACCESS[(endpoint, method)]
        assert access_table.AUDIENCE_OF_KIND[id(row)] == declared, f"{method} {rule}: table and decorator differ"


def test_case_count():
    """The closing note quotes this number: route-method-role cases."""
    assert len(CASES) == 7 * len(ROUTES) and len(ROUTES) >= 40
