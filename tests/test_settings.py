"""The plugin's settings: one declaration, read from the host's config or the
environment, checked at start-up, and documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connect_plugin.settings import SETTINGS, init_settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_readme_table():
    documented = set(re.findall(r"^\| `(CONNECT_[A-Z_]+)`", README, flags=re.M))
    assert {s.name for s in SETTINGS} - documented == set()


def test_defaults_fill_every_key():
    config: dict = {}
    init_settings(config, environ={})
    assert config["CONNECT_MAX_REDIRECTS"] == 5
    assert config["CONNECT_CACHE_MAX_BYTES"] == 256 * 1024 * 1024
    assert config["CONNECT_MAX_RESPONSE_BYTES"] == 10 * 1024 * 1024
    assert config["CONNECT_BUSY_WAIT_SECONDS"] == 2.0
    assert set(config) == {s.name for s in SETTINGS}


def test_host_config_wins_over_the_environment_and_empty_counts_as_unset():
    config = {"CONNECT_MAX_REDIRECTS": 2, "CONNECT_CACHE_MAX_BYTES": ""}
    init_settings(config, environ={"CONNECT_MAX_REDIRECTS": "9", "CONNECT_CACHE_MAX_BYTES": "64_000_000"})
    assert config["CONNECT_MAX_REDIRECTS"] == 2
    assert config["CONNECT_CACHE_MAX_BYTES"] == 64_000_000


@pytest.mark.parametrize(("name", "value", "message"), [
    ("CONNECT_CACHE_MAX_BYTES", "lots", "CONNECT_CACHE_MAX_BYTES must be a whole number, not 'lots'."),
    ("CONNECT_MAX_RESPONSE_BYTES", "0", "CONNECT_MAX_RESPONSE_BYTES must be at least 1, not 0."),
    ("CONNECT_MAX_REDIRECTS", "-1", "CONNECT_MAX_REDIRECTS must be a whole number, not '-1'."),
    ("CONNECT_BUSY_WAIT_SECONDS", "soon", "CONNECT_BUSY_WAIT_SECONDS must be a number of seconds, not 'soon'."),
])
def test_a_bad_value_stops_start_up_naming_the_key(name, value, message):
    with pytest.raises(ValueError) as raised:
        init_settings({}, environ={name: value})
    assert str(raised.value) == message


def test_init_app_applies_the_settings(make_app):
    app = make_app(CONNECT_MAX_REDIRECTS="1", CONNECT_CACHE_MAX_BYTES="3_000_000", CONNECT_BUSY_WAIT_SECONDS="0.25")
    state = app.extensions["connect"]
    assert state.policy.max_redirects == 1
    assert state.cache.memo.max_bytes == 3_000_000
    assert app.config["CONNECT_BUSY_WAIT_SECONDS"] == 0.25


def test_a_retired_setting_is_named_at_start_up(caplog):
    with caplog.at_level("WARNING", logger="connect_plugin.settings"):
        init_settings({"CONNECT_MEMO_ENTRIES": 256}, environ={"CONNECT_CACHE_THRESHOLD": "500"})
    assert sorted(r.getMessage() for r in caplog.records) == [
        "CONNECT_CACHE_THRESHOLD is no longer read; see CONNECT_CACHE_MAX_BYTES (the plugin keeps nothing in "
        "SimpleCache).",
        "CONNECT_MEMO_ENTRIES is no longer read; see CONNECT_CACHE_MAX_BYTES (the in-process cache is bounded by "
        "bytes).",
    ]


def test_init_app_refuses_a_bad_setting(make_app):
    with pytest.raises(ValueError, match=r"^CONNECT_MAX_REDIRECTS must be a whole number, not 'many'\.$"):
        make_app(CONNECT_MAX_REDIRECTS="many")
