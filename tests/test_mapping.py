"""From a JSON answer to options: parsing, the mapping, the fast path."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonpath_ng.ext import parse as jsonpath_parse

from connect_plugin.errors import BadUpstreamData, ValidationError
from connect_plugin.connected_items.mapping import compile_mapping, map_options
from connect_plugin.connected_items.templates import render_scalar
from connect_plugin.outbound.json_answer import parse_json

SETTINGS = settings(max_examples=200, deadline=None)


def options(path, value, label, data):
    return map_options(compile_mapping(path, value, label), data)


def field_error(path="$", value="${row.id}", label="${row.name}"):
    with pytest.raises(ValidationError) as info:
        compile_mapping(path, value, label)
    assert len(info.value.fields) == 1
    assert info.value.status == 400
    return info.value.fields


# --- parse_json --------------------------------------------------------------------------


def test_parse_json_reads_json():
    assert parse_json(b'{"items": [1, 2.5, "x", null, true]}', "Assets") == {"items": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b"{", b"[1,]", b"\xff\xfe", b"NaN", b'{"a":1} x'])
def test_parse_json_refuses_non_json_with_the_source_and_a_reason(body):
    with pytest.raises(BadUpstreamData) as info:
        parse_json(body, "Assets API")
    message = info.value.message
    assert message.startswith("Assets API: the answer is not valid JSON (")
    assert message.endswith(")") and len(message) < 200
    assert info.value.status == 502


def test_parse_json_reason_does_not_echo_the_body():
    with pytest.raises(BadUpstreamData) as info:
        parse_json(b"token=supersecret-value not json", "S")
    assert "supersecret" not in info.value.message


# --- compile_mapping: validation ------------------------------------------------------------


@pytest.mark.parametrize("path", ["$.a[", "$.a..", "$.a b", "$[?(@.x>)]", "$.a['b]", "$$"])
def test_invalid_jsonpath(path):
    fields = field_error(path=path)
    assert list(fields) == ["options.path"]
    assert "JSONPath is not valid" in fields["options.path"]


def test_invalid_jsonpath_message_has_the_position():
    assert "1:4" in field_error(path="$.a b")["options.path"]


@pytest.mark.parametrize("template, fragment", [
    ("${row.name", "position 1 is not closed"),
    ("x ${name}", "position 3 must start with row"),
    ("${row.}", "key name is expected at position 7"),
    ("${row[x]}", "index like [0]"),
    ("${rowname}", "unexpected 'n' at position 6"),
    ("${row.a b}", "unexpected ' '"),
    ("${row.a[0}", "index like [0]"),
    ("", "Enter a value template"),
    ("   ", "Enter a value template"),
    ("constant", "must contain a placeholder"),
])
def test_invalid_value_template(template, fragment):
    fields = field_error(value=template)
    assert list(fields) == ["options.value"]
    assert fragment in fields["options.value"]


def test_invalid_label_template():
    fields = field_error(label="${row.name")
    assert list(fields) == ["options.label"]
    assert "not closed" in fields["options.label"]


def test_label_without_placeholder_is_allowed():
    assert options("$[*]", "${row}", "Item", ["a", "b"]) == [("a", "Item"), ("b", "Item")]


def test_compile_mapping_is_cached():
    assert compile_mapping("$.items[*]", "${row.id}", "${row.name}") is \
        compile_mapping("$.items[*]", "${row.id}", "${row.name}")


@pytest.mark.parametrize("path, fast", [
    ("$", True), ("$.a.b", True), ("$.a[*]", True), ("$['a'].b[*]", True), ("$[*]", True),
    ("$.a[0]", True), ("$.a[-1]", True), ("$.*", True),
    ("$..a", False), ("$.a[1:2]", False), ("$.a[0,1]", False), ("$.a[?(@.x > 1)]", False),
    ("$.a,b", False), ("a.b", False),
])
def test_fast_path_is_used_for_simple_paths_only(path, fast):
    assert compile_mapping(path, "${row}", "").fast is fast


# --- map_options ------------------------------------------------------------------------------

ASSETS = {
    "total": 3,
    "items": [
        {"id": 1, "name": "Laptop", "serial": "SN-1", "owner": {"email": "a@x"}, "tags": ["hw", "mobile"]},
        {"id": 2, "name": "Phone", "serial": "SN-2", "owner": {"email": "b@x"}, "tags": []},
        {"id": 3, "name": "Desk", "owner": None},
    ],
}


def test_rows_from_an_array_with_value_and_label():
    assert options("$.items[*]", "${row.id}", "${row.name} (${row.serial})", ASSETS) == [
        ("1", "Laptop (SN-1)"), ("2", "Phone (SN-2)"), ("3", "Desk ()"),
    ]


def test_a_path_matching_one_array_uses_its_elements():
    assert options("$.items", "${row.id}", "${row.name}", ASSETS) == [("1", "Laptop"), ("2", "Phone"), ("3", "Desk")]
    assert options("$", "${row.id}", "${row.name}", ASSETS["items"]) == \
        [("1", "Laptop"), ("2", "Phone"), ("3", "Desk")]


def test_a_path_matching_one_object_gives_one_row():
    assert options("$.items[0]", "${row.id}", "${row.name}", ASSETS) == [("1", "Laptop")]
    assert options("$", "${row.total}", "Total", ASSETS) == [("3", "Total")]


def test_nested_keys_and_indexes():
    # row 3 has owner null: its value renders empty and the row is skipped
    assert options("$.items[*]", "${row.owner.email}", "${row.tags[0]}/${row.tags[-1]}", ASSETS) == [
        ("a@x", "hw/mobile"), ("b@x", "/"),
    ]
    assert options("$.items[*]", "${row.owner.email}", "${row.tags[0]}", ASSETS) == [
        ("a@x", "hw"), ("b@x", "b@x"),
    ]


def test_quoted_keys_and_spaces_inside_the_braces():
    data = [{"a.b": {"c d": "x"}, "n": "N"}]
    assert options("$", "${row['a.b'][\"c d\"]}", "${ row.n }", data) == [("x", "N")]
    assert options("$", "${row['a}b']}!", "", [{"a}b": 1}]) == [("1!", "1!")]


def test_missing_keys_render_empty_and_rows_with_an_empty_value_are_skipped():
    data = [{"id": "a"}, {"name": "no id"}, {"id": ""}, {"id": None}, {"id": "b", "name": "B"}]
    assert options("$", "${row.id}", "${row.name}", data) == [("a", "a"), ("b", "B")]


def test_missing_key_inside_a_template_renders_empty():
    assert options("$", "${row.id}-${row.missing}", "${row.missing.deeper[3]}!", [{"id": 1}]) == [("1-", "!")]


def test_empty_label_template_defaults_to_the_value_template():
    mapping = compile_mapping("$[*]", "${row.k}", "")
    assert mapping.label_template == "${row.k}"
    assert map_options(mapping, [{"k": "x"}]) == [("x", "x")]


def test_a_label_that_renders_empty_is_the_value():
    assert options("$", "${row.id}", "${row.name}", [{"id": 7}]) == [("7", "7")]


def test_scalar_rows_with_row_placeholder():
    assert options("$.tags", "${row}", "Tag ${row}", {"tags": ["a", "b", 3, True, None, 1.0]}) == [
        ("a", "Tag a"), ("b", "Tag b"), ("3", "Tag 3"), ("true", "Tag true"), ("1.0", "Tag 1.0"),
    ]


@pytest.mark.parametrize("value, text", [
    ("x", "x"), (True, "true"), (False, "false"), (None, ""), (0, "0"), (-12, "-12"),
    (1.0, "1.0"), (2.5, "2.5"), (1e16, "1e+16"), (10**30, "1000000000000000000000000000000"),
    ({"a": [1, {"b": None}]}, '{"a":[1,{"b":null}]}'), ([1, "x"], '[1,"x"]'), ({}, "{}"), ("é", "é"),
])
def test_rendering_of_values(value, text):
    assert render_scalar(value) == text
    assert options("$", "v:${row.v}", "${row.v}", [{"v": value}]) == [(f"v:{text}", text or f"v:{text}")]


def test_objects_and_arrays_in_placeholders_render_as_compact_json():
    assert options("$[*]", "${row.owner}", "${row.tags}", [{"owner": {"e": "a"}, "tags": ["x", 1]}]) == [
        ('{"e":"a"}', '["x",1]'),
    ]


def test_deeply_nested_values_render_or_fail_cleanly():
    deep = parse_json(b"[" * 600 + b"]" * 600, "S")
    result = options("$", "${row}", "", [deep])
    assert result[0][0].startswith("[[[") and len(result[0][0]) == 1200
    with pytest.raises(BadUpstreamData) as info:
        options("$", "${row}", "", [parse_json(b"[" * 1020 + b"]" * 1020, "S")])
    assert "nested too deeply" in info.value.message


def test_duplicates_keep_the_first_in_order():
    data = [{"id": "b", "n": "first b"}, {"id": "a", "n": "a"}, {"id": "b", "n": "second b"}, {"id": 1},
            {"id": "1", "n": "string one"}]
    assert options("$", "${row.id}", "${row.n}", data) == [("b", "first b"), ("a", "a"), ("1", "1")]


def test_path_matching_nothing_is_an_empty_list():
    assert options("$.nothing[*]", "${row.id}", "", ASSETS) == []
    assert options("$.items[?(@.id > 99)]", "${row.id}", "", ASSETS) == []
    assert options("$", "${row.id}", "", []) == []


def test_fallback_paths_use_jsonpath_ng():
    assert options("$..email", "${row}", "", ASSETS) == [("a@x", "a@x"), ("b@x", "b@x")]
    assert options("$.items[?(@.id >= 2)]", "${row.id}", "${row.name}", ASSETS) == [("2", "Phone"), ("3", "Desk")]
    assert options("$.items[0:2]", "${row.id}", "", ASSETS) == [("1", "1"), ("2", "2")]
    assert options("$.items[*].name", "${row}", "", ASSETS) == [("Laptop", "Laptop"), ("Phone", "Phone"),
                                                                  ("Desk", "Desk")]


def test_wrong_level_raises_bad_upstream_data_naming_the_row():
    with pytest.raises(BadUpstreamData) as info:
        options("$.items[*].name", "${row.id}", "", ASSETS)
    assert "${row.id}" in info.value.message and "row 1" in info.value.message and "a string" in info.value.message
    with pytest.raises(BadUpstreamData):
        options("$", "${row[0]}", "", [{"a": 1}])


def test_mixed_rows_keep_the_mappable_ones():
    assert options("$", "${row.id}", "", ["junk", {"id": 1}, 5, None]) == [("1", "1")]


def test_map_options_source_in_messages():
    mapping = compile_mapping("$", "${row.id}", "")
    with pytest.raises(BadUpstreamData) as info:
        map_options(mapping, ["x"], source="Assets API")
    assert info.value.message.startswith("Assets API: ")


def test_a_jsonpath_that_fails_on_the_data_is_bad_upstream_data():
    mapping = compile_mapping("$.a.`sorted`", "${row}", "")
    assert not mapping.fast
    assert map_options(mapping, {"a": [2, 1]}) == [("1", "1"), ("2", "2")]
    with pytest.raises(BadUpstreamData) as info:
        map_options(mapping, {"a": [1, "x"]}, source="S")
    assert info.value.message.startswith("S: the path $.a.`sorted` cannot be applied")


# --- the fast path agrees with jsonpath-ng -------------------------------------------------------

KEYS = ["a", "b", "items", "0"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False,
                         allow_infinity=False), st.sampled_from(["", "a", "x y"]))
json_docs = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(KEYS), children, max_size=4)),
    max_leaves=25,
)


@st.composite
def simple_paths(draw):
    steps = draw(st.lists(st.one_of(
        st.sampled_from(KEYS).map(lambda k: f".{k}" if k.isalpha() else f"['{k}']"),
        st.sampled_from(KEYS).map(lambda k: f"['{k}']"),
        st.just("[*]"), st.just(".*"), st.integers(-3, 3).map(lambda i: f"[{i}]"),
    ), max_size=4))
    return "$" + "".join(steps)


@SETTINGS
@given(path=simple_paths(), data=json_docs)
def test_fast_path_matches_jsonpath_ng(path, data):
    mapping = compile_mapping(path, "${row}", "")
    assert mapping.fast
    expected = [match.value for match in jsonpath_parse(path).find(data)]
    got = mapping.find(data)
    assert len(got) == len(expected)
    assert all(a is b for a, b in zip(got, expected))


def test_fast_path_examples_match_jsonpath_ng():
    data = {"a": {"b": [1, {"c": 2}], "0": "zero"}, "items": [{"x": 1}, [2], "s", None]}
    for path in ["$", "$.a", "$.a.b", "$.a.b[*]", "$.a.b[1].c", "$['a']['0']", "$.items[*]", "$.items[-1]",
                 "$.items[5]", "$.a[0]", "$.a.*", "$[*]", "$.items[*][*]", "$.missing.b"]:
        mapping = compile_mapping(path, "${row}", "")
        assert mapping.fast, path
        assert mapping.find(data) == [m.value for m in jsonpath_parse(path).find(data)], path


# --- anything an upstream sends ends in options or BadUpstreamData ----------------------------------

MAPPINGS = [
    ("$.items[*]", "${row.id}", "${row.name} (${row.serial})"),
    ("$", "${row}", ""),
    ("$[*]", "${row.a[0]}", "${row.b.c}"),
    ("$..id", "${row}", "x"),
    ("$.items[?(@.id > 1)]", "${row.id}", "${row}"),
    ("$.items[1:]", "${row['a']}-${row.items[-1]}", "${row}"),
]

bodies = st.one_of(
    st.binary(max_size=200),
    json_docs.map(orjson.dumps),
    st.fixed_dictionaries({"items": st.lists(json_docs, max_size=5)}).map(orjson.dumps),
    st.lists(st.fixed_dictionaries({"id": json_docs, "name": json_docs}), max_size=5).map(orjson.dumps),
    st.sampled_from([b"[" * 2000 + b"]" * 2000, b"[" * 1000 + b"]" * 1000, b'{"items":' + b"[" * 900 + b"]" * 900
                     + b"}", b"1e400", b"123456789012345678901234567890", b'"\\ud800"']),
)


@SETTINGS
@given(body=bodies, spec=st.sampled_from(MAPPINGS))
def test_any_body_gives_options_or_bad_upstream_data(body, spec):
    mapping = compile_mapping(*spec)
    try:
        result = map_options(mapping, parse_json(body, "S"))
    except BadUpstreamData as exc:
        assert exc.message.startswith("S:") or exc.message.startswith("the answer:")
        return
    assert isinstance(result, list)
    assert all(type(v) is str and type(label) is str and v for v, label in result)
    assert len({v for v, _ in result}) == len(result)


def test_integers_beyond_64_bits_stay_exact():
    data = parse_json(b'[{"id": 12345678901234567890123, "n": {"big": 98765432109876543210}}]', "S")
    assert options("$[*]", "${row.id}", "${row.n}", data) == [
        ("12345678901234567890123", '{"big":98765432109876543210}')]
