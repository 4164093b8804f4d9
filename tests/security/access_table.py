"""Who may call what: the one table of expected outcomes (CONTRACT section 3).

Every (endpoint, method) of the host's URL map, HEAD and OPTIONS aside, has one
row here; ``test_authz_matrix.py`` calls each of them as each role, over the
session cookie and over HTTP Basic, and compares what happens with the row. A route
that is added without a row fails that test until it is classified here; a row
whose route is gone fails too.

Outcomes:

``OK``         the request reaches the view: 2xx, a redirect that is not to the
               login page, or the view's own 400/409 answer about the input
``LOGIN``      302 to ``/login?next=…`` (pages, for a visitor who is not logged in)
``UNAUTH``     401 (APIs, for a caller who is not logged in)
``FORBIDDEN``  403 (logged in, but not allowed)
"""

from __future__ import annotations

OK = "ok"
LOGIN = "redirect to /login"
UNAUTH = "401"
FORBIDDEN = "403"

ROLES = ("anonymous", "member", "non_member", "admin")

# Kinds of route: what each role gets.
PUBLIC = {"anonymous": OK, "member": OK, "non_member": OK, "admin": OK}
USER_PAGE = {"anonymous": LOGIN, "member": OK, "non_member": OK, "admin": OK}
ISSUE_PAGE = {"anonymous": LOGIN, "member": OK, "non_member": FORBIDDEN, "admin": OK}
ADMIN_PAGE = {"anonymous": LOGIN, "member": FORBIDDEN, "non_member": FORBIDDEN, "admin": OK}
USER_API = {"anonymous": UNAUTH, "member": OK, "non_member": OK, "admin": OK}
ISSUE_API = {"anonymous": UNAUTH, "member": OK, "non_member": FORBIDDEN, "admin": OK}
ADMIN_API = {"anonymous": UNAUTH, "member": FORBIDDEN, "non_member": FORBIDDEN, "admin": OK}
# Logging out always ends on the login page, whoever asks.
LOGOUT = {"anonymous": LOGIN, "member": LOGIN, "non_member": LOGIN, "admin": LOGIN}

# The plugin's own guard decorators (connect_plugin/views/guards.py) must agree.
AUDIENCE_OF_KIND = {id(PUBLIC): "public", id(ADMIN_PAGE): "admin", id(ADMIN_API): "admin",
                    id(USER_API): "user", id(ISSUE_API): "user"}

P = "connect."  # the plugin's blueprint

ACCESS: dict[tuple[str, str], dict[str, str]] = {
    # --- the host ---------------------------------------------------------------------
    ("static", "GET"): PUBLIC,
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.logout", "POST"): LOGOUT,
    ("issues.index", "GET"): USER_PAGE,  # lists only the issues the user may see
    ("issues.browse", "GET"): ISSUE_PAGE,
    ("issues.browse", "POST"): ISSUE_PAGE,
    ("issues.create", "GET"): ISSUE_PAGE,  # the create screen of DEMO: its members and admins
    ("issues.create", "POST"): ISSUE_PAGE,
    ("rest.myself", "GET"): USER_API,
    ("rest.post_project", "POST"): ADMIN_API,
    ("rest.post_issue", "POST"): ISSUE_API,  # in a project the user is a member of
    ("rest.get_issue", "GET"): ISSUE_API,
    ("rest.put_issue", "PUT"): ISSUE_API,
    ("rest.search", "GET"): USER_API,  # answers only the issues the caller may see
    ("rest.search", "POST"): USER_API,
    # --- the plugin: assets and the API description ------------------------------------
    (P + "static", "GET"): PUBLIC,
    (P + "openapi_yaml", "GET"): PUBLIC,
    # --- the plugin's JSON API ------------------------------------------------------------
    (P + "datasource_types", "GET"): ADMIN_API,
    (P + "list_datasources", "GET"): ADMIN_API,
    (P + "create_datasource", "POST"): ADMIN_API,
    (P + "get_datasource", "GET"): ADMIN_API,
    (P + "patch_datasource", "PATCH"): ADMIN_API,
    (P + "delete_datasource", "DELETE"): ADMIN_API,
    (P + "test_datasource", "POST"): ADMIN_API,
    (P + "clear_datasource_cache", "POST"): ADMIN_API,
    (P + "datasource_stats", "GET"): ADMIN_API,
    (P + "list_items", "GET"): ADMIN_API,
    (P + "create_item", "POST"): ADMIN_API,
    (P + "get_item", "GET"): ADMIN_API,
    (P + "patch_item", "PATCH"): ADMIN_API,
    (P + "delete_item", "DELETE"): ADMIN_API,
    (P + "test_item", "POST"): ADMIN_API,
    (P + "refresh_item", "POST"): ADMIN_API,
    (P + "get_config", "GET"): ADMIN_API,
    (P + "post_config", "POST"): ADMIN_API,  # a bad document is the view's own 400
    (P + "item_options", "GET"): ISSUE_API,  # called with issue=DEMO-1; OPTIONS_CASES below for the rest
    (P + "metrics", "GET"): ADMIN_API,  # or with the metrics token (tests/test_metrics.py)
    # --- the plugin's admin pages -----------------------------------------------------
    (P + "datasources_list", "GET"): ADMIN_PAGE,
    (P + "datasource_new", "GET"): ADMIN_PAGE,
    (P + "datasource_new_type", "GET"): ADMIN_PAGE,
    (P + "datasource_new_type", "POST"): ADMIN_PAGE,
    (P + "datasource_detail", "GET"): ADMIN_PAGE,
    (P + "datasource_detail", "POST"): ADMIN_PAGE,
    (P + "datasource_test", "POST"): ADMIN_PAGE,
    (P + "datasource_cache_clear", "POST"): ADMIN_PAGE,
    (P + "datasource_connect", "POST"): ADMIN_PAGE,  # OAuth2 authorization code: to the provider
    (P + "datasource_disconnect", "POST"): ADMIN_PAGE,
    (P + "oauth_callback", "GET"): ADMIN_PAGE,  # the provider's answer, in the admin's session
    (P + "datasource_delete", "GET"): ADMIN_PAGE,
    (P + "datasource_delete", "POST"): ADMIN_PAGE,
    (P + "items_list", "GET"): ADMIN_PAGE,
    (P + "item_new", "GET"): ADMIN_PAGE,
    (P + "item_new", "POST"): ADMIN_PAGE,
    (P + "item_detail", "GET"): ADMIN_PAGE,
    (P + "item_detail", "POST"): ADMIN_PAGE,
    (P + "item_test", "POST"): ADMIN_PAGE,
    (P + "item_refresh", "POST"): ADMIN_PAGE,
    (P + "item_delete", "GET"): ADMIN_PAGE,
    (P + "item_delete", "POST"): ADMIN_PAGE,
    (P + "audit_log", "GET"): ADMIN_PAGE,
}


# The options endpoint decides by its query too (CONTRACT sections 3 and 5): each case
# is (name, item, query) -> HTTP status per role. Items: "asset" (every project),
# "ops" (projects ["OPS"]; the world has no project OPS), "unknown" (no such id).
# A user without the right gets 403 whatever the item, so learns nothing about it;
# a member gets 404 for an item DEMO does not show, worded as for an unknown id.
OPTIONS_CASES: dict[tuple[str, str, str], dict[str, int]] = {
    ("issue", "asset", "issue=DEMO-1"): {"anonymous": 401, "member": 200, "non_member": 403, "admin": 200},
    ("create screen", "asset", "project=DEMO"): {"anonymous": 401, "member": 200, "non_member": 403, "admin": 200},
    ("no scope", "asset", ""): {"anonymous": 401, "member": 400, "non_member": 400, "admin": 400},
    ("no such project", "asset", "project=NOPE"): {"anonymous": 401, "member": 403, "non_member": 403,
                                                   "admin": 403},
    ("not shown, create", "ops", "project=DEMO"): {"anonymous": 401, "member": 404, "non_member": 403,
                                                   "admin": 404},
    ("not shown, issue", "ops", "issue=DEMO-1"): {"anonymous": 401, "member": 404, "non_member": 403, "admin": 404},
    ("unknown item", "unknown", "project=DEMO"): {"anonymous": 401, "member": 404, "non_member": 403, "admin": 404},
    ("unknown issue", "asset", "issue=NOPE-1"): {"anonymous": 401, "member": 404, "non_member": 404, "admin": 404},
    ("other project", "asset", "issue=DEMO-1&project=OPS"): {"anonymous": 401, "member": 400, "non_member": 403,
                                                            "admin": 400},
    ("forged deps", "asset", "project=DEMO&deps.project=OPS&deps.key=OPS-1"): {
        "anonymous": 401, "member": 200, "non_member": 403, "admin": 200},
}


def expected(endpoint: str, method: str, role: str) -> str | None:
    """The outcome the table promises, or None for a route it does not classify."""
    row = ACCESS.get((endpoint, method))
    return None if row is None else row[role]
