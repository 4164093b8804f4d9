"""The options of a paged answer mapped page by page (mapping.OptionCollector) are
exactly those of all its rows mapped at once: order, de-duplication across pages,
labels, details, and the error for a mapping that fits none of the rows."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect_plugin.connected_items.mapping import OptionCollector, compile_mapping, map_rows
from connect_plugin.errors import BadUpstreamData


def collect(mapping, pages, source="Assets"):
    collector = OptionCollector(mapping, source)
    for rows in pages:
        collector.add(rows)
    return collector.options()


def decoded_pages(mapping, pages):
    """Each page as the walk gives it: decoded from its bytes when the decoder can."""
    out = []
    for rows in pages:
        raw = json.dumps({"items": rows}).encode()
        decoded = mapping.decode_rows(raw) if mapping.decode_rows else None
        out.append(decoded if decoded is not None else rows)
    return out


def test_a_value_met_again_on_a_later_page_keeps_its_first_label():
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name}")
    pages = [[{"id": "A", "name": "first"}, {"id": "B", "name": ""}],
             [{"id": "A", "name": "second"}, {"id": "C", "name": "c"}, {"id": "", "name": "skipped"}]]
    assert collect(mapping, decoded_pages(mapping, pages)) == [("A", "first"), ("B", "B"), ("C", "c")]


def test_details_are_read_from_the_row_each_option_came_from_across_pages():
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name}", (("Serial", "${row.serial}"),))
    pages = [[{"id": "A", "name": "a", "serial": "S1"}], [{"id": "A", "name": "x", "serial": "S2"},
                                                          {"id": "B", "name": "b", "serial": "S3"}]]
    assert collect(mapping, decoded_pages(mapping, pages)) == [("A", "a", {"Serial": "S1"}),
                                                               ("B", "b", {"Serial": "S3"})]


def test_no_option_on_any_page_names_the_first_row_that_does_not_fit_even_on_a_later_page():
    mapping = compile_mapping("$.items[*]", "${row.id.code}", "")
    pages = [[{"id": None}], [{"other": 1}], [{"id": "text"}]]
    with pytest.raises(BadUpstreamData) as caught:
        collect(mapping, decoded_pages(mapping, pages))
    assert "Assets: ${row.id.code} cannot be read from row 3" in caught.value.message


def test_pages_that_give_no_option_without_a_misfit_are_an_empty_answer():
    mapping = compile_mapping("$.items[*]", "${row.id}", "")
    assert collect(mapping, decoded_pages(mapping, [[{"id": ""}], [], [{"name": "x"}]])) == []


def test_a_value_that_cannot_be_shown_as_text_names_the_datasource():
    mapping = compile_mapping("$", "${row.id}", "")
    deep: dict = {}
    for _ in range(5000):
        deep = {"a": deep}
    with pytest.raises(BadUpstreamData) as caught:
        collect(mapping, [[{"id": "A"}], [{"id": deep}]])
    assert caught.value.message.startswith("Assets: ")


VALUES = st.sampled_from(["", "A", "B", "C", "a"]) | st.integers(-2, 2) | st.none() | st.booleans()
ROW = st.dictionaries(st.sampled_from(["id", "name", "x"]), VALUES, max_size=3) | VALUES
TEMPLATES = [("${row.id}", "${row.name}", ()), ("${row.id}", "", ()), ("${row.id}-${row.x}", "${row.name}!", ()),
             ("${row.id}", "${row.name}", (("X", "${row.x}"),))]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(pages=st.lists(st.lists(ROW, max_size=5), max_size=5), which=st.sampled_from(TEMPLATES))
def test_page_by_page_is_all_the_rows_at_once(pages, which):
    mapping = compile_mapping("$.items[*]", *which[:2], which[2])
    decoded = decoded_pages(mapping, pages)
    everything = [row for rows in decoded for row in rows]
    try:
        expected = map_rows(mapping, everything, source="Assets")
    except BadUpstreamData as exc:
        with pytest.raises(BadUpstreamData) as caught:
            collect(mapping, decoded)
        assert caught.value.message == exc.message
        return
    assert collect(mapping, decoded) == expected
