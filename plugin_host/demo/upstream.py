"""The demo's sample API: a small threaded HTTPS server on loopback (standard library only).

Endpoints, all JSON, under ``/api``:

* ``GET /api/`` — what this API offers (the datasource's "API Documentation" link).
* ``GET /api/health`` -> ``{"status": "ok"}``
* ``GET /api/assets?owner=<email>&q=<text>`` -> ``{"items": [{"id", "name", "serial", "owner",
  "type"}, ...]}``. Needs the header ``X-Api-Key: demo-key-123`` (401 otherwise).
  ``owner`` keeps one owner's assets; ``q`` keeps assets whose name or serial holds
  the text (case-insensitive), or whose serial is a word of the text (so an issue
  summary such as "Laptop C02XK1 does not charge" finds its asset).
* ``GET /api/assets/paged?page=1&per_page=10`` -> every asset, one page of them per call, as a
  bare array with GitHub's ``Link: </api/assets/paged?page=2&per_page=10>; rel="next"``
  header (``rel="next"`` is left out on the last page). Needs the API key too.
* ``GET /api/continents`` -> ``[{"code": "EU", "name": "Europe"}, ...]``
* ``GET /api/countries?continent=EU`` -> ``{"countries": [{"code": "FR", "name": "France"}, ...]}``
* ``GET /api/search?jql=<text>`` -> Jira-shaped ``{"issues": [{"key", "fields": {"summary", ...}}],
  "total": N}``: the issues sharing a word of four letters or more with the text
  (all of them for an empty text).

Run it alone::

    python -m plugin_host.demo.upstream --port 8443 --cert-dir instance/demo-tls

(``--port 0`` picks a free port; the first line printed is ``LISTENING <port>``), or
in-process::

    upstream = DemoUpstream("instance/demo-tls").start()
    upstream.base_url   # https://127.0.0.1:<port>/api
    upstream.stop()
"""

from __future__ import annotations

import argparse
import hmac
import json
import re
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .certs import CertPaths, ensure_certs

API_KEY_HEADER = "X-Api-Key"
API_KEY = "demo-key-123"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

# --- the data -----------------------------------------------------------------------

_ASSET_ROWS = [
    # id, name, serial, owner, type
    ("A-1001", "MacBook Pro 14", "C02XK1", "alice@example.com", "Laptop"),
    ("A-1002", "Dell UltraSharp U2723QE", "CN0F4X", "alice@example.com", "Monitor"),
    ("A-1003", "iPhone 15", "F2LZQ8", "alice@example.com", "Phone"),
    ("A-1004", "Logitech MX Keys", "2149LZ", "alice@example.com", "Keyboard"),
    ("A-1005", "Jabra Evolve2 65", "JB65A7", "alice@example.com", "Headset"),
    ("A-1006", "CalDigit TS4 Dock", "TS4K19", "alice@example.com", "Docking station"),
    ("A-1007", "iPad Air 11", "DMPX3K", "alice@example.com", "Tablet"),
    ("A-1008", "YubiKey 5C NFC", "YK5C81", "alice@example.com", "Security key"),
    ("A-1011", "Lenovo ThinkPad X1 Carbon", "PF3BQ2", "bob@example.com", "Laptop"),
    ("A-1012", "LG 27UK850 Monitor", "LG27K5", "bob@example.com", "Monitor"),
    ("A-1013", "LG 27UK850 Monitor", "LG27K6", "bob@example.com", "Monitor"),
    ("A-1014", "Google Pixel 8", "PX8B44", "bob@example.com", "Phone"),
    ("A-1015", "Lenovo ThinkPad USB-C Dock", "TPD40A", "bob@example.com", "Docking station"),
    ("A-1016", "Poly Voyager Focus 2", "PVF2B3", "bob@example.com", "Headset"),
    ("A-1017", "Logitech MX Master 3S", "MX3S07", "bob@example.com", "Mouse"),
    ("A-1018", "YubiKey 5 NFC", "YK5N22", "bob@example.com", "Security key"),
    ("A-1021", "MacBook Air 13", "C02ZD7", "admin@example.com", "Laptop"),
    ("A-1022", "Dell XPS 15", "XPS15H", "admin@example.com", "Laptop"),
    ("A-1023", "Samsung Odyssey G7", "SMG7Q1", "admin@example.com", "Monitor"),
    ("A-1024", "iPhone 14", "F17Y2K", "admin@example.com", "Phone"),
    ("A-1025", "Raspberry Pi 5 (lab)", "RPI5L1", "admin@example.com", "Single-board computer"),
    ("A-1026", "HP LaserJet Pro M404dn", "VNB3R2", "admin@example.com", "Printer"),
    ("A-1031", "Dell Latitude 7440", "DL7440", "carol@example.com", "Laptop"),
    ("A-1032", "Dell P2422H Monitor", "CN0P24", "carol@example.com", "Monitor"),
    ("A-1033", "Dell P2422H Monitor", "CN0P25", "carol@example.com", "Monitor"),
    ("A-1034", "Samsung Galaxy S23", "R58T1C", "carol@example.com", "Phone"),
    ("A-1035", "Microsoft Surface Pro 9", "SP9X02", "carol@example.com", "Tablet"),
    ("A-1036", "Dell WD19S Dock", "WD19S3", "carol@example.com", "Docking station"),
    ("A-1037", "Sennheiser SC 660", "SC660A", "carol@example.com", "Headset"),
    ("A-1038", "Apple Magic Keyboard", "MK2Q91", "carol@example.com", "Keyboard"),
    ("A-1039", "YubiKey 5C Nano", "YK5C90", "carol@example.com", "Security key"),
    ("A-1041", "MacBook Pro 16", "C02YH4", "dan@example.com", "Laptop"),
    ("A-1042", "Apple Studio Display", "SD27A1", "dan@example.com", "Monitor"),
    ("A-1043", "iPhone 15 Pro", "F2M8N4", "dan@example.com", "Phone"),
    ("A-1044", "Wacom Intuos Pro", "WIP5M2", "dan@example.com", "Drawing tablet"),
    ("A-1045", "Bose QuietComfort 45", "BQC45D", "dan@example.com", "Headset"),
    ("A-1046", "Elgato Stream Deck", "ESD15K", "dan@example.com", "Accessory"),
    ("A-1047", "Logitech Brio 4K", "BRIO4K", "dan@example.com", "Webcam"),
    ("A-1048", "Anker PowerExpand Dock", "AX8N13", "dan@example.com", "Docking station"),
    ("A-1049", "Kindle Paperwhite", "KPW5G7", "dan@example.com", "E-reader"),
]
ASSETS: list[dict[str, str]] = [
    {"id": i, "name": n, "serial": s, "owner": o, "type": t} for i, n, s, o, t in _ASSET_ROWS
]

CONTINENTS: list[dict[str, str]] = [
    {"code": "AF", "name": "Africa"},
    {"code": "AS", "name": "Asia"},
    {"code": "EU", "name": "Europe"},
    {"code": "NA", "name": "North America"},
    {"code": "OC", "name": "Oceania"},
    {"code": "SA", "name": "South America"},
]
_COUNTRIES: dict[str, list[tuple[str, str]]] = {
    "AF": [("DZ", "Algeria"), ("EG", "Egypt"), ("GH", "Ghana"), ("KE", "Kenya"), ("MA", "Morocco"),
           ("NG", "Nigeria"), ("SN", "Senegal"), ("ZA", "South Africa")],
    "AS": [("CN", "China"), ("IN", "India"), ("ID", "Indonesia"), ("JP", "Japan"), ("KR", "South Korea"),
           ("SG", "Singapore"), ("TH", "Thailand"), ("VN", "Vietnam")],
    "EU": [("AT", "Austria"), ("BE", "Belgium"), ("DK", "Denmark"), ("FI", "Finland"), ("FR", "France"),
           ("DE", "Germany"), ("IE", "Ireland"), ("IT", "Italy"), ("NL", "Netherlands"), ("PL", "Poland"),
           ("PT", "Portugal"), ("ES", "Spain"), ("SE", "Sweden"), ("CH", "Switzerland"),
           ("GB", "United Kingdom")],
    "NA": [("CA", "Canada"), ("CR", "Costa Rica"), ("CU", "Cuba"), ("MX", "Mexico"), ("PA", "Panama"),
           ("US", "United States")],
    "OC": [("AU", "Australia"), ("FJ", "Fiji"), ("NZ", "New Zealand"), ("PG", "Papua New Guinea"),
           ("WS", "Samoa")],
    "SA": [("AR", "Argentina"), ("BO", "Bolivia"), ("BR", "Brazil"), ("CL", "Chile"), ("CO", "Colombia"),
           ("EC", "Ecuador"), ("PE", "Peru"), ("UY", "Uruguay")],
}
COUNTRIES: dict[str, list[dict[str, str]]] = {
    continent: [{"code": c, "name": n} for c, n in rows] for continent, rows in _COUNTRIES.items()
}

_ISSUE_ROWS = [
    ("OPS-3", "Laptop battery swollen, replacement needed", "Done"),
    ("OPS-5", "Onboarding checklist: laptop, badge and accounts for new hires", "Done"),
    ("OPS-7", "VPN drops every 30 minutes on the Lyon office Wi-Fi", "In Progress"),
    ("OPS-9", "Order two 27-inch monitors for the design team", "Done"),
    ("OPS-12", "MacBook Pro 14 does not charge with the USB-C dock", "In Progress"),
    ("OPS-14", "Replace broken monitor stand in the Berlin office", "To Do"),
    ("OPS-15", "Set up shared printer on the third floor", "Done"),
    ("OPS-18", "Renew YubiKeys for the on-call engineers", "To Do"),
    ("OPS-21", "Laptop refresh 2024: collect old devices", "In Progress"),
    ("OPS-22", "Ship onboarding kit to remote hire in Lisbon", "Done"),
    ("OPS-25", "Headset microphone too quiet in video calls", "To Do"),
    ("OPS-27", "Office move: label every monitor and dock before shipping", "To Do"),
    ("OPS-30", "Phone lost during a trip: wipe and replace", "Done"),
    ("OPS-31", "Replacement charger for a MacBook Air", "Done"),
    ("OPS-34", "Offboarding: recover laptop and phone from leavers", "In Progress"),
]
SEARCH_ISSUES: list[dict[str, Any]] = [
    {"id": str(10000 + int(key.split("-")[1])), "key": key,
     "fields": {"summary": summary, "status": {"name": status}}}
    for key, summary, status in _ISSUE_ROWS
]
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STOP_WORDS = {"with", "from", "into", "that", "this", "have", "does", "need", "needs", "more", "than",
               "every", "their", "there", "about", "after", "before", "order", "project", "text"}


def find_assets(owner: str | None, q: str | None) -> list[dict[str, str]]:
    rows = ASSETS
    if owner:
        rows = [a for a in rows if a["owner"].lower() == owner.strip().lower()]
    if q and q.strip():
        text = q.strip().lower()
        words = set(_WORD.findall(text))
        # An exact id matches too: that is how a stored autocomplete value is checked
        # again when an issue is saved (the value is searched as $userInput).
        rows = [a for a in rows
                if text == a["id"].lower() or text in a["name"].lower() or text in a["serial"].lower()
                or a["serial"].lower() in words]
    return rows


def search_issues(jql: str | None) -> list[dict[str, Any]]:
    words = {w for w in _WORD.findall((jql or "").lower()) if len(w) >= 4 and w not in _STOP_WORDS}
    if not words:
        return list(SEARCH_ISSUES)
    scored = []
    for issue in SEARCH_ISSUES:
        score = len(words & set(_WORD.findall(issue["fields"]["summary"].lower())))
        if score:
            scored.append((-score, int(issue["key"].split("-")[1]), issue))
    return [issue for *_rank, issue in sorted(scored, key=lambda row: row[:2])]


# --- HTTP -----------------------------------------------------------------------------

Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]]
PAGED_PATH = "/api/assets/paged"
DEFAULT_PER_PAGE = 10


def _index(_args) -> Answer:
    return 200, {
        "name": "Connect demo sample API",
        "authentication": f"/assets needs the header {API_KEY_HEADER}",
        "endpoints": {
            "GET /api/health": "{status}",
            "GET /api/assets?owner=<email>&q=<text>": "{items: [{id, name, serial, owner, type}]}",
            "GET /api/assets/paged?page=<n>&per_page=<n>": "[{id, name, serial, owner, type}] + Link header",
            "GET /api/continents": "[{code, name}]",
            "GET /api/countries?continent=<code>": "{countries: [{code, name}]}",
            "GET /api/search?jql=<text>": "{issues: [{key, fields: {summary, status}}], total}",
        },
    }


def _health(_args) -> Answer:
    return 200, {"status": "ok"}


def _assets(args) -> Answer:
    items = find_assets(args.get("owner"), args.get("q"))
    return 200, {"items": items, "total": len(items)}


def _paged_assets(args) -> Answer:
    """One page of every asset, with GitHub's Link header (relative links)."""
    try:
        page = max(1, int(args.get("page") or 1))
        per_page = min(100, max(1, int(args.get("per_page") or DEFAULT_PER_PAGE)))
    except ValueError:
        return 400, {"error": "page and per_page are whole numbers."}
    last = max(1, -(-len(ASSETS) // per_page))
    links = [f'<{PAGED_PATH}?page={page + 1}&per_page={per_page}>; rel="next"'] if page < last else []
    links += [f'<{PAGED_PATH}?page={last}&per_page={per_page}>; rel="last"',
              f'<{PAGED_PATH}?page=1&per_page={per_page}>; rel="first"']
    return 200, ASSETS[(page - 1) * per_page: page * per_page], {"Link": ", ".join(links)}


def _continents(_args) -> Answer:
    return 200, CONTINENTS


def _countries(args) -> Answer:
    code = (args.get("continent") or "").strip().upper()
    if not code:
        return 400, {"error": "Give the continent, e.g. /api/countries?continent=EU."}
    return 200, {"countries": COUNTRIES.get(code, [])}


def _search(args) -> Answer:
    issues = search_issues(args.get("jql"))
    return 200, {"startAt": 0, "maxResults": len(issues), "total": len(issues), "issues": issues}


ROUTES: dict[str, Callable[[dict], Answer]] = {
    "/api": _index, "/api/": _index, "/api/health": _health, "/api/assets": _assets,
    PAGED_PATH: _paged_assets, "/api/continents": _continents, "/api/countries": _countries,
    "/api/search": _search,
}
NEEDS_KEY = {"/api/assets", PAGED_PATH}


class _Handler(BaseHTTPRequestHandler):
    server_version = "ConnectDemoAPI/1.0"
    protocol_version = "HTTP/1.1"
    timeout = 15  # seconds a connection may stay idle or half-sent

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        # The TLS handshake happens here, in the connection's own thread, so a slow
        # or broken client never holds up the accepting thread.
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def _answer(self, status: int, data: Any, headers: dict[str, str] | None = None, *,
                body: bool = True) -> None:
        payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if status == 401:
            self.send_header("WWW-Authenticate", f'ApiKey header="{API_KEY_HEADER}"')
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _route(self, *, body: bool = True) -> None:
        parts = urlsplit(self.path)
        view = ROUTES.get(parts.path)
        if view is None:
            return self._answer(404, {"error": f"There is no endpoint {parts.path}; see /api/."}, body=body)
        if parts.path in NEEDS_KEY:
            given = self.headers.get(API_KEY_HEADER, "")
            if not hmac.compare_digest(given.encode("utf-8", "replace"), API_KEY.encode()):
                return self._answer(401, {"error": f"Send a valid API key in the {API_KEY_HEADER} header."},
                                    body=body)
        args = {name: values[0] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        self._answer(*view(args), body=body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route()

    def do_HEAD(self) -> None:  # noqa: N802
        self._route(body=False)

    def _read_only(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 65536:
            self.rfile.read(length)
        else:
            self.close_connection = True
        self._answer(405, {"error": "This sample API is read-only: use GET."})

    do_POST = do_PUT = do_PATCH = do_DELETE = _read_only  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if self.server.verbose:
            sys.stderr.write(f"[sample API] {self.address_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, context: ssl.SSLContext, verbose: bool):
        self.context, self.verbose = context, verbose
        super().__init__(address, _Handler)

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, (ssl.SSLError, ConnectionError, TimeoutError, socket.timeout)):
            if self.verbose:
                sys.stderr.write(f"[sample API] {client_address[0]}: {sys.exc_info()[1]}\n")
            return
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def server_context(certs: CertPaths) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certs.cert), str(certs.key))
    return context


def stop_server(server, thread: threading.Thread | None) -> None:
    """Stop a ``serve_forever`` server that runs in ``thread`` (either may be None)."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=5)


class DemoUpstream:
    """The sample API in a background thread of this process."""

    def __init__(self, cert_dir: str | Path, *, host: str = "127.0.0.1", port: int = 0, verbose: bool = False):
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"The sample API listens on loopback only ({', '.join(LOOPBACK_HOSTS)}), not {host!r}.")
        self.cert_dir = Path(cert_dir)
        self.host = "127.0.0.1" if host == "localhost" else host
        self.requested_port = port
        self.verbose = verbose
        self.certs: CertPaths | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "DemoUpstream":
        if self._server is not None:
            return self
        self.certs = ensure_certs(self.cert_dir)
        server_cls = _Server6 if ":" in self.host else _Server
        self._server = server_cls((self.host, self.requested_port), server_context(self.certs), self.verbose)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="connect-demo-upstream", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        stop_server(server, thread)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("The sample API is not started.")
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api"

    @property
    def ca_file(self) -> Path:
        if self.certs is None:
            raise RuntimeError("The sample API is not started.")
        return self.certs.ca

    def __enter__(self) -> "DemoUpstream":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugin_host.demo.upstream",
                                     description="The Connect demo's sample HTTPS API, on loopback.")
    parser.add_argument("--port", type=int, default=8443, help="port to listen on; 0 picks a free one (default 8443)")
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK_HOSTS, help="loopback address (default 127.0.0.1)")
    parser.add_argument("--cert-dir", default=str(Path("instance") / "demo-tls"),
                        help="where the CA and server certificate are kept (made when missing)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")

    upstream = DemoUpstream(args.cert_dir, host=args.host, port=args.port, verbose=not args.quiet)
    try:
        upstream.start()
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"LISTENING {upstream.port}", flush=True)
    print(f"Sample API on {upstream.base_url} (trust {upstream.ca_file}; "
          f"/assets needs the header {API_KEY_HEADER}). Ctrl-C stops it.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        upstream.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
