"""The steps of the options pipeline and the tester, called directly: reading an
item, evaluating its query into a URL, filtering and paging an answer, choosing
the tester's subjects, and a connection test that cannot open its secret."""

from __future__ import annotations

import pytest

from connect_plugin.caching.answer import CachedAnswer
from connect_plugin.connected_items import service as item_service
from connect_plugin.connected_items import tester
from connect_plugin.connected_items.options import evaluate_item, select_page
from connect_plugin.connected_items.read_model import load_item
from connect_plugin.datasources import service as datasource_service
from connect_plugin.datasources import connector
from connect_plugin.errors import MissingDependency, NotFound, ValidationError


@pytest.fixture
def items(plugin):
    state, session, _host = plugin
    ds = datasource_service.create(session, {"name": "Assets", "type": "rest",
                                             "config": {"base_url": "https://assets.example.com/api?v=2"},
                                             "auth": {"mode": "bearer", "token": "Unit-token-3b1d"}},
                                   box=state.box, policy=state.policy, actor="unit")
    session.flush()
    continent = item_service.create(session, {"name": "Continent", "datasource_id": ds.id, "editor": "select",
                                              "query": "/continents"}, actor="unit")
    session.flush()
    country = item_service.create(session, {
        "name": "Country", "datasource_id": ds.id, "editor": "select",
        "query": f"/countries/$issue.connected_item_{continent.id}?owner=$currentUser.emailAddress&q=$userInput"},
        actor="unit")
    session.commit()
    return ds, continent, country


def test_the_read_model_reads_what_the_orm_reads(plugin, items):
    _state, session, _host = plugin
    _ds, _continent, country = items
    row = load_item(session, country.id)
    assert (row.id, row.name, row.query, row.version) == (country.id, "Country", country.query, 1)
    assert (row.datasource.name, row.datasource.config) == ("Assets", country.datasource.config)
    assert [s.field for s in row.datasource.secrets] == ["token"]
    with pytest.raises(NotFound) as raised:
        load_item(session, 999)
    assert raised.value.message == "There is no connected item with id 999."


def test_evaluation_builds_the_url_the_datasource_type_says(plugin, items):
    _state, session, host = plugin
    _ds, continent, country = items
    evaluated = evaluate_item(session, country, issue=host.issues["DEMO-1"], user=host.users["alice"],
                              deps={f"connected_item_{continent.id}": "E U/"}, user_input="fr&x")
    assert evaluated.url == ("https://assets.example.com/api/countries/E%20U%2F"
                             "?v=2&owner=alice%40example.com&q=fr%26x")
    assert evaluated.uses_user_input is True


def test_a_missing_dependency_names_the_item_to_fill_first(plugin, items):
    _state, session, host = plugin
    _ds, _continent, country = items
    with pytest.raises(MissingDependency) as raised:
        evaluate_item(session, country, issue=None, user=host.users["alice"], deps={}, user_input=None)
    assert raised.value.message == "Fill in Continent first."


def test_select_page_filters_by_label_then_pages():
    answer = CachedAnswer(options=[("1", "MacBook Pro"), ("2", "ThinkPad"), ("3", "macbook air")], fetched_at=0.0)
    page = select_page(answer, query_text="MAC", filter_by_label=True, limit=1, offset=1, cached=True)
    assert page.as_json() == {"options": [{"value": "3", "label": "macbook air"}], "total": 2, "cached": True}
    unfiltered = select_page(answer, query_text="mac", filter_by_label=False, limit=50, offset=0, cached=False)
    assert unfiltered.total == 3  # the upstream already searched with $userInput


def test_the_tester_subjects_default_to_the_admin_and_name_unknown_ones(plugin):
    state, _session, host = plugin
    admin = host.users["admin"]
    assert tester.subjects(state.host, "", None, admin) == (None, admin)
    issue, user = tester.subjects(state.host, " DEMO-1 ", "alice", admin)
    assert (issue.key, user.account_id) == ("DEMO-1", "alice")
    with pytest.raises(ValidationError) as raised:
        tester.subjects(state.host, "NOPE-9", "bob", admin)
    assert raised.value.fields == {"issue": "There is no issue NOPE-9.", "user": "There is no user bob."}


def test_a_connection_test_that_cannot_open_its_secret_says_so_without_calling(plugin, items):
    state, session, _host = plugin
    ds, _continent, _country = items
    ds.secrets[0].ciphertext = "not-a-fernet-token"
    session.commit()
    result = connector.test_connection(state, ds)
    assert result["ok"] is False and result["elapsed_ms"] == 0
    assert result["error"].startswith("Assets: ")
