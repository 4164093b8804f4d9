"""The query template: parsing, validation, evaluation, URL joining."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from connect_plugin.errors import MissingDependency, ValidationError
from connect_plugin.connected_items.query import (
    KNOWN_VARIABLES,
    QueryTemplate,
    evaluate,
    join_url,
    parse_query,
)

EXAMPLE = "/assets/$issue.project/items?owner=$currentUser.emailAddress&q=$userInput&cont=${issue.connected_item_3}"


def query_error(text: str) -> str:
    with pytest.raises(ValidationError) as info:
        parse_query(text)
    assert set(info.value.fields) == {"query"}
    assert info.value.status == 400
    return info.value.fields["query"]


# --- parsing: variables ------------------------------------------------------------------


def test_example_variables_and_dependencies():
    template = parse_query(EXAMPLE)
    assert template.variables == frozenset(
        {"issue.project", "currentUser.emailAddress", "userInput", "issue.connected_item_3"}
    )
    assert template.depends_on_items == frozenset({3})
    assert template.uses_user_input is True


@pytest.mark.parametrize("name", KNOWN_VARIABLES)
def test_every_known_variable_is_accepted_bare_and_braced(name):
    assert parse_query(f"/x/${name}").variables == frozenset({name})
    assert parse_query(f"/x?v=${{{name}}}").variables == frozenset({name})


def test_connected_item_variables():
    template = parse_query("/a/$issue.connected_item_12?b=${issue.connected_item_7}")
    assert template.variables == frozenset({"issue.connected_item_12", "issue.connected_item_7"})
    assert template.depends_on_items == frozenset({7, 12})
    assert template.uses_user_input is False


def test_no_variables():
    template = parse_query("/plain/path?a=1")
    assert template.variables == frozenset()
    assert template.depends_on_items == frozenset()
    assert template.uses_user_input is False
    assert evaluate(template, {}) == "/plain/path?a=1"


@pytest.mark.parametrize("text, shown", [
    ("/$issue.foo", "$issue.foo"),
    ("/${issue.foo}", "${issue.foo}"),
    ("/$Issue.key", "$Issue.key"),  # case-sensitive
    ("/$issue.Key", "$issue.Key"),
    ("/$currentUser.email", "$currentUser.email"),
    ("/$userinput", "$userinput"),
    ("/$issue", "$issue"),
    ("/$issue.keyabc", "$issue.keyabc"),
    ("/$issue.connected_item_", "$issue.connected_item_"),
    ("/$issue.connected_item_0", "$issue.connected_item_0"),
    ("/$issue.connected_item_x", "$issue.connected_item_x"),
    ("/${ issue.key }", "${ issue.key }"),
    ("/$5", "$5"),
])
def test_unknown_variable_is_named(text, shown):
    message = query_error(text)
    assert message.startswith(f"Unknown variable {shown}. Known: ")
    assert "$issue.key" in message and "$userInput" in message and "$issue.connected_item_<id>" in message


def test_braces_delimit_a_name():
    template = parse_query("/${issue.key}abc")
    assert template.variables == frozenset({"issue.key"})
    assert evaluate(template, {"issue.key": "K-1"}) == "/K-1abc"


def test_bare_form_stops_before_a_second_dot_and_user_input_before_any_dot():
    assert evaluate(parse_query("/f/$issue.key.json"), {"issue.key": "A-1"}) == "/f/A-1.json"
    assert evaluate(parse_query("/f/$userInput.csv"), {"userInput": "x"}) == "/f/x.csv"


def test_dollar_dollar_is_a_literal_dollar():
    template = parse_query("/price$$/$$issue.key?a=$$")
    assert template.variables == frozenset()
    assert evaluate(template, {"issue.key": "X"}) == "/price$/$issue.key?a=$"


@pytest.mark.parametrize("text", ["/a/$", "/a/$/b", "/${issue.key", "/${}", "/$-x", "/?a=$&b=1"])
def test_dollar_without_a_variable_is_an_error(text):
    message = query_error(text)
    assert "$" in message


# --- parsing: structure --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["assets", "assets/$issue.key", "&a=1", "=x"])
def test_must_start_with_slash_or_question_mark(text):
    assert "must start with / or ?" in query_error(text)


@pytest.mark.parametrize("text", ["https://evil.example/x", "http://h", "javascript:alert(1)"])
def test_scheme_is_refused(text):
    assert "scheme" in query_error(text)


@pytest.mark.parametrize("text", ["//evil.example/x", "//", "//$issue.key"])
def test_network_path_is_refused(text):
    assert "//" in query_error(text)


def test_backslash_is_refused_so_that_no_parser_reads_a_host():
    assert "\\" in query_error("/\\evil.example/x")


@pytest.mark.parametrize("text", ["/a#frag", "/a?b=1#x", "?#"])
def test_fragment_is_refused(text):
    assert "#" in query_error(text)


@pytest.mark.parametrize("text", ["/a b", "/a\tb", "/a\r\nX-Injected: 1", "/a?b=c\nd", "/a\x00"])
def test_whitespace_and_control_characters_are_refused(text):
    assert "control character" in query_error(text)


@pytest.mark.parametrize("text", ["/a%", "/a%2", "/a%zz", "/a?b=%G0"])
def test_broken_percent_escape_is_refused(text):
    assert "%25" in query_error(text)


def test_error_position_counts_the_whole_text():
    assert "position 14" in query_error("/${issue.key}#")


@pytest.mark.parametrize("text", [
    "?$userInput=1",
    "?a=1&$userInput=2",
    "?${issue.key}x=1",
    "?x$issue.key=1",
    "?$userInput",  # no "=": the whole parameter is a name
    "?a=1&b$userInput",
])
def test_variable_in_a_parameter_name_is_refused(text):
    message = query_error(text)
    assert "variable" in message and "name" in message


@pytest.mark.parametrize("text", [
    "/$issue.key",
    "/a/pre-$issue.key-post/b",
    "/a/$issue.key$issue.summary",
    "?a=$userInput",
    "?a=pre$userInput&b=x=$issue.key",
    "?a=$userInput?x",
    "?=$userInput",
])
def test_variables_in_path_segments_and_parameter_values_are_accepted(text):
    assert isinstance(parse_query(text), QueryTemplate)


def test_literal_text_is_kept_as_written():
    text = "/a%20b/~x-y_z.json;v=1?x=%2F&y=a+b&z=:@!$$'()*,;"
    assert evaluate(parse_query(text), {}) == text.replace("$$", "$")


def test_empty_query_is_the_base_url_itself():
    assert evaluate(parse_query(""), {}) == ""
    assert evaluate(parse_query("   "), {}) == ""


def test_surrounding_whitespace_is_stripped():
    assert parse_query("  /a?b=1\n").text == "/a?b=1"


def test_templates_are_frozen_hashable_and_cached():
    first = parse_query(EXAMPLE)
    assert parse_query(EXAMPLE) is first
    assert hash(first) == hash(parse_query(EXAMPLE))
    assert {first: 1}[first] == 1
    with pytest.raises(AttributeError):
        first.text = "/other"  # type: ignore[misc]


# --- evaluation -----------------------------------------------------------------------------


def test_example_evaluation():
    result = evaluate(parse_query(EXAMPLE), {
        "issue.project": "OPS",
        "currentUser.emailAddress": "ann+1@example.com",
        "userInput": "lap top",
        "issue.connected_item_3": "A-7",
    })
    assert result == "/assets/OPS/items?owner=ann%2B1%40example.com&q=lap%20top&cont=A-7"


@pytest.mark.parametrize("value, encoded", [
    ("a/b", "a%2Fb"),
    ("../admin", "..%2Fadmin"),
    ("a?b", "a%3Fb"),
    ("a#b", "a%23b"),
    ("100%", "100%25"),
    ("%2F", "%252F"),
    ("a&b", "a%26b"),
    ("a\r\nb", "a%0D%0Ab"),
    ("é", "%C3%A9"),
    ("日本", "%E6%97%A5%E6%9C%AC"),
    ("a;b=c", "a%3Bb%3Dc"),
    ("a b+c", "a%20b%2Bc"),
    ("AZaz09-._~", "AZaz09-._~"),
])
def test_path_values_are_encoded_except_unreserved(value, encoded):
    assert evaluate(parse_query("/x/$userInput/y"), {"userInput": value}) == f"/x/{encoded}/y"


@pytest.mark.parametrize("value, segment", [(".", "%2E"), ("..", "%2E%2E")])
def test_dot_segments_from_values_are_encoded(value, segment):
    assert evaluate(parse_query("/api/$userInput/admin"), {"userInput": value}) == f"/api/{segment}/admin"


def test_dots_combined_from_several_pieces_cannot_form_a_dot_segment():
    assert evaluate(parse_query("/api/.$userInput/x"), {"userInput": "."}) == "/api/.%2E/x"
    assert evaluate(parse_query("/api/$userInput$issue.key/x"), {"userInput": ".", "issue.key": "."}) \
        == "/api/%2E%2E/x"


def test_dots_inside_a_longer_segment_stay_readable():
    assert evaluate(parse_query("/f/$userInput"), {"userInput": "v1.2..3"}) == "/f/v1.2..3"
    assert evaluate(parse_query("/f/$userInput"), {"userInput": "..."}) == "/f/..."


def test_admin_written_dot_segments_are_kept():
    assert evaluate(parse_query("/a/../b"), {}) == "/a/../b"


@pytest.mark.parametrize("value, encoded", [
    ("a&b=c", "a%26b%3Dc"),
    ("a+b", "a%2Bb"),
    ("x#y", "x%23y"),
    ("50%", "50%25"),
    ("a b", "a%20b"),
    ("ü", "%C3%BC"),
    ("a?b/c", "a%3Fb%2Fc"),
])
def test_query_values_are_encoded_except_unreserved(value, encoded):
    assert evaluate(parse_query("?q=$userInput&n=1"), {"userInput": value}) == f"?q={encoded}&n=1"


def test_list_values_are_joined_with_commas_then_encoded():
    result = evaluate(parse_query("/a/$issue.connected_item_2?b=$issue.connected_item_2"),
                      {"issue.connected_item_2": ["x", "y/z", "w,v"]})
    assert result == "/a/x%2Cy%2Fz%2Cw%2Cv?b=x%2Cy%2Fz%2Cw%2Cv"


@pytest.mark.parametrize("value", [None, "", []])
def test_missing_connected_item_raises_missing_dependency(value):
    template = parse_query("/a?b=$issue.connected_item_4")
    with pytest.raises(MissingDependency) as info:
        evaluate(template, {"issue.connected_item_4": value})
    assert info.value.field == "connected_item_4"
    assert info.value.status == 409


def test_absent_connected_item_raises_missing_dependency():
    with pytest.raises(MissingDependency) as info:
        evaluate(parse_query("/a/${issue.connected_item_9}"), {})
    assert info.value.field == "connected_item_9"


@pytest.mark.parametrize("name", [n for n in KNOWN_VARIABLES])
def test_other_missing_values_are_empty(name):
    assert evaluate(parse_query(f"/a/${{{name}}}/b?c=${{{name}}}"), {name: None}) == "/a//b?c="
    assert evaluate(parse_query(f"/a/${{{name}}}/b?c=${{{name}}}"), {}) == "/a//b?c="


def test_user_input_none_is_empty():
    assert evaluate(parse_query("?q=$userInput"), {"userInput": None}) == "?q="


def test_evaluate_accepts_the_query_text():
    assert evaluate("/a/$issue.key", {"issue.key": "K"}) == "/a/K"


# --- join_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize("base, relative, expected", [
    ("https://h/api", "/x", "https://h/api/x"),
    ("https://h/api/", "/x", "https://h/api/x"),
    ("https://h/api", "?a=1", "https://h/api?a=1"),
    ("https://h/api/", "?a=1", "https://h/api/?a=1"),
    ("https://h/api?k=v", "?a=1", "https://h/api?k=v&a=1"),
    ("https://h/api?k=v", "/x?a=1", "https://h/api/x?k=v&a=1"),
    ("https://h/api/?k=v", "/x/y?a=1&b=2", "https://h/api/x/y?k=v&a=1&b=2"),
    ("https://h", "/x", "https://h/x"),
    ("https://h/", "/x", "https://h/x"),
    ("https://h/a/b/c", "/d", "https://h/a/b/c/d"),
    ("https://h:8443/api", "/x", "https://h:8443/api/x"),
    ("https://h/api", "", "https://h/api"),
    ("https://h/api?k=v", "", "https://h/api?k=v"),
    ("https://h/api#frag", "/x", "https://h/api/x"),
    ("https://h/api", "/..%2Fadmin", "https://h/api/..%2Fadmin"),
])
def test_join_url(base, relative, expected):
    assert join_url(base, relative) == expected


def test_join_url_never_drops_base_segments_like_urljoin():
    assert join_url("https://h/a/b", "/c") == "https://h/a/b/c"
    assert join_url("https://h/a/b", "/../c") == "https://h/a/b/../c"


def test_join_url_needs_an_absolute_base():
    with pytest.raises(ValidationError):
        join_url("/relative", "/x")


def test_join_url_with_evaluated_query():
    url = join_url("https://api.example.com/v1/", evaluate(parse_query(EXAMPLE), {
        "issue.project": "../../etc", "currentUser.emailAddress": "a@b", "userInput": "x&admin=1",
        "issue.connected_item_3": "c",
    }))
    parts = urlsplit(url)
    assert parts.netloc == "api.example.com"
    assert parts.path == "/v1/assets/..%2F..%2Fetc/items"
    assert [name for name, _ in parse_qsl(parts.query)] == ["owner", "q", "cont"]
    assert dict(parse_qsl(parts.query))["q"] == "x&admin=1"
