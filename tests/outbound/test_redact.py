"""Redactor, the process-wide registry and the logging filter."""

from __future__ import annotations

import base64
import logging
import sys
import threading
import uuid

from connect_plugin.outbound import redact as redact_mod
from connect_plugin.outbound.log_redaction import RedactingFilter, install_log_redaction, log_filter
from connect_plugin.outbound.redact import (
    Redactor,
    redact_known,
    redact_url,
    register_secret,
)


def unique(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def test_masks_each_secret():
    r = Redactor(["hunter22", "tok-abcdef"])
    assert r.redact("pw hunter22 and tok-abcdef.") == "pw *** and ***."


def test_longest_secret_first():
    r = Redactor(["abcd", "abcdefgh"])
    assert r.redact("x abcdefgh y abcd") == "x *** y ***"


def test_short_values_are_ignored():
    r = Redactor(["abc", "", "x"])
    assert len(r) == 0
    assert r.redact("abc abc") == "abc abc"


def test_url_encoded_forms():
    secret = "p@ss word/1+2"
    r = Redactor([secret])
    for form in ("p%40ss%20word%2F1%2B2", "p%40ss+word%2F1%2B2", "p%40ss%20word/1%2B2"):
        assert r.redact(f"url?k={form}&x=1") == "url?k=***&x=1"


def test_basic_auth_forms():
    r = Redactor()
    r.add_basic("alice", "s3cret-pw")
    encoded = base64.b64encode(b"alice:s3cret-pw").decode()
    assert r.redact(f"Authorization: Basic {encoded}") == "Authorization: Basic ***"
    assert r.redact("alice:s3cret-pw") == "***"
    assert r.redact("pw=s3cret-pw") == "pw=***"


def test_header_values_mask_scheme_credentials():
    r = Redactor()
    r.add_header_value("Bearer tok-0123456789")
    assert r.redact("got token tok-0123456789 from header") == "got token *** from header"
    encoded = base64.b64encode(b"bob:pa55word!").decode()
    r.add_header_value(f"Basic {encoded}")
    assert r.redact("password pa55word! rejected") == "password *** rejected"
    assert r.redact(encoded) == "***"


def test_redact_url_named_params_and_userinfo():
    r = Redactor()
    url = "https://u:pw@api.example.com/v1?API_KEY=abc&q=shoes&token=t%20x#frag"
    assert (
        r.redact_url(url, secret_params=["api_key", "token"])
        == "https://u:***@api.example.com/v1?API_KEY=***&q=shoes&token=***#frag"
    )


def test_redact_url_also_masks_known_secrets_elsewhere():
    r = Redactor(["zz-secret-path"])
    assert r.redact_url("https://h/a/zz-secret-path/b?x=1") == "https://h/a/***/b?x=1"


def test_registry_and_module_level_helpers():
    secret = unique("reg")
    assert redact_known(f"a {secret} b") == f"a {secret} b"
    register_secret(secret)
    register_secret("abc")  # too short: ignored
    assert redact_known(f"a {secret} b") == "a *** b"
    assert redact_known("abc") == "abc"
    assert redact_url(f"https://h/?k={secret}") == "https://h/?k=***"


def test_registry_is_thread_safe():
    secrets = [unique(f"t{i}") for i in range(200)]

    def add(chunk):
        for value in chunk:
            register_secret(value)
            redact_known(value)

    threads = [threading.Thread(target=add, args=(secrets[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(redact_known(value) == "***" for value in secrets)


def _record(msg, args=(), exc_info=None, name="urllib3.connectionpool"):
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, exc_info)


def test_filter_rewrites_message_and_args():
    r = Redactor(["key-123456"])
    f = RedactingFilter(lambda: r)
    record = _record('%s://%s:%s "%s %s" %s', ("https", "h", 443, "GET", "/x?api_key=key-123456", 200))
    assert f.filter(record) is True
    assert record.getMessage() == 'https://h:443 "GET /x?api_key=***" 200'


def test_filter_rewrites_traceback_text():
    r = Redactor(["key-abcdef"])
    try:
        raise RuntimeError("failed for key-abcdef")
    except RuntimeError:
        record = _record("boom", exc_info=sys.exc_info())
    RedactingFilter(lambda: r).filter(record)
    assert "key-abcdef" not in record.exc_text
    assert "failed for ***" in record.exc_text
    assert "key-abcdef" not in logging.Formatter().format(record)


def test_filter_leaves_other_records_alone():
    r = Redactor(["key-abcdef"])
    record = _record("count %d", (3,))
    RedactingFilter(lambda: r).filter(record)
    assert record.args == (3,)
    assert record.getMessage() == "count 3"


def test_install_is_idempotent_and_covers_child_loggers(caplog):
    import urllib3.connectionpool  # noqa: F401 - make sure the child logger exists

    install_log_redaction()
    install_log_redaction()
    for name in ("connect_plugin", "urllib3", "requests", "urllib3.connectionpool"):
        filters = logging.getLogger(name).filters
        assert filters.count(log_filter()) == 1, name

    secret = unique("log")
    register_secret(secret)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3.connectionpool").debug("GET /x?api_key=%s", secret)
    logging.getLogger("connect_plugin.somewhere").info("token %s", secret)
    messages = [rec.getMessage() for rec in caplog.records]
    assert "GET /x?api_key=***" in messages
    assert all(secret not in m for m in messages)


def test_install_covers_root_handlers():
    handler = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_redaction()
        assert log_filter() in handler.filters
        if logging.lastResort is not None:
            assert log_filter() in logging.lastResort.filters
    finally:
        root.removeHandler(handler)


SLASHY = "s3cr/et<&>'\"é-9f2a"


def test_the_forms_an_upstream_echoes_back_are_masked():
    import html
    import json
    from urllib.parse import quote

    r = Redactor([SLASHY])
    echoes = [
        json.dumps(SLASHY)[1:-1],  # \"  and \u00e9
        json.dumps(SLASHY)[1:-1].replace("/", "\\/"),  # PHP's json_encode escapes / too
        json.dumps(SLASHY, ensure_ascii=False)[1:-1],
        html.escape(SLASHY), html.escape(SLASHY).replace("&#x27;", "&#39;"),
        quote(SLASHY, safe=""),
        base64.b64encode(SLASHY.encode()).decode(), base64.urlsafe_b64encode(SLASHY.encode()).decode().rstrip("="),
    ]
    for echo in echoes:
        assert r.redact(f'{{"error": "bad key {echo}"}}') == '{"error": "bad key ***"}', echo


def test_an_upstream_error_echoing_an_escaped_secret_is_masked_in_the_message(make_server, client):
    import json

    from connect_plugin.errors import UpstreamHTTPError
    from connect_plugin.outbound import raise_for_status
    from tests.support.https_servers import Reply

    secret = "tok/SECRET\"7c1e"
    body = json.dumps({"error": f"unknown token {secret}"}).replace("/", "\\/")
    server = make_server({"/": Reply(401, {"Content-Type": "application/json"}, body)})
    response = client.request("GET", server.url("/"), source="Assets API", timeout_seconds=5,
                              auth_headers={"Authorization": f"Bearer {secret}"})
    try:
        raise_for_status(response)
    except UpstreamHTTPError as exc:
        message, excerpt = exc.message, exc.excerpt
    assert message == 'Assets API answered 401 Unauthorized: {"error": "unknown token ***"}'
    assert excerpt == '{"error": "unknown token ***"}'


def test_the_tester_masks_before_it_cuts():
    from connect_plugin.connected_items.tester import _excerpt
    from connect_plugin.outbound.response import UpstreamResponse

    secret = "cut-SECRET-0a1b2c3d"
    body = ("x" * 1990 + secret + "y" * 100).encode()
    response = UpstreamResponse(status=200, headers={}, body=body, url="https://h/", elapsed_ms=1, redirects=0,
                                _redactor=Redactor([secret]))
    shown = _excerpt(response)
    assert shown == "x" * 1990 + "***" + "y" * 7
    assert secret[:-1] not in shown and secret[:8] not in shown


def test_a_short_secret_keeps_its_long_url_encoded_form_masked():
    r = Redactor(["a&b"])  # too short on its own; "a%26b" is long enough
    assert r.redact("k=a%26b") == "k=***"
    assert r.redact("a&b") == "a&b"


# --- the process-wide registry stays bounded (issue 13, rule 4) ----------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_process_wide_registry_is_bounded():
    assert isinstance(redact_mod.known_secrets(), redact_mod.SecretRegistry)


def test_a_secret_no_longer_sent_leaves_the_registry():
    clock = FakeClock()
    registry = redact_mod.SecretRegistry(retain_seconds=600, clock=clock)
    expired, in_use = unique("expired-token"), unique("live-token")
    registry.add(expired)
    registry.add(in_use)
    clock.now += 400
    registry.add(in_use)  # sent again: it stays
    clock.now += 400
    assert registry.redact(f"{expired} {in_use}") == f"{expired} ***"
    assert expired not in registry
    assert in_use in registry


def test_the_registry_holds_at_most_max_forms_and_keeps_the_recent_ones():
    registry = redact_mod.SecretRegistry(max_forms=500)
    tokens = [unique("tok") for _ in range(2000)]
    for token in tokens:
        registry.update(Redactor([token]))
    assert len(registry) <= 500
    assert registry.redact(tokens[-1]) == "***"
    assert registry.redact(tokens[0]) == tokens[0]


def test_many_secrets_still_mask_leftmost_then_longest():
    """Above the small-set size the registry matches with an automaton; its choice
    is the one the regular expression made: leftmost, then longest."""
    secrets = [f"key-{i:05d}-secret" for i in range(1000)] + ["key-00007-secret-and-more", "abcd"]
    registry = redact_mod.SecretRegistry()
    for secret in secrets:
        registry.add(secret)
    text = "a key-00007-secret-and-more b key-00007-secret c abcdkey-00999-secret é😀abcd"
    assert registry.redact(text) == "a *** b *** c ****** é😀***"
    small = Redactor(["key-00007-secret-and-more", "key-00007-secret", "key-00999-secret", "abcd"])
    assert small.redact(text) == registry.redact(text)
