"""The host's JQL parser: the trees it builds, the errors a user reads, and print/parse round trips."""

import pytest
from hypothesis import given, strategies as st

from plugin_host.jql import JqlError, parse, to_text


@pytest.mark.parametrize("text, tree", [
    ("project = DEMO", ("cmp", "project", "=", "DEMO")),
    ('Summary ~ "broken login"', ("cmp", "summary", "~", "broken login")),
    ("asset in (A-1, \"b c\")", ("in", "asset", ("A-1", "b c"))),
    ("asset not in (x)", ("not in", "asset", ("x",))),
    ("country is EMPTY", ("empty", "country")),
    ("country IS NOT null", ("not empty", "country")),
    ("a = 1 and b = 2 or c = 3",
     ("or", (("and", (("cmp", "a", "=", "1"), ("cmp", "b", "=", "2"))), ("cmp", "c", "=", "3")))),
    ("not (a != 1)", ("not", ("cmp", "a", "!=", "1"))),
    ("connected_item_3 !~ mac ORDER BY connected_item_3 DESC, key",
     ("order", ("cmp", "connected_item_3", "!~", "mac"), (("connected_item_3", "desc"), ("key", "asc")))),
    ("order by summary", ("order", None, (("summary", "asc"),))),
    ('a = "say \\"hi\\""', ("cmp", "a", "=", 'say "hi"')),
])
def test_parse_builds_the_tree(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize("text, message", [
    ("", "The query is empty: expected a clause such as project = DEMO."),
    ("project =", "Unexpected the end of the query at position 9: expected a field name or value or a quoted string."),
    ("project DEMO", "Unexpected 'DEMO' at position 8: expected IN or IS or NOT or an operator (=, !=, ~, !~)."),
    ("= x", "Unexpected '=' at position 0: expected \"(\" or NOT or ORDER BY or a field name or value."),
    ("a = b and", "Unexpected the end of the query at position 9: expected \"(\" or NOT or a field name or value."),
    ("a in (b", "Unexpected the end of the query at position 7: expected \")\" or \",\"."),
    ('a = "x', "Unexpected character '\"' at position 4: expected a field name or value or a quoted string."),
])
def test_bad_query_names_position_and_expectation(text, message):
    with pytest.raises(JqlError) as caught:
        parse(text)
    assert str(caught.value) == message


_fields = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda f: f not in {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"})
_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
_clauses = st.one_of(
    st.tuples(st.just("cmp"), _fields, st.sampled_from(["=", "!=", "~", "!~"]), _values),
    st.tuples(st.sampled_from(["in", "not in"]), _fields, st.lists(_values, min_size=1, max_size=3).map(tuple)),
    st.tuples(st.sampled_from(["empty", "not empty"]), _fields),
)
_conditions = st.recursive(_clauses, lambda inner: st.one_of(
    st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=3).map(tuple)),
    st.tuples(st.just("not"), inner)), max_leaves=8)
_orders = st.lists(st.tuples(_fields, st.sampled_from(["asc", "desc"])), min_size=1, max_size=3).map(tuple)
_queries = st.one_of(_conditions, st.tuples(st.just("order"), st.one_of(st.none(), _conditions), _orders))


@given(_queries)
def test_parse_of_print_is_the_query(query):
    assert parse(to_text(query)) == query
