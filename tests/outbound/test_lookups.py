"""Issue 13 rule 12: name resolution is isolated per datasource.

The resolver is a stand-in (no DNS is ever asked): it maps ``*.example.test`` names
to 127.0.0.1 and hangs for the names a test says, until the test ends. Calls go to
real HTTPS servers on loopback whose certificates name those hosts.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from connect_plugin.errors import ResolveFailure, UpstreamTimeout
from tests.support.https_servers import Json

HEALTHY = "people.example.test"


class HangingResolver:
    """getaddrinfo for tests: ``hangs`` never answer until ``release()``; any other
    ``*.example.test`` name is 127.0.0.1; everything else does not exist."""

    def __init__(self, hangs=lambda host: host.startswith("hang")):
        self.hangs = hangs
        self.released = threading.Event()
        self._lock = threading.Lock()
        self.asked: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        with self._lock:
            self.asked.append(host)
        if self.hangs(host):
            self.released.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if not host.endswith(".example.test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    def count(self, predicate) -> int:
        with self._lock:
            return sum(1 for host in self.asked if predicate(host))

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def resolver():
    fake = HangingResolver()
    yield fake
    fake.release()


def call(client, host, port, source, timeout=0.5):
    started = time.monotonic()
    try:
        response = client.request("GET", f"https://{host}:{port}/", source=source, timeout_seconds=timeout)
        outcome = response.json()
    except (UpstreamTimeout, ResolveFailure) as exc:
        outcome = exc
    return outcome, time.monotonic() - started


def test_a_datasource_whose_dns_hangs_does_not_delay_the_others(make_server, make_client, resolver):
    server = make_server({"/": Json({"ok": True})}, hostnames=(HEALTHY, "hang.example.test"))
    client = make_client(resolver=resolver)
    with ThreadPoolExecutor(24) as pool:  # 24 callers of the hanging datasource at once
        hanging = list(pool.map(lambda _i: call(client, "hang.example.test", server.port, "Hanging API"),
                                range(24)))
    for outcome, seconds in hanging:
        assert isinstance(outcome, UpstreamTimeout) and seconds < 1.5, (outcome, seconds)

    for _ in range(3):
        outcome, seconds = call(client, HEALTHY, server.port, "People API", timeout=2)
        assert outcome == {"ok": True}, outcome
        assert seconds < 1, f"the healthy datasource answered after {seconds:.2f} s"
    # The hanging lookups shared one resolver call: one thread waits for that name server.
    assert resolver.count(lambda host: host == "hang.example.test") == 1


def test_one_datasource_keeps_few_lookup_threads_however_many_names(make_server, make_client, resolver):
    """A datasource asking for many names that all hang (a redirect chain, a token
    host, ...) holds a few lookup threads; its next lookups are refused at once."""
    server = make_server({"/": Json({"ok": True})}, hostnames=(HEALTHY,))
    client = make_client(resolver=resolver)
    with ThreadPoolExecutor(30) as pool:
        hanging = list(pool.map(lambda i: call(client, f"hang{i}.example.test", server.port, "Hanging API"),
                                range(30)))
    refused = [outcome for outcome, seconds in hanging if isinstance(outcome, ResolveFailure)]
    assert resolver.count(lambda host: host.startswith("hang")) <= 4
    assert len(refused) >= 26
    assert "Hanging API: the host name hang" in refused[0].message
    assert "lookups of this datasource are still waiting" in refused[0].message

    outcome, seconds = call(client, HEALTHY, server.port, "People API", timeout=2)
    assert outcome == {"ok": True} and seconds < 1, (outcome, seconds)


def test_a_queued_lookup_whose_caller_left_never_runs(resolver):
    from connect_plugin.outbound.lookups import Lookups

    lookups = Lookups(resolver, threads=1)
    try:
        with pytest.raises(TimeoutError):  # takes the only thread, and keeps it
            lookups.resolve("hang.example.test", 443, source="Hanging API", timeout=0.2)
        with pytest.raises(TimeoutError):  # queued behind it; its caller leaves
            lookups.resolve(HEALTHY, 443, source="People API", timeout=0.2)
        resolver.release()
        time.sleep(0.2)
        assert resolver.asked == ["hang.example.test"], "the abandoned lookup was skipped"
        answer = lookups.resolve(HEALTHY, 443, source="People API", timeout=2)
        assert answer[0][4] == ("127.0.0.1", 443)
    finally:
        lookups.close()
