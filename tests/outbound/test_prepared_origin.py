"""A call's URL is built from requests' preparation of its origin alone (cached per
origin, ``urls.prepared_origin``) exactly as from requests' preparation of the whole
URL: the same URL, or the same refusal, for any URL the client's own checks let
through. Pure functions: nothing here opens a connection."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connect_plugin.errors import InsecureURL
from connect_plugin.outbound import urls

REFUSED = "refused"


def whole_url_prepared(url: str, params: list[tuple[str, str]]) -> str:
    """What the client built before: requests prepared the whole URL and its params."""
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, params)
    except (requests.RequestException, ValueError, UnicodeError):
        return REFUSED
    return urls.as_built(prepared.url, url, params)


def origin_prepared(url: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    try:
        prepared = urls.prepared_origin(parts.scheme, parts.netloc)
    except (requests.RequestException, ValueError, UnicodeError):
        return REFUSED
    return urls.as_built(prepared, url, params)


HOSTS = st.one_of(
    st.sampled_from(["127.0.0.1", "LOCALHOST", "api.example.com", "Api.Example.COM.", "[::1]", "[::1", "bücher.de",
                     "a..b", ".a", "*.a", "a-", "xn--nxasmq6b", "1.2.3.4.5", "127.1", "h:0", "h:65536", "h:0443",
                     "H:443", "h:", "h:x", "ex ample", "%41", "ex%2Eample", "\u2024.example", "x\x00y"]),
    st.text(st.sampled_from(list("abc.-:[]%9é_")), max_size=8),
)
PIECES = st.sampled_from(list("abcAB0.-_~/?#&=;:@[]!$'()*+, \t\\\"<>^`{|}é中\x7f")
                         + ["%2E", "%2e%2E", "..", "%zz", "%", "%20", "xn--"])


@settings(max_examples=1500, suppress_health_check=list(HealthCheck), deadline=None)
@given(scheme=st.sampled_from(["https://", "HTTPS://", "https:/", "https:///"]), host=HOSTS,
       rest=st.lists(PIECES, max_size=12).map("".join),
       params=st.lists(st.tuples(st.text(max_size=3), st.text(max_size=3)), max_size=2))
def test_preparing_the_origin_alone_builds_what_preparing_the_whole_url_built(scheme, host, rest, params):
    url = scheme + host + ("/" if rest and rest[0] not in "/?#" else "") + rest
    try:  # what the client checks first (_first_hop): the same order here
        urls.check_url(url.strip(), source="s", shown=str, redirected=False)
    except InsecureURL:
        assume(False)
    url = urls.drop_fragment(url.strip())
    assert origin_prepared(url, params) == whole_url_prepared(url, params)


def test_an_origin_requests_refuses_is_refused_every_time():
    for _ in range(2):  # a refusal is not cached as an answer
        assert origin_prepared("https://*.example.com/x", []) == REFUSED
