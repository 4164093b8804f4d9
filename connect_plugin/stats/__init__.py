"""Per-datasource stats: calls, errors by kind, cache hits and misses, latency, the
last error, in 5-minute buckets for the last 24 hours, counted over every worker
and node.

- ``buckets``: the counters of one bucket, the latency histogram, percentiles and
  the API's answer (pure functions);
- ``recorder``: what the counting hooks write to, a bounded buffer in this process
  flushed in batches by a background thread (never on the request's path);
- ``stores``: where batches go, Redis when it is the cache, the database otherwise;
- ``tables``: the database tables of the latter;
- ``health``: the badge of the datasources list (ok, failing, idle);
- ``chart``: the datasource page's chart as plain shapes for an inline SVG.
"""
