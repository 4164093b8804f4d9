"""``make bench``: the plugin measured against the physical limit of its own stack.

``python -m benchmarks.run [--quick]`` starts a loopback HTTPS upstream
(:mod:`benchmarks.upstream`), the reference host under gunicorn with one extra
bare JSON route (:mod:`benchmarks.bench_app`), drives both with the small HTTP
clients of :mod:`benchmarks.loadgen` and writes ``BENCHMARKS.md``.
"""
