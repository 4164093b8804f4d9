"""connect_plugin.connected_items.service, called directly."""

from __future__ import annotations

import pytest

from connect_plugin.connected_items import service
from connect_plugin.datasources import service as datasource_service
from connect_plugin.errors import Conflict, NotFound, ValidationError


@pytest.fixture
def datasource(plugin):
    state, session, _host = plugin
    ds = datasource_service.create(session, {"name": "Assets", "type": "rest",
                                             "config": {"base_url": "https://assets.example.com/api"}},
                                   box=state.box, policy=state.policy, actor="unit")
    session.commit()
    return ds


def item(session, datasource, **overrides):
    payload = {"name": "Asset", "datasource_id": datasource.id, "editor": "select", "query": "/assets", **overrides}
    created = service.create(session, payload, actor="unit")
    session.commit()
    return created


def test_create_fills_the_default_mapping_and_serializes_its_field_key(plugin, datasource):
    _state, session, _host = plugin
    created = item(session, datasource, query="/assets?q=$userInput", projects=["demo", " ops ", "DEMO"])
    data = service.serialize(created)
    assert data["field_key"] == f"connected_item_{created.id}"
    assert data["options"] == {"path": "$[*]", "value": "${row.id}", "label": "${row.name}"}
    assert data["projects"] == ["DEMO", "OPS"]
    assert data["uses_user_input"] is True and data["depends_on"] == [] and data["version"] == 1


def test_every_bad_part_is_named_at_once(plugin, datasource):
    _state, session, _host = plugin
    with pytest.raises(ValidationError) as raised:
        service.create(session, {"name": "", "datasource_id": 999, "editor": "radio", "query": "/a?x=$issue.colour",
                                 "options": {"path": "$[", "value": "${row.id}"}, "projects": [1]}, actor="unit")
    assert set(raised.value.fields) == {"name", "datasource_id", "editor", "query", "options.path", "projects"}
    assert service.list_all(session) == []


def test_dependencies_must_exist_and_cannot_loop(plugin, datasource):
    _state, session, _host = plugin
    first = item(session, datasource, name="Continent")
    second = item(session, datasource, name="Country", query=f"/c?x=$issue.connected_item_{first.id}")
    assert service.dependencies(second) == frozenset({first.id})
    with pytest.raises(ValidationError) as raised:
        service.create(session, {"name": "X", "datasource_id": datasource.id, "editor": "select",
                                 "query": "/a?x=$issue.connected_item_4242"}, actor="unit")
    assert raised.value.fields == {"query": "$issue.connected_item_4242 names no existing connected item."}
    with pytest.raises(ValidationError) as raised:
        service.update(session, first, {"query": f"/a?x=$issue.connected_item_{first.id}"}, actor="unit")
    assert raised.value.fields == {
        "query": f"$issue.connected_item_{first.id} is this item itself; an item cannot depend on itself."}


def test_update_merges_options_and_bumps_the_version(plugin, datasource):
    _state, session, _host = plugin
    created = item(session, datasource)
    service.update(session, created, {"options": {"label": "${row.name} (${row.serial})"}}, actor="unit")
    session.commit()
    assert (created.options_path, created.value_template, created.label_template) == \
        ("$[*]", "${row.id}", "${row.name} (${row.serial})")
    assert created.version == 2


def test_items_for_project_honours_the_restriction(plugin, datasource):
    _state, session, _host = plugin
    item(session, datasource, name="Everywhere")
    item(session, datasource, name="Ops only", projects=["OPS"])
    assert [i.name for i in service.items_for_project(session, "DEMO")] == ["Everywhere"]
    assert [i.name for i in service.items_for_project(session, "OPS")] == ["Everywhere", "Ops only"]


def test_get_and_delete(plugin, datasource):
    _state, session, _host = plugin
    created = item(session, datasource)
    assert service.get(session, created.id) is created
    with pytest.raises(NotFound) as raised:
        service.get(session, "x")
    assert raised.value.message == "There is no connected item with id x."
    dependent = item(session, datasource, name="Child", query=f"/c?x=$issue.connected_item_{created.id}")
    with pytest.raises(Conflict):
        service.delete(session, created, actor="unit")
    service.delete(session, dependent, actor="unit")
    service.delete(session, created, actor="unit")
    session.commit()
    assert service.list_all(session) == []
