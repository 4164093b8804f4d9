"""connect_plugin.configuration.references: item references by id in an instance,
by name in a configuration file."""

from __future__ import annotations

from connect_plugin.configuration import references

TEXT = "/c/$issue.connected_item_3.json?a=${issue.connected_item_12}x&lit=$$issue.connected_item_3&u=$userInput"


def test_ids_become_names_keeping_the_spelling_and_literal_dollars():
    named = references.to_names(TEXT, {3: "Con]tinent", 12: "Big \\ one"})
    assert named == ("/c/$issue.connected_item[Con\\]tinent].json?a=${issue.connected_item[Big \\\\ one]}x"
                     "&lit=$$issue.connected_item_3&u=$userInput")
    assert references.names_in(named) == ["Con]tinent", "Big \\ one"]
    assert references.ids_in(named) == []
    back = references.to_ids(named, {"con]tinent": 7, "big \\ one": 8})
    assert back == "/c/$issue.connected_item_7.json?a=${issue.connected_item_8}x&lit=$$issue.connected_item_3" \
                   "&u=$userInput"


def test_an_unknown_id_is_left_as_written_and_found_as_an_id():
    assert references.to_names("/x?c=$issue.connected_item_9", {}) == "/x?c=$issue.connected_item_9"
    assert references.ids_in("/x?c=$issue.connected_item_9&d=${issue.connected_item_4}") == [9, 4]


def test_every_string_of_nested_data_is_rewritten():
    body = {"query": {"owner": "${issue.connected_item_3}", "tags": ["$issue.connected_item_3", 5]}}
    named = references.walk(body, lambda s: references.to_names(s, {3: "Owner"}))
    assert named == {"query": {"owner": "${issue.connected_item[Owner]}", "tags": ["$issue.connected_item[Owner]", 5]}}
    assert sorted(set(references.strings(named))) == ["$issue.connected_item[Owner]", "${issue.connected_item[Owner]}"]
