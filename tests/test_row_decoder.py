"""Rows read straight from an answer's bytes (connected_items/row_decoder.py) give
exactly the options the generic parse gives, and anything they do not model falls
back to it."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect_plugin.connected_items.mapping import compile_mapping, find_rows, map_options, map_rows
from connect_plugin.connected_items.row_decoder import as_builtins


def body(data) -> bytes:
    return json.dumps(data).encode()


def generic(mapping, raw: bytes):
    return map_options(mapping, msgspec.json.decode(raw))


ROWS = {"items": [{"id": f"A-{i}", "name": f"Laptop {i}", "serial": f"SN{i}", "owner": {"email": f"u{i}@x"},
                   "location": "Building 1"} for i in range(5)]}


def test_rows_hold_only_the_keys_the_mapping_reads_and_map_to_the_same_options():
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name} (${row.owner.email})",
                              (("Serial", "${row.serial}"),))
    rows = mapping.decode_rows(body(ROWS))
    assert rows[0] == {"id": "A-0", "name": "Laptop 0", "owner": {"email": "u0@x"}, "serial": "SN0"}
    assert map_rows(mapping, rows) == generic(mapping, body(ROWS))
    assert map_rows(mapping, rows)[1] == ("A-1", "Laptop 1 (u1@x)", {"Serial": "SN1"})


@pytest.mark.parametrize("path, answer", [
    ("$", ROWS["items"]),
    ("$[*]", ROWS["items"]),
    ("$.items", ROWS),
    ("$['items'][*]", ROWS),
    ("$.data.results", {"data": {"results": ROWS["items"]}}),
])
def test_every_modelled_path_shape_agrees_with_the_generic_parse(path, answer):
    mapping = compile_mapping(path, "${row.id}", "${row.name}")
    rows = mapping.decode_rows(body(answer))
    assert rows is not None
    assert map_rows(mapping, rows) == generic(mapping, body(answer)) and len(rows) == 5


@pytest.mark.parametrize("raw", [
    b"not json", b"", b'{"items": {"a": {"id": 1}}}', b'{"other": []}', b'[{"id": 1}]', b'{"items": [[{"id": 1}]]}',
    b'{"items": [{"id": 1e400}]}', b'{"items": [{"id": "x"}]} trailing',
])
def test_what_the_decoder_does_not_model_goes_the_generic_way(raw):
    """Not JSON, an object where the list should be, a missing key, another top
    level, the lone inner array that find_rows unwraps: None, so the generic parse
    decides (and words the error)."""
    assert compile_mapping("$.items[*]", "${row.id}", "").decode_rows(raw) is None


@pytest.mark.parametrize("path, value, label", [
    ("$.items[*]", "${row}", ""),  # the whole row
    ("$.items[*]", "${row[0]}", ""),  # an index of the row
    ("$.items[0]", "${row.id}", ""),  # an index in the path
    ("$..id", "${row}", ""),
    ("$.items[?(@.id)]", "${row.id}", ""),  # a filter
    ("$.items[*]", "${row.id}", "${row}"),
])
def test_mappings_that_need_the_whole_answer_have_no_decoder(path, value, label):
    assert compile_mapping(path, value, label).decode_rows is None


def test_non_object_rows_are_kept_whole_for_the_row_loop():
    mapping = compile_mapping("$.items[*]", "${row.id}", "")
    raw = body({"items": [{"id": 1, "x": 2}, "text", 3, None, True, [1, 2], {"id": {"a": [1]}},
                          {"id": 123456789012345678901234567890}]})
    rows = mapping.decode_rows(raw)
    assert as_builtins(rows) == [{"id": 1}, "text", 3, None, True, [1, 2], {"id": {"a": [1]}},
                                 {"id": 123456789012345678901234567890}]
    assert map_rows(mapping, rows) == generic(mapping, raw)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["id", "name", "x"]),
                                                                                  inner, max_size=3),
                    max_leaves=12)
KEYS = st.sampled_from(["id", "name", "x", "a.b"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(answer=st.dictionaries(st.sampled_from(["items", "other"]), JSON, max_size=2) | st.lists(JSON, max_size=4),
       path=st.sampled_from(["$.items[*]", "$.items", "$", "$[*]"]), first=KEYS, second=KEYS)
def test_whenever_the_decoder_answers_it_agrees_with_the_generic_parse(answer, path, first, second):
    mapping = compile_mapping(path, f"${{row['{first}']}}", f"${{row['{second}']}} (${{row.name.x}})")
    raw = body(answer)
    rows = mapping.decode_rows(raw)
    if rows is None:
        return
    assert as_builtins(rows) == [_only(row, {first, second, "name"})
                                 for row in find_rows(mapping, msgspec.json.decode(raw))]
    assert_maps_like_the_generic_parse(mapping, raw, rows)


def assert_maps_like_the_generic_parse(mapping, raw: bytes, rows) -> None:
    """The decoded rows give the generic parse's options, or its error."""
    try:
        expected = generic(mapping, raw)
    except Exception as exc:  # noqa: BLE001 - the same error either way
        with pytest.raises(type(exc)):
            map_rows(mapping, rows)
        return
    assert map_rows(mapping, rows) == expected


def _only(row, keys):
    return {k: v for k, v in row.items() if k in keys} if isinstance(row, dict) else row


def test_single_key_templates_without_details_map_struct_rows_with_missing_keys_empty():
    """The struct branch of the generated loop: a key the object lacks renders as a
    missing key does (the row is skipped when its value is empty, the label falls
    back to the value), exactly as on the generic parse."""
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name}")
    raw = body({"items": [{"id": "A-1", "name": "One"}, {"id": "A-2"}, {"name": "no id"}, {"id": "A-1", "name": "dup"},
                          {"id": 3, "name": None}, {"id": True, "name": {"x": 1}}, {"id": 1.5, "name": [1]}]})
    rows = mapping.decode_rows(raw)
    assert type(rows[0]).__name__ == "Row"  # structs, not dicts
    assert map_rows(mapping, rows) == generic(mapping, raw) == [
        ("A-1", "One"), ("A-2", "A-2"), ("3", "3"), ("true", '{"x":1}'), ("1.5", "[1]")]


def test_no_option_from_struct_rows_still_names_the_row_that_does_not_fit():
    mapping = compile_mapping("$.items[*]", "${row.id}", "")
    raw = body({"items": ["a string", "another"]})
    with pytest.raises(Exception) as generic_error:
        generic(mapping, raw)
    with pytest.raises(type(generic_error.value)) as struct_error:
        map_rows(mapping, mapping.decode_rows(raw))
    assert str(struct_error.value) == str(generic_error.value)


def test_all_string_answers_decode_typed_and_map_like_the_generic_parse():
    """The typed branch: every read key a string or missing (""), so the loop reads
    the attributes without checks; empty values skipped, empty labels replaced."""
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name} [${row.serial}]")
    raw = body({"items": [{"id": "A-1", "name": "One", "serial": "S1", "other": 5}, {"id": "A-2"},
                          {"name": "no id"}, {"id": "", "name": "empty id"}, {"id": "A-1", "name": "dup"},
                          {"id": "é\"}\\\n", "name": "\u2603"}]})
    rows = mapping.decode_rows(raw)
    assert {type(row).__name__ for row in rows} == {"TextRow"} and type(rows).__name__ == "TextRows"
    assert map_rows(mapping, rows) == generic(mapping, raw) == [
        ("A-1", "One [S1]"), ("A-2", " []"), ("é\"}\\\n", "\u2603 []")]
    assert map_rows(mapping, list(rows)) == map_rows(mapping, rows)  # row by row as for the whole page
    bare = compile_mapping("$.items[*]", "${row.id}", "${row.name}")
    for page in (bare.decode_rows(raw), list(bare.decode_rows(raw))):
        assert map_rows(bare, page)[1] == ("A-2", "A-2")  # an empty label is the value


@pytest.mark.parametrize("odd", [1, None, 1.5, True, {"a": 1}, [1]])
def test_a_page_with_any_other_value_decodes_untyped_and_the_next_pages_still_map_alike(odd):
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name}")
    pages = [body({"items": [{"id": f"A-{p}-{i}", "name": odd if (p, i) == (0, 3) else f"n{i}"} for i in range(5)]})
             for p in range(3)]
    decoded = [mapping.decode_rows(page) for page in pages]
    assert type(decoded[0][0]).__name__ == "Row"  # the first page fell back
    for page, rows in zip(pages, decoded):
        assert map_rows(mapping, rows) == generic(mapping, page)
    mixed = [row for rows in decoded for row in rows]
    assert map_rows(mapping, mixed) == [option for page in pages for option in generic(mapping, page)]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.dictionaries(st.sampled_from(["id", "name", "x"]), st.text(max_size=3) | JSON, max_size=3)
                     | JSON, max_size=6))
def test_single_key_struct_rows_agree_with_the_generic_parse_typed_or_not(rows):
    mapping = compile_mapping("$.items[*]", "${row.id}", "${row.name}-${row.x}")
    raw = body({"items": rows})
    decoded = mapping.decode_rows(raw)
    if decoded is None:
        return
    assert_maps_like_the_generic_parse(mapping, raw, decoded)
