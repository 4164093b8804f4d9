"""Answers kept and calls shared: the response cache, single flight for concurrent
misses of one key, and the per-datasource limit on calls in flight."""
