"""Property tests through the whole options endpoint (view, variables, cache,
connector, mapping), extending the unit-level ones in
``tests/test_query_properties.py`` (URL structure of ``evaluate``/``join_url``) and
``tests/test_mapping.py`` (``map_options`` on any body).

The upstream is replaced by a stub of ``OutboundClient.request`` that records the
URL it is asked for and answers with the bytes Hypothesis chose: nothing leaves the
process.
"""

from __future__ import annotations

import itertools
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect_plugin.outbound.response import UpstreamResponse

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
BASE = "https://assets.example.com:8443/v1/api"
QUERY = "/assets/$userInput/info?owner=$currentUser.emailAddress&q=${userInput}&s=$issue.summary&fixed=1"
NASTY = st.sampled_from(["/", "..", ".", "?", "&", "#", "%2F", "%", "\r\n", "=", "+", ";", "@evil.example",
                         "//evil.example", "../../admin", "?admin=1", "&admin=1", "%00", " ", "\\", "é", "日本"])
VALUES = st.one_of(st.text(min_size=1, max_size=30), NASTY,
                   st.lists(st.one_of(NASTY, st.text(max_size=4)), min_size=1, max_size=5).map("".join))


class StubUpstream:
    def __init__(self):
        self.urls: list[str] = []
        self.body = b'{"items": []}'
        self.content_type = "application/json"

    def request(self, client, method, url, *, source, **kwargs):
        self.urls.append(url)
        return UpstreamResponse(status=200, headers={"Content-Type": self.content_type}, body=self.body, url=url,
                                elapsed_ms=1, redirects=0, source=source)


@pytest.fixture(scope="module")
def stubbed(make_world):
    """The module's world with an item on a datasource at BASE, whose upstream is the
    stub (patched for the module: no request leaves the process)."""
    world = make_world()
    stub = StubUpstream()
    patcher = pytest.MonkeyPatch()
    patcher.setattr("connect_plugin.outbound.client.OutboundClient.request",
                    lambda self, method, url, **kw: stub.request(self, method, url, **kw))
    admin = world.session("admin")
    ds = admin.post("/plugins/connect/api/datasources", json={
        "name": "Stubbed", "config": {"base_url": BASE}, "auth": {"mode": "none"}})
    assert ds.status_code == 201, ds.json
    item = admin.post("/plugins/connect/api/items", json={
        "name": "Structured", "datasource_id": ds.json["id"], "editor": "autocomplete", "query": QUERY,
        "options": {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name}"}})
    assert item.status_code == 201, item.json
    yield world, stub, item.json["id"]
    patcher.undo()


_unique = itertools.count(1)


@SETTINGS
@given(user_input=VALUES)
def test_any_typed_text_keeps_the_url_the_admin_wrote(stubbed, user_input):
    world, stub, item_id = stubbed
    stub.body = b'{"items": []}'
    before = len(stub.urls)
    response = world.session("member").get(f"/plugins/connect/api/items/{item_id}/options",
                                           query_string={"issue": "DEMO-1", "q": user_input})
    assert response.status_code == 200, response.get_data(as_text=True)
    if len(stub.urls) == before:
        return  # the same evaluated URL was asked before: answered from the cache
    url = urlsplit(stub.urls[-1])
    assert (url.scheme, url.hostname, url.port) == ("https", "assets.example.com", 8443)
    segments = url.path.split("/")
    assert segments[:4] == ["", "v1", "api", "assets"] and segments[5:] == ["info"] and len(segments) == 6
    assert unquote(segments[4]) == user_input
    params = parse_qsl(url.query, keep_blank_values=True)
    assert [name for name, _ in params] == ["owner", "q", "s", "fixed"]
    assert dict(params) == {"owner": "alice@example.com", "q": user_input, "s": "Laptop for Alice", "fixed": "1"}
    assert url.fragment == ""


BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                 max_leaves=12).map(lambda doc: __import__("json").dumps({"items": doc}).encode()),
    st.lists(st.fixed_dictionaries({"id": st.one_of(st.text(max_size=5), st.integers(), st.none()),
                                    "name": st.one_of(st.text(max_size=5), st.lists(st.integers()), st.none())}),
             max_size=5).map(lambda rows: __import__("json").dumps({"items": rows}).encode()),
)


@SETTINGS
@given(body=BODIES, content_type=st.sampled_from(["application/json", "text/html", "", "application/xml"]))
def test_any_bytes_from_the_upstream_give_options_or_a_clear_502(stubbed, body, content_type):
    world, stub, item_id = stubbed
    stub.body, stub.content_type = body, content_type
    member = world.session("member")
    url = f"/plugins/connect/api/items/{item_id}/options"
    query = {"issue": "DEMO-1", "q": f"fresh {next(_unique)}"}  # a new evaluated URL: never from the cache
    response = member.get(url, query_string=query)
    assert response.is_json, response.get_data(as_text=True)[:200]
    if response.status_code == 200:
        options = response.json["options"]
        assert all(isinstance(o["value"], str) and isinstance(o["label"], str) and o["value"] for o in options)
        assert response.json["cached"] is False
        assert member.get(url, query_string=query).json["cached"] is True
    else:
        assert response.status_code == 502, response.json
        error = response.json["error"]
        assert error and "\n" not in error and "Traceback" not in error and len(error) < 400, error
        # A failure is not cached: the same call asks the upstream again.
        before = len(stub.urls)
        member.get(url, query_string=query)
        assert len(stub.urls) == before + 1


@pytest.mark.parametrize("template", ["/api/.$userInput/x", "/api/..${userInput}/x", "/api/${userInput}./x",
                                      "/api/.${userInput}.$issue.key/x"])
def test_an_empty_value_cannot_turn_the_admins_dots_into_a_dot_segment(template):
    """Found by tests/test_query_properties.py (an empty ``$issue.key`` after a
    literal ``.``): the segment must not become ``.`` or ``..``, which a server
    would resolve, dropping or climbing a segment the admin wrote."""
    from connect_plugin.connected_items.query import evaluate, join_url, parse_query

    relative = evaluate(parse_query(template), {"userInput": "", "issue.key": ""})
    segments = urlsplit(join_url("https://h.example/base", relative)).path.split("/")
    assert segments[:3] == ["", "base", "api"] and segments[-1] == "x" and len(segments) == 5
    assert segments[3] not in (".", "..") and unquote(segments[3]) in (".", "..")
