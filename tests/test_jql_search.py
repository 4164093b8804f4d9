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
    ({"jql": "colour = red"}, "Field 'colour' cannot be searched: searchable fields are project, key, summary, reporter."),
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
