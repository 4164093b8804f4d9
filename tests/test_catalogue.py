"""The query variable catalogue and the connected field names: one list for the
parser and the item form, one spelling of ``connected_item_<id>``."""

from __future__ import annotations

import pytest

from connect_plugin.connected_items.catalogue import (
    KNOWN_TEXT,
    VARIABLES,
    connected_variable_item,
    field_key,
    is_known,
    item_id_of,
)
from connect_plugin.connected_items.dollars import scan
from connect_plugin.connected_items.query import parse_query
from connect_plugin.errors import ValidationError
from connect_plugin.item_forms import QUERY_VARIABLES


def test_the_form_shows_exactly_what_the_parser_accepts():
    assert [name for name, _help in QUERY_VARIABLES] == [f"${v.name}" for v in VARIABLES]
    for variable in VARIABLES:
        name = variable.name.replace("<id>", "7")
        assert parse_query(f"/a?x=${{{name}}}").variables == frozenset({name})


def test_an_unknown_variable_lists_the_catalogue():
    with pytest.raises(ValidationError) as raised:
        parse_query("/a?x=$issue.colour")
    assert raised.value.fields == {"query": f"Unknown variable $issue.colour. Known: {KNOWN_TEXT}."}


@pytest.mark.parametrize(("field", "expected"), [
    ("connected_item_3", 3), ("connected_item_120", 120),
    ("connected_item_", None), ("connected_item_0", None), ("connected_item_03", None),
    ("connected_item_x", None), ("connected_item_٣", None), ("summary", None),
    ("connected_item_" + "9" * 5000, None),
])
def test_item_id_of_reads_only_the_canonical_spelling(field, expected):
    assert item_id_of(field) == expected


def test_field_key_and_item_id_of_round_trip():
    assert field_key(42) == "connected_item_42"
    assert item_id_of(field_key(42)) == 42
    assert connected_variable_item("issue.connected_item_42") == 42
    assert connected_variable_item("currentUser.connected_item_42") is None
    assert is_known("issue.summary") and is_known("issue.connected_item_5") and not is_known("issue.colour")


def test_the_dollar_scanner_keeps_literals_and_gives_each_dollar_to_the_reader():
    def read(text, j):
        return (("var", text[j + 1]), j + 2) if text[j + 1:j + 2].isalpha() else None

    assert scan("a$$b$xc$1", read) == ["a$b", ("var", "x"), "c$1"]
    assert scan("$x$y", read) == [("var", "x"), ("var", "y")]
    assert scan("", read) == []
