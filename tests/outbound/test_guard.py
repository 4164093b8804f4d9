"""The address guard and URL checks, as pure function calls: no sockets here."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connect_plugin.errors import BlockedAddress, ValidationError
from connect_plugin.outbound import (
    OutboundPolicy,
    address_is_public,
    check_address,
    parse_ip_literal,
    refuse_literal_private_host,
    validate_https_url,
)
from connect_plugin.outbound.guard import NEED_HOST, NO_USERINFO, ONLY_HTTPS

NOT_PUBLIC = [
    # IPv4
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "0.0.0.0",
    "0.1.2.3",  # 0.0.0.0/8
    "192.0.0.1",
    "192.0.2.1",  # documentation
    "198.51.100.1",
    "203.0.113.1",
    "198.18.0.1",  # benchmarking
    "198.19.255.255",
    "192.88.99.1",  # 6to4 relay anycast
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    # IPv6
    "::1",
    "::",
    "fe80::1",
    "fe80::1%1",
    "fc00::1",
    "fd00::1",
    "fd00:ec2::254",  # EC2 metadata over IPv6
    "fec0::1",  # site-local
    "ff02::1",  # multicast
    "2001:db8::1",  # documentation
    "3fff::1",
    "2001:2::1",  # benchmarking
    "2001:20::1",  # ORCHIDv2
    "100::1",  # discard
    "5f00::1",
    "64:ff9b:1::1",
    # IPv6 forms embedding a non-public IPv4
    "::ffff:127.0.0.1",
    "::ffff:10.1.2.3",
    "::ffff:169.254.169.254",
    "::ffff:7f00:1",
    "::127.0.0.1",  # IPv4-compatible
    "::169.254.169.254",
    "64:ff9b::127.0.0.1",  # NAT64
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::10.0.0.1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:0:7f00:1:0:0:80ff:fffe",  # Teredo, server 127.0.0.1 (client 127.0.0.1 obfuscated)
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",
    "172.32.0.0",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_not_public(address):
    assert address_is_public(address) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_public(address):
    assert address_is_public(address) is True


def test_accepts_ip_objects_ints_and_brackets():
    assert address_is_public(ipaddress.ip_address("127.0.0.1")) is False
    assert address_is_public(2130706433) is False  # 127.0.0.1 as an int
    assert address_is_public(0x08080808) is True
    assert address_is_public("[::1]") is False


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_embedded_ipv4_forms_are_judged_like_the_ipv4_address(value):
    v4 = ipaddress.IPv4Address(value)
    expected = address_is_public(v4)
    assert address_is_public(ipaddress.IPv6Address(f"::ffff:{v4}")) == expected
    assert address_is_public(ipaddress.IPv6Address(f"64:ff9b::{v4}")) == expected
    if not expected:
        # 6to4 and IPv4-compatible forms of a non-public address are never public.
        six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | 1)
        assert address_is_public(six_to_four) is False
        assert address_is_public(ipaddress.IPv6Address(value)) is False


# --- literal spellings -------------------------------------------------------------


@pytest.mark.parametrize(
    "host, expected",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("[fe80::1%25eth0]", "fe80::1"),  # zone dropped
        ("api.example.com", None),
        ("deadbeef", None),
        ("1.2.3.4 evil", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_ip_literal(host, expected):
    result = parse_ip_literal(host)
    assert (str(result) if result is not None else None) == expected


# --- check_address --------------------------------------------------------------------


def test_check_address_message():
    with pytest.raises(BlockedAddress) as info:
        check_address("internal.example.com", "10.0.0.7", OutboundPolicy(), source="Assets API")
    assert info.value.message == (
        "Assets API: internal.example.com resolves to 10.0.0.7, an address datasources may not reach "
        "(a private, loopback or reserved address). An operator can allow it with CONNECT_ALLOWED_HOSTS."
    )
    assert info.value.status == 502


def test_public_addresses_pass_without_policy():
    check_address("api.example.com", "8.8.8.8", OutboundPolicy())


@pytest.mark.parametrize("host", ["internal.example.com", "INTERNAL.example.com", "internal.example.com."])
def test_allowed_by_exact_host_name(host):
    policy = OutboundPolicy(allowed=["internal.example.com"])
    check_address(host, "10.0.0.7", policy)


@pytest.mark.parametrize(
    "host",
    [
        "internal.example.com.evil.net",
        "evil-internal.example.com",
        "xinternal.example.com",
        "sub.internal.example.com",
        "internal.example.co",
        "example.com",
    ],
)
def test_host_names_never_match_by_prefix_or_suffix(host):
    policy = OutboundPolicy(allowed=["internal.example.com"])
    with pytest.raises(BlockedAddress):
        check_address(host, "10.0.0.7", policy)


def test_allowed_by_ip_and_cidr():
    policy = OutboundPolicy(allowed="10.0.0.7, 192.168.0.0/16, fd00:1::/32")
    check_address("a.example", "10.0.0.7", policy)
    check_address("a.example", "192.168.44.1", policy)
    check_address("a.example", "fd00:1::5", policy)
    with pytest.raises(BlockedAddress):
        check_address("a.example", "10.0.0.8", policy)
    with pytest.raises(BlockedAddress):
        check_address("a.example", "fd00:2::5", policy)


def test_ipv4_mapped_address_compared_as_ipv4():
    policy = OutboundPolicy(allowed="10.0.0.0/8, 127.0.0.1")
    check_address("a.example", "::ffff:10.1.2.3", policy)
    check_address("a.example", "::ffff:127.0.0.1", policy)
    with pytest.raises(BlockedAddress):
        check_address("a.example", "::ffff:192.168.1.1", policy)


def test_allowing_an_ip_does_not_allow_its_host_name_elsewhere():
    policy = OutboundPolicy(allowed=["127.0.0.1"])
    with pytest.raises(BlockedAddress):
        check_address("localhost", "::1", policy)
    policy = OutboundPolicy(allowed=["localhost"])
    check_address("localhost", "::1", policy)
    with pytest.raises(BlockedAddress):
        check_address("127.0.0.1", "127.0.0.1", policy)


# --- validate_https_url ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com",
        "https://api.example.com/v1/items?x=1",
        "HTTPS://API.example.com:8443/x",
        "https://api.example.com/x#fragment",
        "https://10.0.0.1/x",
        "https://[2001:db8::1]:443/x",
        "https://bücher.example/x",
        "  https://api.example.com/padded  ",
    ],
)
def test_valid_urls(url):
    validate_https_url(url, "base_url")


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://api.example.com", ONLY_HTTPS),
        ("ftp://api.example.com", ONLY_HTTPS),
        ("javascript:alert(1)", ONLY_HTTPS),
        ("api.example.com/v1", NEED_HOST),
        ("//api.example.com/v1", NEED_HOST),
        ("https://", NEED_HOST),
        ("https:///path", NEED_HOST),
        ("", NEED_HOST),
        (None, NEED_HOST),
        ("https://user:pw@api.example.com", NO_USERINFO),
        ("https://token@api.example.com", NO_USERINFO),
        ("https://api.example.com:99999/", "The port in the URL is not valid"),
        ("https://api.example.com:0/", "The port in the URL is not valid"),
        ("https://api.exa mple.com/", "The URL contains spaces or control characters"),
        ("https://api.example.com/\r\nX-Injected: 1", "The URL contains spaces or control characters"),
        ("https://bad_host!.example/", "The host name in the URL is not valid"),
        ("https://[not-ipv6]/", None),
    ],
)
def test_invalid_urls(url, message):
    with pytest.raises(ValidationError) as info:
        validate_https_url(url, "base_url")
    assert set(info.value.fields) == {"base_url"}
    if message is not None:
        assert info.value.fields["base_url"] == message
    assert info.value.status == 400


def test_field_defaults_to_url():
    with pytest.raises(ValidationError) as info:
        validate_https_url("http://x.example")
    assert info.value.fields == {"url": ONLY_HTTPS}


# --- refuse_literal_private_host -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://2130706433/x",
        "https://0x7f000001/x",
        "https://0x7f.1/x",
        "https://127.1/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://100.64.0.1/",
        "https://10.0.0.1/",
        "https://localhost/",
        "https://LOCALHOST./",
        "https://app.localhost/",
    ],
)
def test_literal_private_hosts_are_refused_at_save_time(url):
    with pytest.raises(ValidationError) as info:
        refuse_literal_private_host(url, OutboundPolicy(), "base_url")
    assert "CONNECT_ALLOWED_HOSTS" in info.value.fields["base_url"]


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("https://8.8.8.8/x", ()),
        ("https://api.example.com/x", ()),  # names are judged at connect time
        ("https://10.0.0.1/x", ("10.0.0.0/8",)),
        ("https://127.1/x", ("127.0.0.1",)),
        ("https://localhost/x", ("localhost",)),
        ("https://[::1]/x", ("::1",)),
    ],
)
def test_literal_hosts_allowed_by_policy_or_public(url, allowed):
    refuse_literal_private_host(url, OutboundPolicy(allowed=allowed), "base_url")


# --- OutboundPolicy ----------------------------------------------------------------------


def test_policy_from_config_string_and_defaults():
    policy = OutboundPolicy.from_config(
        {"CONNECT_ALLOWED_HOSTS": " Internal.Example.com. , 10.0.0.5,192.168.0.0/16 ,[::1], fd00::/8"}
    )
    assert policy.allowed_hosts == {"internal.example.com"}
    assert policy.allowed_ips == {ipaddress.ip_address("10.0.0.5"), ipaddress.ip_address("::1")}
    assert policy.allowed_networks == (
        ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert policy.ca_bundle is None
    assert policy.max_response_bytes == 10485760
    assert policy.max_redirects == 5


def test_policy_from_config_list_and_numbers(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here")
    policy = OutboundPolicy.from_config(
        {
            "CONNECT_ALLOWED_HOSTS": ["a.example", "10.0.0.0/8"],
            "CONNECT_CA_BUNDLE": str(bundle),
            "CONNECT_MAX_RESPONSE_BYTES": "2048",
        }
    )
    assert policy.allowed_hosts == {"a.example"}
    assert policy.ca_bundle == str(bundle)
    assert policy.max_response_bytes == 2048
    assert OutboundPolicy.from_config({}).allowed == ()


@pytest.mark.parametrize(
    "entry",
    [
        "10.0.0.1/8",  # host bits set
        "10.0.0.0/33",
        "*.example.com",
        "https://api.example.com",
        "api.example.com:8443",
        "api.example.com/path",
        "bad_host!",
        "0.0.0.0/0",
        "::/0",
    ],
)
def test_policy_rejects_invalid_entries_naming_them(entry):
    with pytest.raises(ValueError) as info:
        OutboundPolicy.from_config({"CONNECT_ALLOWED_HOSTS": f"ok.example, {entry}"})
    assert repr(entry) in str(info.value)


@pytest.mark.parametrize(
    "config, word",
    [
        ({"CONNECT_CA_BUNDLE": "/nonexistent/ca.pem"}, "CONNECT_CA_BUNDLE"),
        ({"CONNECT_MAX_RESPONSE_BYTES": "ten"}, "CONNECT_MAX_RESPONSE_BYTES"),
        ({"CONNECT_MAX_RESPONSE_BYTES": 0}, "CONNECT_MAX_RESPONSE_BYTES"),
        ({"CONNECT_ALLOWED_HOSTS": 42}, "CONNECT_ALLOWED_HOSTS"),
    ],
)
def test_policy_rejects_invalid_settings(config, word):
    with pytest.raises(ValueError, match=word):
        OutboundPolicy.from_config(config)


def test_policy_is_frozen():
    policy = OutboundPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'max_redirects'"):
        policy.max_redirects = 50  # type: ignore[misc]
