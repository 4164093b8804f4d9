"""GET/POST /rest/api/2/search: the keys each query finds, paging, who sees what, and errors."""

import pytest

from tests.conftest import ADMIN, ALICE, BOB, CAROL


@pytest.fixture
def searchable(people):
    client = people.test_client()
    assert client.post("/rest/api/2/project", headers=ADMIN,
                       json={"key": "OPS", "name": "Ops", "members": ["carol"]}).status_code == 201
    for headers, project, summary in [(BOB, "DEMO", "Monitor for Bob"), (ALICE, "DEMO", "Broken 100% dock"),
                                      (CAROL, "OPS", "Rack the laptop servers")]:
        created = client.post("/rest/api/2/issue", headers=headers,
                              json={"fields": {"project": {"key": project}, "summary": summary}})
        assert created.status_code == 201, created.json
    return client


def keys(answer):
    assert answer.status_code == 200, answer.json
    return [issue["key"] for issue in answer.json["issues"]]


@pytest.mark.parametrize("jql, expected", [
    ("project = DEMO", ["DEMO-1", "DEMO-2", "DEMO-3"]),
    ("project = demo AND reporter = bob", ["DEMO-2"]),
    ("summary ~ laptop", ["DEMO-1", "OPS-1"]),
    ('summary ~ "100%"', ["DEMO-3"]),
    ("key in (DEMO-1, ops-1)", ["DEMO-1", "OPS-1"]),
    ("key not in (DEMO-1) and project != OPS", ["DEMO-2", "DEMO-3"]),
    ("not (reporter = alice or reporter = carol)", ["DEMO-2"]),
    ("reporter is EMPTY", []),
    ("reporter is not EMPTY and summary ~ monitor", ["DEMO-2"]),
])
def test_admin_query_finds_keys(searchable, jql, expected):
    assert keys(searchable.get("/rest/api/2/search", query_string={"jql": jql}, headers=ADMIN)) == expected


def test_search_answers_only_issues_the_caller_may_see(searchable):
    assert keys(searchable.get("/rest/api/2/search?jql=summary ~ laptop", headers=BOB)) == ["DEMO-1"]
    assert keys(searchable.get("/rest/api/2/search?jql=summary ~ laptop", headers=CAROL)) == ["OPS-1"]
    assert searchable.get("/rest/api/2/search?jql=project = DEMO").status_code == 401


def test_search_pages_like_jira_over_get_and_post(searchable):
    page = searchable.post("/rest/api/2/search", headers=ADMIN,
                           json={"jql": "project = DEMO", "startAt": 1, "maxResults": 1})
    assert page.status_code == 200
    assert page.json["startAt"] == 1 and page.json["maxResults"] == 1 and page.json["total"] == 3
    assert [issue["key"] for issue in page.json["issues"]] == ["DEMO-2"]
    assert page.json["issues"][0]["fields"]["summary"] == "Monitor for Bob"


@pytest.mark.parametrize("query, message", [
    ({"jql": "project ="}, "Unexpected the end of the query at position 9: "
                           "expected a field name or value or a quoted string."),
    ({"jql": ""}, "The query is empty: expected a clause such as project = DEMO."),
    ({"jql": "colour = red"}, "Field 'colour' cannot be searched: searchable fields are project, key, summary, "
                              "description, reporter and connected_item_<id>."),
    ({"jql": "connected_item_987654 = x"},
     "Field 'connected_item_987654' does not exist: there is no connected item 987654."),
    ({"jql": "project = DEMO ORDER BY colour"}, "Field 'colour' cannot be searched: searchable fields are project, "
                                                "key, summary, description, reporter and connected_item_<id>."),
    ({"jql": "project = DEMO ORDER key"}, "Unexpected 'key' at position 21: expected BY."),
    ({"jql": "project = DEMO", "startAt": "x"}, "startAt and maxResults must be whole numbers."),
    ({"jql": "project = DEMO", "maxResults": "5000"}, "startAt must be 0 or more and maxResults between 0 and 1000."),
])
def test_bad_search_is_400_with_error_messages(searchable, query, message):
    answer = searchable.get("/rest/api/2/search", query_string=query, headers=ALICE)
    assert answer.status_code == 400
    assert answer.json["errorMessages"] == [message]


def test_issues_page_filters_by_jql_and_shows_errors_inline(searchable):
    from tests.conftest import login
    client = searchable.application.test_client()
    login(client, "alice", "alice-pw")
    page = client.get("/?jql=summary ~ monitor").get_data(as_text=True)
    assert "DEMO-2" in page and "DEMO-1" not in page
    bad = client.get('/?jql=summary ~ "<b>x')
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "at position 10: expected a field name or value or a quoted string." in html
    assert "<b>x" not in html and "&lt;b&gt;x" in html


# --- connected values, description and ORDER BY (one table for SQLite and PostgreSQL) -----

ASSETS = [{"id": "A-1", "name": "MacBook Pro"}, {"id": "A-2", "name": "ThinkPad X1"},
          {"id": "A-3", "name": "Dell Monitor"}, {"id": "A_%", "name": "Odd 100% value"}]

# (query with {single} / {multi} for the items' field names, expected keys in order)
CONNECTED_CASES = [
    ("{single} = A-1", ["DEMO-1"]),
    ('{single} = "A_%"', ["DEMO-3"]),
    ("{single} in (A-2, A-3)", ["DEMO-2"]),
    ("{single} != A-1 and project = DEMO", ["DEMO-2", "DEMO-3", "DEMO-4"]),
    ("{single} not in (A-1, A-2) and project = DEMO", ["DEMO-3", "DEMO-4"]),
    ("{single} is EMPTY and project = DEMO", ["DEMO-4"]),
    ("{single} is not EMPTY", ["DEMO-1", "DEMO-2", "DEMO-3"]),
    ("{single} ~ think", ["DEMO-2"]),
    ('{single} ~ "100%"', ["DEMO-3"]),
    ("{single} !~ mac and project = DEMO", ["DEMO-2", "DEMO-3", "DEMO-4"]),
    ("{multi} = A-3", ["DEMO-1", "DEMO-2"]),
    ("{multi} in (A-1, A-3)", ["DEMO-1", "DEMO-2"]),
    ("{multi} ~ monitor and {single} ~ mac", ["DEMO-1"]),
    ("{multi} is EMPTY and project = DEMO", ["DEMO-3", "DEMO-4"]),
    ("description ~ dock", ["DEMO-2"]),
    ("description !~ dock and project = DEMO", ["DEMO-1", "DEMO-3", "DEMO-4"]),
    ("project = DEMO ORDER BY {single} DESC", ["DEMO-2", "DEMO-3", "DEMO-1", "DEMO-4"]),
    ("project = DEMO ORDER BY summary ASC", ["DEMO-3", "DEMO-1", "DEMO-4", "DEMO-2"]),
    ("ORDER BY key DESC", ["DEMO-4", "DEMO-3", "DEMO-2", "DEMO-1"]),
    ("project = DEMO order by reporter desc, key asc", ["DEMO-2", "DEMO-1", "DEMO-3", "DEMO-4"]),
]


def seed_connected(client, upstream):
    from tests.conftest import make_datasource, make_item
    from tests.support.https_servers import Json

    upstream.route("/api/assets", Json({"items": ASSETS}))
    ds = make_datasource(client, upstream.url("/api"))
    single = make_item(client, ds["id"], name="Asset")
    multi = make_item(client, ds["id"], name="Assets", editor="multiselect")
    summaries = {"DEMO-1": "Laptop for Alice", "DEMO-2": "Zebra dock broken", "DEMO-3": "Another laptop",
                 "DEMO-4": "Untouched"}
    for key, summary in list(summaries.items())[1:]:
        created = client.post("/rest/api/2/issue", headers=ALICE, json={"fields": {
            "project": {"key": "DEMO"}, "summary": summary,
            "description": "The dock is loose" if key == "DEMO-2" else ""}})
        assert created.status_code == 201 and created.json["key"] == key, created.json
    for key, one, many in [("DEMO-1", "A-1", ["A-3", "A-1"]), ("DEMO-2", "A-2", ["A-3"]), ("DEMO-3", "A_%", [])]:
        fields = {f"connected_item_{single['id']}": one, f"connected_item_{multi['id']}": many}
        done = client.put(f"/rest/api/2/issue/{key}", headers=ADMIN, json={"fields": fields})
        assert done.status_code == 204, done.json
    # DEMO-2 is reported by bob, so ORDER BY reporter has two names to sort.
    from plugin_host.db import session
    from plugin_host.models import Issue, User

    with client.application.app_context():
        db = session()
        issue = db.query(Issue).filter_by(key="DEMO-2").one()
        issue.reporter = db.query(User).filter_by(username="bob").one()
        db.commit()
    return {"single": f"connected_item_{single['id']}", "multi": f"connected_item_{multi['id']}"}


def check_connected_table(client, upstream):
    names = seed_connected(client, upstream)
    for jql, expected in CONNECTED_CASES:
        query = jql.format(**names)
        assert keys(client.get("/rest/api/2/search", query_string={"jql": query}, headers=ADMIN)) == expected, query
    # Only issues the caller may see, whatever the query.
    visible = keys(client.get("/rest/api/2/search", headers=CAROL,
                              query_string={"jql": f"{names['single']} is not EMPTY"}))
    assert visible == []


def test_connected_values_description_and_order_by(people, upstream):
    check_connected_table(people.test_client(), upstream)


def test_a_changed_value_is_found_by_its_new_value_only(people, upstream):
    client = people.test_client()
    names = seed_connected(client, upstream)
    field = names["single"]
    assert client.put("/rest/api/2/issue/DEMO-1", headers=ADMIN, json={"fields": {field: "A-2"}}).status_code == 204
    found = lambda v: keys(client.get("/rest/api/2/search", headers=ADMIN,  # noqa: E731
                                      query_string={"jql": f"{field} = {v}"}))
    assert found("A-1") == [] and found("A-2") == ["DEMO-1", "DEMO-2"]
    assert client.put("/rest/api/2/issue/DEMO-1", headers=ADMIN, json={"fields": {field: None}}).status_code == 204
    assert found("A-2") == ["DEMO-2"]
