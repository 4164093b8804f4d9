"""Fixtures for the outbound tests: a test CA, loopback HTTPS servers, clients.

Every server here listens on a loopback address; no test sends traffic anywhere
else (the address guard's decisions on other addresses are tested as pure
function calls in test_guard.py).
"""

from __future__ import annotations

import pytest

from connect_plugin.outbound import OutboundClient, OutboundPolicy
from tests.support.https_servers import HTTPSServer, make_ca, write_ca_pem


@pytest.fixture(scope="session")
def ca():
    return make_ca()


@pytest.fixture(scope="session")
def ca_bundle(ca, tmp_path_factory) -> str:
    return write_ca_pem(ca, tmp_path_factory.mktemp("ca") / "ca.pem")


@pytest.fixture(scope="session")
def other_ca():
    """A CA the clients do not trust."""
    return make_ca()


@pytest.fixture
def make_server(ca):
    """``make_server(routes, **kwargs)`` starts an HTTPSServer (stopped after the test)."""
    servers: list[HTTPSServer] = []

    def factory(routes=None, **kwargs) -> HTTPSServer:
        kwargs.setdefault("ca", ca)
        server = HTTPSServer(routes=routes, **kwargs).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def make_client(ca_bundle):
    """``make_client(allowed=("127.0.0.1",), **policy_kwargs)``; CA bundle set."""
    clients: list[OutboundClient] = []

    def factory(allowed=("127.0.0.1",), resolver=None, **policy_kwargs) -> OutboundClient:
        policy_kwargs.setdefault("ca_bundle", ca_bundle)
        client = OutboundClient(OutboundPolicy(allowed=allowed, **policy_kwargs), resolver=resolver)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client) -> OutboundClient:
    """Trusts the test CA and allows 127.0.0.1."""
    return make_client()
