"""gunicorn hooks for the reference host: each worker's thread count, and
Prometheus' multiprocess mode.

``post_fork`` tells each gthread worker's plugin how many threads it has
(``CONNECT_WORKER_THREADS``, from ``--threads``) unless the environment says so
already: the plugin keeps the calls in flight to half of them per datasource
(connect_plugin/caching/call_limiter.py). Without the hook the plugin reads the size
of the thread pool that runs the request, which is the same number for gthread.

For Prometheus' multiprocess mode:

    PROMETHEUS_MULTIPROC_DIR=/run/connect-metrics \\
        gunicorn -c python:plugin_host.gunicorn_conf --workers 4 ... 'plugin_host:create_app()'

With ``PROMETHEUS_MULTIPROC_DIR`` set, every worker writes its metrics to files in
that folder and ``/plugins/connect/metrics`` adds up the files of every worker
(connect_plugin/metrics.py). prometheus_client asks for the folder to be emptied
before the server starts (the files of an earlier run would be added too), and for
``multiprocess.mark_process_dead`` when a worker exits. Without the variable these two
hooks do nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
THREADS_ENV = "CONNECT_WORKER_THREADS"
# The files prometheus_client writes there: <type>[_<mode>]_<pid>.db
METRIC_FILE_PREFIXES = ("counter_", "gauge_", "histogram_", "summary_")


def on_starting(server) -> None:
    """Before the master forks: empty the metrics folder of an earlier run (its
    metric files only), creating it if needed."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.db"):
        if path.name.startswith(METRIC_FILE_PREFIXES):
            path.unlink(missing_ok=True)


def post_fork(server, worker) -> None:
    """In the new worker, before it loads the app: its number of threads."""
    from gunicorn.workers.gthread import ThreadWorker

    if isinstance(worker, ThreadWorker):
        os.environ.setdefault(THREADS_ENV, str(worker.cfg.threads))


def child_exit(server, worker) -> None:
    """A worker is gone: its live gauges stop counting (its counters stay summed)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
