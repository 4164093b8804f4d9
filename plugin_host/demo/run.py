"""``python -m plugin_host.demo.run [--port P]``: the whole ``make run`` flow in one process.

1. make (once) a CA and a loopback certificate under ``<instance>/demo-tls``;
2. start the sample HTTPS API on a free loopback port, in a thread of this process;
3. trust its CA (``CONNECT_CA_BUNDLE``) and allow its address (``CONNECT_ALLOWED_HOSTS``
   gets ``127.0.0.1`` appended) before the app is made;
4. apply the migrations, register the sample API once (``seed_demo``); serve the app
   itself over HTTPS on another loopback port too, for the issue picker that reads
   this tracker's own ``/rest/api/2`` (``seed_tracker``);
5. print the URL, the logins and what to try, and serve on ``http://127.0.0.1:PORT``
   (``--port``, else ``PORT``, else 5000) with Flask's threaded development server.

Ctrl-C stops the server and the sample API.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from .tracker_tls import TrackerTLS
from .upstream import DemoUpstream

HOST = "127.0.0.1"
DEFAULT_PORT = 5000
LOOPBACK_ALLOW = "127.0.0.1"


@dataclass
class Demo:
    app: Flask
    upstream: DemoUpstream
    url: str
    banner: str
    tracker: TrackerTLS | None = None

    def stop(self) -> None:
        if self.tracker is not None:
            self.tracker.stop()
        self.upstream.stop()


def trust_demo_ca(ca_file: Path, tls_dir: Path) -> str:
    """Point CONNECT_CA_BUNDLE at the demo CA. An operator's own bundle file is kept:
    the demo then uses a copy of it with the demo CA added."""
    ca_file = Path(ca_file)
    existing = os.environ.get("CONNECT_CA_BUNDLE", "").strip()
    bundle = str(ca_file)
    if existing and Path(existing).resolve() != ca_file.resolve():
        if Path(existing).is_file():
            combined = tls_dir / "ca-bundle.pem"
            text = Path(existing).read_text().rstrip("\n") + "\n" + ca_file.read_text()
            combined.write_text(text)
            bundle = str(combined)
        else:
            print(f"Note: CONNECT_CA_BUNDLE={existing} is not a file; the demo uses {ca_file} instead.",
                  file=sys.stderr)
    os.environ["CONNECT_CA_BUNDLE"] = bundle
    return bundle


def allow_loopback() -> str:
    """Append 127.0.0.1 to CONNECT_ALLOWED_HOSTS (kept as it is when already there)."""
    entries = [e.strip() for e in os.environ.get("CONNECT_ALLOWED_HOSTS", "").split(",") if e.strip()]
    if LOOPBACK_ALLOW not in entries:
        entries.append(LOOPBACK_ALLOW)
    os.environ["CONNECT_ALLOWED_HOSTS"] = ",".join(entries)
    return os.environ["CONNECT_ALLOWED_HOSTS"]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def make_banner(url: str, upstream: DemoUpstream, datasource_note: str, ca_bundle: str,
                tracker_api: str = "") -> str:
    line = "=" * 78
    return "\n".join([
        "",
        line,
        f"  Connect demo is running:  {url}",
        line,
        "  Log in as:",
        "    admin / admin    administrator: manages datasources and connected items",
        "    alice / alice    member of project DEMO",
        "    bob / bob        member of project DEMO",
        "",
        f"  Sample API: {upstream.base_url}",
        f"              datasource \"Demo Assets API\": {datasource_note}",
        f"              its CA is trusted through CONNECT_CA_BUNDLE={ca_bundle}",
        f"  This tracker's API over HTTPS (for \"Linked issue\"): {tracker_api}",
        "",
        "  What to try:",
        f"    1. Log in as alice and open DEMO-1:  {url}/browse/DEMO-1",
        "    2. Pick an Asset: her own devices, fetched live from the sample API.",
        "    3. Pick a Continent, then a Country: Country waits for Continent and",
        "       reloads when it changes.",
        "    4. Open DEMO-2: \"Asset owner (read-only)\" finds the laptop named in its summary;",
        "       \"Related issues\" searches the sample API with the summary.",
        "       \"Linked issue\": type a word; it searches this tracker's own JQL API.",
        f"    5. Log in as admin: {url}/plugins/connect/admin/datasources",
        "       shows the datasource (Test connection) and its connected items.",
        "",
        "  Press Ctrl-C to stop.",
        line,
        "",
    ])


def prepare(port: int, *, verbose_upstream: bool = True) -> Demo:
    """Everything but serving: certificates, sample API, environment, app, migrations, seed."""
    from plugin_host import create_app
    from plugin_host.migrations_runner import upgrade_all
    from plugin_host.settings import instance_path

    from .seed import seed_demo, seed_tracker

    tls_dir = Path(instance_path()) / "demo-tls"
    upstream = DemoUpstream(tls_dir, host=HOST, port=0, verbose=verbose_upstream).start()
    try:
        bundle = trust_demo_ca(upstream.ca_file, tls_dir)
        allow_loopback()
        app = create_app()
        with app.app_context():
            upgrade_all(app)
        result = seed_demo(app, upstream.base_url)
        tracker = TrackerTLS(app, upstream.certs).start()
    except BaseException:
        upstream.stop()
        raise
    try:
        seed_tracker(app, tracker.api_url)
    except BaseException:
        tracker.stop()
        upstream.stop()
        raise
    if result.created:
        note = f"registered now, with {len(result.items)} connected items on DEMO issues"
    elif result.updated_urls:
        note = "already registered (its URL now follows this run's port)"
    else:
        note = "already registered"
    url = f"http://{HOST}:{port}"
    return Demo(app=app, upstream=upstream, url=url, tracker=tracker,
                banner=make_banner(url, upstream, note, bundle, tracker.api_url))


def _stop_on_sigterm(_signum, _frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugin_host.demo.run",
                                     description="Run the Connect reference host with the offline demo.")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port of the host on {HOST} (default: $PORT, else {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    port = args.port
    if port is None:
        raw = os.environ.get("PORT", "").strip() or str(DEFAULT_PORT)
        if not raw.isdigit():
            parser.error(f"PORT must be a port number, not {raw!r}")
        port = int(raw)
    if not 1 <= port <= 65535:
        parser.error("the port must be between 1 and 65535")
    if not port_is_free(port):
        print(f"Port {port} on {HOST} is already in use. Stop what uses it, or choose another port: "
              f"PORT={port + 1} make run", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    demo = prepare(port)
    try:
        print(demo.banner, flush=True)
        demo.app.run(host=HOST, port=port, threaded=True, debug=False, use_reloader=False, load_dotenv=False)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop()
        print("Connect demo stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
