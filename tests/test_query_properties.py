"""Property tests of the query template: no value can change the URL's structure."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connect_plugin.errors import ValidationError
from connect_plugin.connected_items.query import KNOWN_VARIABLES, evaluate, join_url, parse_query

SETTINGS = settings(max_examples=200, deadline=None)

NASTY = ["/", "..", ".", "?", "&", "#", "%2F", "%", "\r\n", "=", "+", ";", ":", "@", "[", "]", "\\",
         "//evil.example", "../../admin", "?admin=1", "&admin=1", "#x", "a=b&c=d", "%00", " ", "",
         "\u2028", "é", "日本", "\U0001F600", "%%", "%25", "~", ",", "$", "${issue.key}"]

values_text = st.one_of(
    st.text(),
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=4).map("".join),
    st.lists(st.one_of(st.text(max_size=5), st.sampled_from(NASTY)), max_size=6).map("".join),
)

# Literal text an admin may write inside a segment / a parameter (valid, no structure).
literal_chars = st.sampled_from(list("abcXYZ019-._~!*'(),;:@") + ["%20", "%2F", "%C3%A9", "$$"])
literal = st.lists(literal_chars, max_size=4).map("".join)
VARIABLES = list(KNOWN_VARIABLES) + ["issue.connected_item_3", "issue.connected_item_12"]
variable = st.sampled_from(VARIABLES)
BASES = ["https://h.example/api", "https://h.example/api/", "https://h.example", "https://h.example/",
         "https://u@h.example:8443/a/b", "https://h.example/api?k=v", "https://h.example/a;p/?k=v&z="]


@st.composite
def pieces(draw, min_vars=0):
    """(template text, list of ("lit", text) | ("var", name)) for one position."""
    items = draw(st.lists(st.one_of(literal.map(lambda t: ("lit", t)), variable.map(lambda v: ("var", v))),
                          max_size=4))
    if min_vars and not any(kind == "var" for kind, _ in items):
        items.append(("var", draw(variable)))
    text = "".join(t if kind == "lit" else "${" + t + "}" for kind, t in items)
    return text, items


@st.composite
def templates(draw):
    segments = draw(st.lists(pieces(), max_size=4))
    params = draw(st.lists(st.tuples(st.text("abcxyz_-.", min_size=1, max_size=5), pieces()), max_size=4))
    if not segments and not params:
        segments = [draw(pieces(min_vars=1))]
    if segments and not segments[0][0]:
        segments[0] = ("a", [("lit", "a")])  # "//" at the start names a host: refused, tested elsewhere
    text = "".join("/" + s[0] for s in segments)
    if params:
        text += "?" + "&".join(f"{name}={p[0]}" for name, p in params)
    return text, segments, params


def literal_decoded(text: str) -> str:
    return unquote(text.replace("$$", "$"))


def expected_decoded(items, values) -> str:
    out = []
    for kind, t in items:
        if kind == "lit":
            out.append(literal_decoded(t))
        else:
            value = values[t]
            out.append(",".join(value) if isinstance(value, list) else value)
    return "".join(out)


def base_segments(base: str) -> list[str]:
    path = urlsplit(base).path
    segments = path.split("/")[1:] if path else []
    if segments and segments[-1] == "":
        segments = segments[:-1]
    return segments


@SETTINGS
@given(data=st.data(), template=templates(), base=st.sampled_from(BASES))
def test_values_never_change_the_url_structure(data, template, base):
    text, segments, params = template
    parsed = parse_query(text)
    values = {}
    for name in sorted(parsed.variables):
        values[name] = data.draw(
            st.one_of(values_text, st.lists(values_text, min_size=1, max_size=3)) if "connected" in name
            else values_text, label=name)
        if "connected" in name and values[name] in ("", [""]):
            values[name] = "x"  # an empty dependency raises MissingDependency, tested elsewhere

    relative = evaluate(parsed, values)
    url = join_url(base, relative)
    parts, base_parts = urlsplit(url), urlsplit(base)

    assert (parts.scheme, parts.netloc) == (base_parts.scheme, base_parts.netloc)
    assert parts.fragment == ""
    assert not any(c.isspace() or ord(c) < 0x20 for c in url)

    # path: the base's segments, then exactly the template's segments, each decoding
    # to the literal text with the original values.
    got = parts.path.split("/")[1:] if parts.path else []
    expected_base = base_segments(base)
    if segments:
        assert len(got) == len(expected_base) + len(segments)
        assert got[:len(expected_base)] == expected_base
        for raw, (_, items) in zip(got[len(expected_base):], segments):
            assert unquote(raw) == expected_decoded(items, values)
            if any(kind == "var" for kind, _ in items):
                assert raw not in (".", "..")
    else:
        assert parts.path == base_parts.path

    # query: the base's parameters, then the admin's names in order, with the values.
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    base_pairs = parse_qsl(base_parts.query, keep_blank_values=True)
    assert pairs[:len(base_pairs)] == base_pairs
    rest = pairs[len(base_pairs):]
    assert [name for name, _ in rest] == [name for name, _ in params]
    for (_, got_value), (_, (_, items)) in zip(rest, params):
        assert got_value == expected_decoded(items, values)


FIXED = [
    "/assets/$issue.project/items?owner=$currentUser.emailAddress&q=$userInput&cont=${issue.connected_item_3}",
    "/$userInput",
    "/a/pre$userInput.post/b",
    "?q=$userInput",
    "/x/$issue.key$userInput?a=b&c=$issue.summary",
]


@SETTINGS
@given(template=st.sampled_from(FIXED), value=values_text, base=st.sampled_from(BASES))
@example(template="/$userInput", value="..", base="https://h.example/api")
@example(template="/$userInput", value=".", base="https://h.example/api")
@example(template="/$userInput", value="/../admin?x=1#f", base="https://h.example/api")
def test_each_variable_position_decodes_to_its_value(template, value, base):
    parsed = parse_query(template)
    values = {name: value or "x" for name in parsed.variables}
    marker = {name: "\x00MARK\x00" for name in parsed.variables}
    url = join_url(base, evaluate(parsed, values))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == (urlsplit(base).scheme, urlsplit(base).netloc)
    # The same template with an unreserved marker shows where each value went.
    shape = join_url(base, evaluate(parsed, {n: "MARKER" for n in marker}))
    assert url.count("/") - shape.count("/") == 0
    assert url.count("&") == shape.count("&") and url.count("=") == shape.count("=")
    assert url.count("?") == shape.count("?") and "#" not in url
    assert not {".", ".."} & set(parts.path.split("/"))  # no dot-segment came from a value
    prefix, _, suffix = shape.partition("MARKER")
    if "MARKER" not in suffix:  # one variable in the template: cut it out exactly
        assert url.startswith(prefix) and url.endswith(suffix)
        encoded = url[len(prefix):len(url) - len(suffix)]
        assert unquote(encoded) == (value or "x")


@SETTINGS
@given(text=st.text(max_size=40))
def test_parse_query_accepts_or_explains_any_text(text):
    try:
        parsed = parse_query(text)
    except ValidationError as exc:
        assert set(exc.fields) == {"query"} and exc.fields["query"]
        return
    relative = evaluate(parsed, {name: "v" for name in parsed.variables})
    assert relative == "" or relative[0] in "/?"
    assert not relative.startswith("//")
    parts = urlsplit(join_url("https://h.example/api", relative))
    assert parts.netloc == "h.example" and parts.fragment == ""


@pytest.mark.parametrize("text", FIXED)
def test_fixed_templates_parse(text):
    assert parse_query(text).variables
