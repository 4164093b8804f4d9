"""connect_plugin.datasources.service and .secrets, called directly."""

from __future__ import annotations

import pytest

from connect_plugin import audit
from connect_plugin.datasources import service
from connect_plugin.datasources.secrets import decrypt_secrets, rotate_secrets, secret_status
from connect_plugin.errors import Conflict, NotFound, ValidationError
from connect_plugin.models import ConnectedItem, DatasourceSecret
from connect_plugin.outbound import OutboundPolicy

BASE = {"name": "Assets", "type": "rest", "config": {"base_url": "https://assets.example.com/api"}}
TOKEN = "Unit-token-7fa2c9"


def create(state, session, **overrides):
    payload = {**BASE, **overrides}
    datasource = service.create(session, payload, box=state.box, policy=state.policy, actor="unit")
    session.commit()
    return datasource


def test_create_fills_defaults_and_stores_the_secret_encrypted(plugin):
    state, session, _host = plugin
    ds = create(state, session, auth={"mode": "bearer", "token": TOKEN})
    assert ds.config == {"base_url": "https://assets.example.com/api", "cache_ttl_seconds": 300,
                         "timeout_seconds": 60, "max_concurrent_calls": 8}
    (stored,) = session.query(DatasourceSecret).all()
    assert stored.field == "token" and TOKEN not in stored.ciphertext
    assert decrypt_secrets(ds, state.box) == {"token": TOKEN}
    assert secret_status(ds, state.box) == ({"token_set": True}, True)
    assert service.serialize(ds, state.box)["auth"] == {"mode": "bearer", "token_set": True}


def test_create_reports_every_bad_part_at_once(plugin):
    state, session, _host = plugin
    with pytest.raises(ValidationError) as raised:
        service.create(session, {"name": " ", "type": "rest", "config": {"base_url": "http://x.example"},
                                 "auth": {"mode": "bearer"}}, box=state.box, policy=state.policy, actor="unit")
    assert set(raised.value.fields) == {"name", "config.base_url", "auth.token"}
    assert service.list_all(session) == []


def test_names_are_unique_whatever_their_case(plugin):
    state, session, _host = plugin
    create(state, session)
    with pytest.raises(ValidationError) as raised:
        create(state, session, name="ASSETS")
    assert raised.value.fields == {"name": "A datasource named 'Assets' already exists."}


def test_update_keeps_a_secret_left_out_and_bumps_the_version_only_on_change(plugin):
    state, session, _host = plugin
    ds = create(state, session, auth={"mode": "bearer", "token": TOKEN})
    same = service.update(session, ds, {"config": {"timeout_seconds": 60}}, box=state.box, policy=state.policy,
                          actor="unit")
    assert same.version == 1
    service.update(session, ds, {"config": {"timeout_seconds": 5}, "auth": {"mode": "bearer"}}, box=state.box,
                   policy=state.policy, actor="unit")
    session.commit()
    assert ds.version == 2 and ds.config["timeout_seconds"] == 5
    assert decrypt_secrets(ds, state.box) == {"token": TOKEN}
    entry = audit.recent(session)[0]
    assert (entry.actor, entry.action, entry.object_name) == ("unit", "updated", "Assets")
    assert entry.fields == ["config.timeout_seconds"]  # names of changed parts, never values


def test_update_that_moves_a_url_to_another_host_needs_the_secret_again_and_writes_nothing(plugin):
    state, session, _host = plugin
    ds = create(state, session, auth={"mode": "bearer", "token": TOKEN})
    with pytest.raises(ValidationError) as raised:
        service.update(session, ds, {"name": "Renamed", "config": {"base_url": "https://evil.example.net/api"}},
                       box=state.box, policy=state.policy, actor="unit")
    assert raised.value.fields == {"auth.token": "Enter the token again: the API Base Url moves to another host."}
    session.rollback()
    assert (ds.name, ds.config["base_url"], ds.version) == ("Assets", "https://assets.example.com/api", 1)
    service.update(session, ds, {"config": {"base_url": "https://assets.example.com/v2"}}, box=state.box,
                   policy=state.policy, actor="unit")  # the same origin: nothing to give again
    service.update(session, ds, {"config": {"base_url": "https://new.example.net/api"}, "auth": {"token": TOKEN}},
                   box=state.box, policy=state.policy, actor="unit")
    assert ds.config["base_url"] == "https://new.example.net/api" and ds.version == 3


def test_the_token_url_passes_the_address_rules_of_the_policy(plugin):
    state, session, _host = plugin
    oauth2 = {"mode": "oauth2_client_credentials", "token_url": "https://192.168.1.5/token", "client_id": "c",
              "client_secret": "Unit-client-secret-51d0"}
    with pytest.raises(ValidationError) as raised:
        create(state, session, auth=oauth2)
    assert list(raised.value.fields) == ["auth.token_url"]
    assert "CONNECT_ALLOWED_HOSTS" in raised.value.fields["auth.token_url"]
    session.rollback()
    allowing = OutboundPolicy.from_config({"CONNECT_ALLOWED_HOSTS": "192.168.1.0/24"})
    ds = service.create(session, {**BASE, "auth": oauth2}, box=state.box, policy=allowing, actor="unit")
    assert ds.auth_config["token_url"] == "https://192.168.1.5/token"


def test_changing_the_mode_drops_the_old_mode_secrets(plugin):
    state, session, _host = plugin
    ds = create(state, session, auth={"mode": "bearer", "token": TOKEN})
    service.update(session, ds, {"auth": {"mode": "basic", "username": "u", "password": "Unit-pass-93"}},
                   box=state.box, policy=state.policy, actor="unit")
    session.commit()
    assert decrypt_secrets(ds, state.box) == {"password": "Unit-pass-93"}


def test_the_type_of_a_datasource_cannot_change(plugin):
    state, session, _host = plugin
    ds = create(state, session)
    with pytest.raises(ValidationError) as raised:
        service.update(session, ds, {"type": "sql"}, box=state.box, policy=state.policy, actor="unit")
    assert raised.value.fields == {"type": "The type of a datasource cannot change; create a new datasource "
                                           "instead."}


def test_get_names_what_is_missing(plugin):
    _state, session, _host = plugin
    with pytest.raises(NotFound) as raised:
        service.get(session, 4711)
    assert raised.value.message == "There is no datasource with id 4711."


def test_delete_refuses_while_items_use_it(plugin):
    state, session, _host = plugin
    ds = create(state, session)
    session.add(ConnectedItem(name="Asset", datasource_id=ds.id, editor="select", query="/a",
                              options_path="$[*]", value_template="${row.id}", label_template="${row.name}"))
    session.commit()
    with pytest.raises(Conflict) as raised:
        service.delete(session, ds, actor="unit")
    assert raised.value.message.startswith("Assets is used by connected items: Asset.")


def test_clear_cache_moves_the_generation_of_one_or_all(plugin):
    state, session, _host = plugin
    one = create(state, session)
    two = create(state, session, name="Other")
    assert service.clear_cache(session, one) == 1
    assert (one.cache_generation, two.cache_generation) == (1, 0)
    assert service.clear_cache(session, None) == 2
    assert (one.cache_generation, two.cache_generation) == (2, 1)


def test_rotate_reencrypts_every_secret_with_the_first_key(plugin):
    state, session, _host = plugin
    ds = create(state, session, auth={"mode": "bearer", "token": TOKEN})
    before = ds.secrets[0].ciphertext
    assert rotate_secrets(session, state.box) == (1, [])
    assert ds.secrets[0].ciphertext != before
    assert decrypt_secrets(ds, state.box) == {"token": TOKEN}


def test_pending_secrets_saves_a_datasource_that_waits_for_its_secrets(plugin):
    """What a configuration import does: every rule but the required secrets holds."""
    from connect_plugin.datasources.secrets import missing_secrets
    from connect_plugin.errors import SecretsMissing

    state, session, _host = plugin
    auth = {"mode": "basic", "username": "svc"}
    with pytest.raises(ValidationError) as raised:  # the API's rule is unchanged
        service.create(session, {**BASE, "auth": auth}, box=state.box, policy=state.policy, actor="unit")
    assert set(raised.value.fields) == {"auth.password"}
    with pytest.raises(ValidationError) as raised:  # other checks still run
        service.create(session, {**BASE, "auth": {"mode": "basic", "username": "a:b"}}, box=state.box,
                       policy=state.policy, actor="unit", pending_secrets=True)
    assert set(raised.value.fields) == {"auth.username"}

    ds = service.create(session, {**BASE, "auth": auth}, box=state.box, policy=state.policy, actor="unit",
                        pending_secrets=True)
    session.commit()
    assert ds.secrets == [] and missing_secrets(ds) == ["password"]
    assert service.serialize(ds, state.box)["auth"] == {"mode": "basic", "username": "svc", "password_set": False}
    with pytest.raises(SecretsMissing, match="Assets waits for its password"):
        decrypt_secrets(ds, state.box)

    service.update(session, ds, {"auth": {"password": TOKEN}}, box=state.box, policy=state.policy, actor="unit")
    session.commit()
    assert missing_secrets(ds) == [] and decrypt_secrets(ds, state.box) == {"password": TOKEN}
