"""OutboundClient against real TLS servers on loopback.

Every server is started by the test on 127.0.0.1 (or another 127.x address);
nothing else is ever contacted. Addresses the guard must refuse are loopback
addresses the policy does not allow, and the servers count accepted
connections to prove that nothing reached them.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import tracemalloc

import pytest

from connect_plugin.errors import (
    BadUpstreamData,
    BlockedAddress,
    ConnectFailure,
    InsecureURL,
    ResolveFailure,
    ResponseTooLarge,
    TLSFailure,
    TooManyRedirects,
    UpstreamHTTPError,
    UpstreamTimeout,
)
from connect_plugin.outbound import OutboundPolicy, raise_for_status
from connect_plugin.outbound.transport import GuardedAdapter, build_ssl_context
from tests.support.https_servers import (
    Chunked,
    Drip,
    GzipBomb,
    Huge,
    Json,
    RawTCPServer,
    Redirect,
    Reply,
    Sleep,
    Stall,
    free_port,
    gzip_bomb,
)

SOURCE = "Assets API"
API_KEY = "key-SECRET-4f1c9a77"
TOKEN = "tok-SECRET-b8e2d5c3"
MiB = 1 << 20


def get(client, url, **kwargs):
    kwargs.setdefault("source", SOURCE)
    kwargs.setdefault("timeout_seconds", 5)
    return client.request(kwargs.pop("method", "GET"), url, **kwargs)


def fake_resolver(table):
    """A getaddrinfo stand-in mapping host -> list of loopback IPs."""

    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out = []
        for ip in table[host]:
            if ":" in ip:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)))
        return out

    return resolve


# --- TLS ------------------------------------------------------------------------------------


def test_trusted_certificate(make_server, client):
    server = make_server({"/items": Json({"items": [1, 2]})})
    response = get(client, server.url("/items"), params={"page": "2"})
    assert response.status == 200
    assert response.json() == {"items": [1, 2]}
    assert response.headers["content-type"] == "application/json"
    assert response.url == server.url("/items") + "?page=2"
    assert response.redirects == 0
    assert response.elapsed_ms >= 0
    assert server.requests[0].param("page") == "2"


def test_host_name_is_used_for_sni_and_certificate(make_server, make_client):
    server = make_server({"/": Json({})})
    client = make_client(allowed=("localhost",))
    get(client, server.url("/", host="localhost"))
    assert server.sni_names == ["localhost"]
    assert server.requests[0].header("host") == f"localhost:{server.port}"


def test_untrusted_ca(make_server, client, other_ca):
    server = make_server({"/": Json({})}, ca=other_ca)
    with pytest.raises(TLSFailure) as info:
        get(client, server.url("/"))
    assert info.value.message == f"{SOURCE}: certificate for 127.0.0.1 is not trusted"
    assert server.requests == []


def test_test_ca_is_not_trusted_without_the_bundle(make_server, make_client):
    server = make_server({"/": Json({})})
    client = make_client(ca_bundle=None)
    with pytest.raises(TLSFailure, match="is not trusted"):
        get(client, server.url("/"))


def test_certificate_for_another_host_name(make_server, client):
    server = make_server({"/": Json({})}, hostnames=("wrong.example",))
    with pytest.raises(TLSFailure) as info:
        get(client, server.url("/"))
    assert info.value.message == f"{SOURCE}: certificate does not match host name 127.0.0.1"
    assert server.requests == []


def test_server_that_does_not_speak_tls(client):
    with RawTCPServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") as server:
        with pytest.raises(TLSFailure) as info:
            get(client, server.url("/"))
        assert server.accepted_connections == 1
    assert info.value.message.startswith(f"{SOURCE}: the TLS handshake with 127.0.0.1 failed (")


def test_verification_cannot_be_turned_off_through_the_adapter(ca_bundle):
    adapter = GuardedAdapter(build_ssl_context(OutboundPolicy(ca_bundle=ca_bundle)))

    class Pool:
        pass

    pool = Pool()
    adapter.cert_verify(pool, "https://x.example/", False, None)
    assert pool.cert_reqs == "CERT_REQUIRED"
    assert pool.ca_certs is None and pool.ca_cert_dir is None
    with pytest.raises(RuntimeError, match="^outbound connections do not go through proxies$"):
        adapter.proxy_manager_for("http://proxy.invalid:3128")


# --- HTTPS only -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "ftp", "file"])
def test_non_https_url_is_refused(make_server, client, scheme):
    server = make_server({"/": Json({})})
    url = f"{scheme}://127.0.0.1:{server.port}/"
    with pytest.raises(InsecureURL, match="only HTTPS URLs are accepted"):
        get(client, url)
    assert server.accepted_connections == 0


def test_user_info_in_url_is_refused(make_server, client):
    server = make_server({"/": Json({})})
    with pytest.raises(InsecureURL) as info:
        get(client, f"https://bob:{TOKEN}@127.0.0.1:{server.port}/")
    assert TOKEN not in info.value.message
    assert server.accepted_connections == 0


def test_redirect_to_http_is_refused(make_server, client):
    target = f"http://127.0.0.1:{free_port()}/next?api_key={API_KEY}"
    server = make_server({"/start": Redirect(target)})
    with pytest.raises(InsecureURL) as info:
        get(client, server.url("/start"), auth_params={"api_key": API_KEY})
    message = info.value.message
    assert message.startswith(f"{SOURCE}: a redirect to http:// was refused (http://127.0.0.1:")
    assert "api_key=***" in message
    assert API_KEY not in message


# --- address guard at connect time ---------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1", "0x7f.1", "LOCALHOST"],
)
def test_loopback_not_allowed_is_refused_before_connecting(make_server, make_client, host):
    server = make_server({"/": Json({})})
    client = make_client(allowed=())
    with pytest.raises(BlockedAddress) as info:
        get(client, f"https://{host}:{server.port}/")
    assert "resolves to 127.0.0.1" in info.value.message
    assert info.value.message.startswith(f"{SOURCE}: ")
    assert "CONNECT_ALLOWED_HOSTS" in info.value.message
    assert server.accepted_connections == 0


def test_ipv6_loopback_not_allowed_is_refused(make_client):
    client = make_client(allowed=())
    with pytest.raises(BlockedAddress, match=r"resolves to ::1"):
        get(client, f"https://[::1]:{free_port('127.0.0.1')}/")


def test_redirect_to_a_loopback_address_not_allowed(make_server, make_client):
    """The policy allows the host name 'localhost' only; a redirect to the same
    machine spelled 127.0.0.1 is judged again at connect time and refused."""
    target = make_server({"/": Json({"reached": True})})
    start = make_server({"/start": Redirect(target.url("/"))})
    client = make_client(allowed=("localhost",))
    with pytest.raises(BlockedAddress, match="127.0.0.1 resolves to 127.0.0.1"):
        get(client, start.url("/start", host="localhost"))
    assert len(start.requests) == 1
    assert target.accepted_connections == 0


def test_connects_only_to_the_checked_address(make_server, make_client):
    """api.test resolves to 127.0.0.2 (not allowed) and 127.0.0.1 (allowed): the
    client skips the first, connects to the second, and still checks the
    certificate and sends SNI for api.test."""
    real = make_server({"/": Json({"ok": True})}, hostnames=("api.test",))
    decoy = make_server({"/": Json({"decoy": True})}, hostnames=("api.test",), bind="127.0.0.2", port=real.port)
    client = make_client(
        allowed=("127.0.0.1",), resolver=fake_resolver({"api.test": ["127.0.0.2", "127.0.0.1"]})
    )
    response = get(client, f"https://api.test:{real.port}/")
    assert response.json() == {"ok": True}
    assert decoy.accepted_connections == 0
    assert real.sni_names == ["api.test"]
    assert real.requests[0].header("host") == f"api.test:{real.port}"


def test_every_resolved_address_blocked(make_server, make_client):
    server = make_server({"/": Json({})})
    client = make_client(allowed=(), resolver=fake_resolver({"api.test": ["127.0.0.2", "::1", "127.0.0.1"]}))
    with pytest.raises(BlockedAddress, match="api.test resolves to 127.0.0.2"):
        get(client, f"https://api.test:{server.port}/")
    assert server.accepted_connections == 0


def test_next_allowed_address_is_tried_when_one_fails(make_server, make_client):
    server = make_server({"/": Json({"ok": 1})}, hostnames=("api.test",))
    client = make_client(
        allowed=("127.0.0.0/8",), resolver=fake_resolver({"api.test": ["127.0.0.3", "127.0.0.1"]})
    )
    assert get(client, f"https://api.test:{server.port}/").json() == {"ok": 1}


def test_dns_failure(make_client):
    client = make_client(resolver=fake_resolver({}))
    with pytest.raises(ResolveFailure) as info:
        get(client, "https://api.example.com/x")
    assert info.value.message == f"{SOURCE}: the host name api.example.com could not be resolved"


def test_connection_refused(make_client):
    client = make_client()
    with pytest.raises(ConnectFailure, match="was refused"):
        get(client, f"https://127.0.0.1:{free_port()}/")


# --- redirects ---------------------------------------------------------------------------------


def test_same_origin_redirect_keeps_auth(make_server, client):
    server = make_server({"/start": Redirect("/next?page=2"), "/next": Json({"done": True})})
    response = get(
        client,
        server.url("/start"),
        headers={"X-Trace": "t1"},
        auth_headers={"Authorization": f"Bearer {TOKEN}"},
        auth_params={"api_key": API_KEY},
    )
    assert response.json() == {"done": True}
    assert response.redirects == 1
    first, second = server.requests
    for request in (first, second):
        assert request.header("authorization") == f"Bearer {TOKEN}"
        assert request.param("api_key") == API_KEY
        assert request.header("x-trace") == "t1"
    assert second.param("page") == "2"
    assert response.url == server.url("/next") + "?page=2&api_key=***"


def test_auth_params_replace_parameters_of_the_same_name(make_server, client):
    server = make_server({"/": Json({})})
    get(client, server.url("/") + "?api_key=from-url&a=1", params={"api_key": "from-params", "b": "2"},
        auth_params={"api_key": API_KEY})
    (request,) = server.requests
    assert request.query == {"api_key": [API_KEY], "a": ["1"], "b": ["2"]}


def test_cross_origin_redirect_drops_auth(make_server, client):
    other = make_server({"/land": Json({"landed": True})})
    start = make_server({"/start": Redirect(other.url("/land") + f"?q=1&api_key={API_KEY}")})
    response = get(
        client,
        start.url("/start"),
        headers={"X-Trace": "t1", "Cookie": "session=abcdef"},
        auth_headers={"Authorization": f"Bearer {TOKEN}", "X-Api-Token": TOKEN + "2"},
        auth_params={"api_key": API_KEY},
    )
    assert response.json() == {"landed": True}
    (sent,) = start.requests
    assert sent.header("authorization") == f"Bearer {TOKEN}"
    assert sent.param("api_key") == API_KEY
    (arrived,) = other.requests
    assert arrived.header("authorization") is None
    assert arrived.header("x-api-token") is None
    assert arrived.header("cookie") is None
    assert arrived.param("api_key") is None  # even when the Location echoes it
    assert arrived.param("q") == "1"
    assert arrived.header("x-trace") == "t1"


def test_redirect_loop(make_server, client):
    server = make_server({"/a": Redirect("/b"), "/b": Redirect("/a")})
    with pytest.raises(TooManyRedirects, match="loop"):
        get(client, server.url("/a"))
    assert len(server.requests) <= 3


def test_five_redirects_are_followed_the_sixth_is_not(make_server, client):
    routes = {f"/r{i}": Redirect(f"/r{i + 1}") for i in range(6)}
    routes["/r5"] = Json({"hops": 5})
    routes["/r6"] = Json({"hops": 6})
    server = make_server(routes)
    response = get(client, server.url("/r0"))
    assert response.json() == {"hops": 5} and response.redirects == 5

    server.route("/r5", Redirect("/r6"))
    with pytest.raises(TooManyRedirects, match="more than 5 redirects"):
        get(client, server.url("/r0"))
    assert "/r6" not in [r.path for r in server.requests]


def test_303_turns_post_into_get(make_server, client):
    server = make_server({"/form": Reply(303, {"Location": "/result"}), "/result": Json({"ok": 1})})
    get(client, server.url("/form"), method="POST", data=b'{"a": 1}', headers={"Content-Type": "application/json"})
    post, follow = server.requests
    assert post.method == "POST" and post.body == b'{"a": 1}'
    assert follow.method == "GET" and follow.body == b"" and follow.header("content-type") is None


def test_307_keeps_post_and_body(make_server, client):
    server = make_server({"/form": Reply(307, {"Location": "/again"}), "/again": Json({"ok": 1})})
    get(client, server.url("/form"), method="POST", data=b"payload")
    assert [(r.method, r.body) for r in server.requests] == [("POST", b"payload"), ("POST", b"payload")]


@pytest.mark.parametrize("status", [307, 308])
def test_a_body_never_follows_a_redirect_to_another_origin(make_server, client, status):
    other = make_server({"/land": Json({"landed": True})})
    start = make_server({"/form": Reply(status, {"Location": other.url("/land")})})
    with pytest.raises(TooManyRedirects) as raised:
        get(client, start.url("/form"), method="POST", data=f"client_secret={TOKEN}")
    assert raised.value.message == (
        f"{SOURCE}: a redirect ({status}) to another origin ({other.url('/land')}) would send the request body "
        "there; it was refused")
    assert other.requests == []
    assert [r.body for r in start.requests] == [f"client_secret={TOKEN}".encode()]


def test_a_call_that_follows_no_redirect_refuses_one(make_server, client):
    target = make_server({"/land": Json({"landed": True})})
    start = make_server({"/token": Redirect(target.url("/land"))})
    with pytest.raises(TooManyRedirects) as raised:
        get(client, start.url("/token"), method="POST", data=b"x=1", follow_redirects=False)
    assert raised.value.message == (
        f"{SOURCE}: the answer is a redirect (302) to {target.url('/land')}, which is not followed here")
    assert target.requests == []


# --- one deadline per call ---------------------------------------------------------------------------


def test_slow_headers_time_out(make_server, client):
    server = make_server({"/slow": Sleep(10)})
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as info:
        get(client, server.url("/slow"), timeout_seconds=1)
    assert time.monotonic() - started < 2
    assert info.value.message == f"{SOURCE} did not answer within 1 s"
    assert info.value.status == 504


def test_dripping_body_times_out(make_server, client):
    """A byte every 0.1 s never trips a per-socket timeout: only the call's
    deadline stops it."""
    server = make_server({"/drip": Drip(b"x" * 200, interval=0.1)})
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        get(client, server.url("/drip"), timeout_seconds=1)
    assert time.monotonic() - started < 2


def test_deadline_covers_pooled_connections(make_server, client):
    server = make_server({"/fast": Json({}), "/drip": Drip(b"x" * 200, interval=0.1)})
    get(client, server.url("/fast"))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        get(client, server.url("/drip"), timeout_seconds=1)
    assert time.monotonic() - started < 2
    assert server.accepted_connections == 1  # the second call reused the connection


def test_deadline_covers_redirect_chains(make_server, client):
    server = make_server(
        {"/a": Sleep(0.6, Redirect("/b")), "/b": Sleep(0.6, Redirect("/c")), "/c": Json({})}
    )
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        get(client, server.url("/a"), timeout_seconds=1)
    assert time.monotonic() - started < 2


# --- size cap ------------------------------------------------------------------------------------


def test_content_length_over_cap_refused_before_reading(make_server, make_client):
    """The server claims 10 MiB and then sends nothing: only a check of
    Content-Length before reading can answer before the deadline."""
    client = make_client(max_response_bytes=MiB)
    server = make_server({"/big": Stall(declared_length=10 * MiB, seconds=5)})
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge) as info:
        get(client, server.url("/big"), timeout_seconds=3)
    assert time.monotonic() - started < 1.5
    assert info.value.message == f"{SOURCE}: the answer is larger than 1 MiB (CONNECT_MAX_RESPONSE_BYTES)"


def test_default_cap_message(make_server, client):
    server = make_server({"/big": Stall(declared_length=11 * MiB, seconds=5)})
    with pytest.raises(ResponseTooLarge, match=r"larger than 10 MiB \(CONNECT_MAX_RESPONSE_BYTES\)"):
        get(client, server.url("/big"), timeout_seconds=3)


def test_chunked_body_over_cap(make_server, make_client):
    client = make_client(max_response_bytes=MiB)
    server = make_server({"/big": Huge(3 * MiB, chunked=True)})
    with pytest.raises(ResponseTooLarge):
        get(client, server.url("/big"))


def test_body_at_cap_is_accepted(make_server, make_client):
    client = make_client(max_response_bytes=MiB)
    server = make_server({"/exact": Huge(MiB, chunked=True), "/over": Huge(MiB + 1, chunked=True)})
    assert len(get(client, server.url("/exact")).body) == MiB
    with pytest.raises(ResponseTooLarge):
        get(client, server.url("/over"))


@pytest.mark.parametrize("chunked", [False, True])
def test_gzip_bomb_over_cap(make_server, make_client, chunked):
    client = make_client(max_response_bytes=MiB)
    decoded = 64 * MiB
    assert len(gzip_bomb(decoded)) < MiB  # small on the wire, huge decoded
    server = make_server({"/bomb": GzipBomb(decoded, chunked=chunked)})
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge):
            get(client, server.url("/bomb"))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


def test_gzip_body_under_cap_is_decoded(make_server, client):
    import gzip

    server = make_server(
        {"/gz": Reply(200, {"Content-Encoding": "gzip", "Content-Type": "application/json"}, gzip.compress(b'{"a": 1}'))}
    )
    assert get(client, server.url("/gz")).json() == {"a": 1}


# --- answers ----------------------------------------------------------------------------------------


def test_non_json_answer(make_server, client):
    page = b"<!doctype html>\n<html><head><title>Login</title></head><body>" + b"x" * 500 + b"</body></html>"
    server = make_server({"/": Reply(200, {"Content-Type": "text/html; charset=utf-8"}, page)})
    response = get(client, server.url("/"))
    with pytest.raises(BadUpstreamData) as info:
        response.json()
    message = info.value.message
    assert message.startswith(
        f"{SOURCE}: the answer is not JSON (Content-Type text/html; charset=utf-8; starts with '<!doctype html> <html>"
    )
    assert message.endswith("…')")
    assert len(info.value.excerpt) <= 200


def test_non_2xx_is_returned_and_raise_for_status_explains(make_server, client):
    server = make_server({"/": Reply(500, {"Content-Type": "text/plain"}, b"database is down\n" * 40)})
    response = get(client, server.url("/"))
    assert response.status == 500
    with pytest.raises(UpstreamHTTPError) as info:
        raise_for_status(response, SOURCE)
    assert info.value.upstream_status == 500
    assert info.value.message.startswith(f"{SOURCE} answered 500 Internal Server Error: database is down")
    assert len(info.value.excerpt) <= 200
    raise_for_status(get(client, make_server({"/": Json({})}).url("/")), SOURCE)


def test_401_message(make_server, client):
    server = make_server({"/": Reply(401, {}, b"")})
    with pytest.raises(UpstreamHTTPError) as info:
        raise_for_status(get(client, server.url("/")), SOURCE)
    assert info.value.message == f"{SOURCE} answered 401 Unauthorized."


def test_chunked_answer(make_server, client):
    server = make_server({"/": Chunked([b'{"a":', b" [1, 2", b"]}"], headers={"Content-Type": "application/json"})})
    assert get(client, server.url("/")).json() == {"a": [1, 2]}


# --- secrets ------------------------------------------------------------------------------------------


def test_secrets_never_appear_in_errors_urls_or_logs(make_server, make_client, client, other_ca, caplog):
    caplog.set_level(logging.DEBUG)
    auth = {"auth_headers": {"Authorization": f"Bearer {TOKEN}"}, "auth_params": {"api_key": API_KEY}}

    def echo(request):
        return 500, {"Content-Type": "text/plain"}, f"bad key {request.param('api_key')} for {request.header('authorization')}"

    server = make_server(
        {
            "/ok": Redirect("/final"),
            "/final": Json({"ok": True}),
            "/echo": echo,
            "/insecure": Redirect(f"http://127.0.0.1:1/?api_key={API_KEY}&token={TOKEN}"),
            "/slow": Sleep(5),
            "/html": Reply(200, {"Content-Type": "text/html"}, f"<p>{API_KEY} {TOKEN}</p>"),
        }
    )
    untrusted = make_server({"/": Json({})}, ca=other_ca)

    texts = []
    response = get(client, server.url("/ok"), **auth)
    texts.append(response.url)
    assert "api_key=***" in response.url

    response = get(client, server.url("/echo"), **auth)
    with pytest.raises(UpstreamHTTPError) as info:
        raise_for_status(response, SOURCE)
    texts += [info.value.message, info.value.excerpt]
    assert "bad key *** for ***" in info.value.message

    with pytest.raises(BadUpstreamData) as info_json:
        get(client, server.url("/html"), **auth).json()
    texts += [info_json.value.message, info_json.value.excerpt]

    failing = [
        (server.url("/insecure"), InsecureURL),
        (server.url("/slow"), UpstreamTimeout),
        (untrusted.url("/") + f"?token={TOKEN}", TLSFailure),
        (f"https://127.0.0.1:{free_port()}/?x={API_KEY}", ConnectFailure),
    ]
    for url, error in failing:
        with pytest.raises(error) as info_fail:
            get(client, url, timeout_seconds=1, secrets=[TOKEN], **auth)
        texts.append(info_fail.value.message)
        texts.append(str(info_fail.value))

    blocked = make_client(allowed=())
    with pytest.raises(BlockedAddress) as info_blocked:
        get(blocked, server.url("/final") + f"?k={API_KEY}", **auth)
    texts.append(info_blocked.value.message)

    records = caplog.records
    assert any(r.name.startswith("urllib3") for r in records), "urllib3 logs the request line with the query"
    assert any("api_key=***" in r.getMessage() for r in records if r.name.startswith("urllib3"))
    for record in records:
        texts.append(record.getMessage())
        texts.append(record.exc_text or "")
    for text in texts:
        assert API_KEY not in text
        assert TOKEN not in text
    assert server.requests[0].param("api_key") == API_KEY  # the secret did go where it belongs


# --- concurrency ------------------------------------------------------------------------------------------


def test_concurrent_calls_share_one_client(make_server, client):
    def answer(request):
        return 200, {"Content-Type": "application/json"}, f'{{"n": {request.param("n")}}}'

    server = make_server({"/n": answer, "/slow": Sleep(5)})
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def worker(i):
        try:
            if i % 4 == 0:
                try:
                    get(client, server.url("/slow"), timeout_seconds=0.5)
                except UpstreamTimeout:
                    results[i] = "timeout"
                return
            results[i] = get(client, server.url("/n"), params={"n": i}, auth_params={"k": f"secret-{i:04d}"}).json()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    for i in range(12):
        assert results[i] == ("timeout" if i % 4 == 0 else {"n": i})


def test_apps_share_a_bundles_context_and_a_replaced_bundle_is_read_again(make_client, make_server, ca,
                                                                          other_ca, tmp_path):
    import os

    from tests.support.https_servers import write_ca_pem

    bundle = tmp_path / "operator-ca.pem"
    write_ca_pem(other_ca, bundle)
    assert build_ssl_context(OutboundPolicy(ca_bundle=str(bundle))) is \
        build_ssl_context(OutboundPolicy(ca_bundle=str(bundle)))
    server = make_server({"/": Json({"ok": True})})  # certified by ``ca``, not yet in the bundle
    with pytest.raises(TLSFailure):
        get(make_client(ca_bundle=str(bundle)), server.url("/"))

    write_ca_pem(ca, bundle)  # the operator replaces the bundle
    stat = bundle.stat()
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert get(make_client(ca_bundle=str(bundle)), server.url("/")).json() == {"ok": True}
