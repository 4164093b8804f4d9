"""Where batches of stats go, so that every worker and node adds to one count.

- :class:`RedisStatsStore` when Redis is the cache (the plugin reaches it through
  the cache's own client, connect_plugin/caching/response_cache.py): a hash per
  datasource and bucket (``connect:stats:<id>:<bucket>``, ``HINCRBY`` per counter,
  expiring after the window) and a hash of the last success and error per
  datasource, updated by a small script that keeps the newer time. One pipeline
  per flush.
- :class:`DatabaseStatsStore` otherwise: the tables of ``tables.py``, one upsert per
  flush, old rows pruned at most every ``PRUNE_SECONDS``.

Both answer ``read(datasource_id, since)`` with ``(buckets, last_error, last_ok)``.
"""

from __future__ import annotations

import time

from sqlalchemy import case, delete, func, select

from .buckets import BUCKET_SECONDS, WINDOW_HOURS, bucket_of
from .tables import StatCounter, StatLast

KEEP_SECONDS = WINDOW_HOURS * 3600 + BUCKET_SECONDS
PRUNE_SECONDS = 600.0
PREFIX = "connect:stats:"

_KEEP_NEWER = """
local ok_at = tonumber(ARGV[1])
local error_at = tonumber(ARGV[2])
if ok_at > 0 and ok_at > tonumber(redis.call('HGET', KEYS[1], 'ok_at') or '0') then
  redis.call('HSET', KEYS[1], 'ok_at', ARGV[1])
end
if error_at > 0 and error_at > tonumber(redis.call('HGET', KEYS[1], 'error_at') or '0') then
  redis.call('HSET', KEYS[1], 'error_at', ARGV[2], 'error_message', ARGV[3])
end
return 1
"""


def _decoded(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _last(ok_at, error_at, message) -> tuple[tuple[float, str] | None, float | None]:
    error = (float(error_at), message or "") if error_at else None
    return error, (float(ok_at) if ok_at else None)


class RedisStatsStore:
    def __init__(self, client):
        self.client = client
        self._keep_newer = client.register_script(_KEEP_NEWER)

    def _bucket_key(self, datasource_id: int, bucket: int) -> str:
        return f"{PREFIX}{datasource_id}:{bucket}"

    def _last_key(self, datasource_id: int) -> str:
        return f"{PREFIX}{datasource_id}:last"

    def add(self, batch) -> None:
        pipe = self.client.pipeline(transaction=False)
        for (ds, bucket), counters in batch.counters.items():
            key = self._bucket_key(ds, bucket)
            for name, count in counters.items():
                pipe.hincrby(key, name, count)
            pipe.expire(key, KEEP_SECONDS)
        for ds in set(batch.last_ok) | set(batch.last_error):
            at, message = batch.last_error.get(ds, (0.0, ""))
            self._keep_newer(keys=[self._last_key(ds)], args=[batch.last_ok.get(ds, 0.0), at, message],
                             client=pipe)
        pipe.execute()

    def read(self, datasource_id: int, since: int):
        now_bucket = bucket_of(time.time())
        starts = list(range(since, now_bucket + 1, BUCKET_SECONDS))
        pipe = self.client.pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(self._bucket_key(datasource_id, start))
        pipe.hmget(self._last_key(datasource_id), "ok_at", "error_at", "error_message")
        *found, last = pipe.execute()
        buckets = {start: {_decoded(k): int(v) for k, v in counters.items()}
                   for start, counters in zip(starts, found) if counters}
        ok_at, error_at, message = (None if v is None else _decoded(v) for v in last)
        return (buckets, *_last(ok_at, error_at, message))

    def forget(self, datasource_id: int, session=None) -> None:
        keys = list(self.client.scan_iter(match=f"{PREFIX}{datasource_id}:*", count=500))
        if keys:
            self.client.delete(*keys)


class DatabaseStatsStore:
    def __init__(self, database):
        self.database = database
        self._pruned = 0.0

    def _insert(self):
        name = self.database.engine.dialect.name
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - the supported databases are SQLite and PostgreSQL
            raise RuntimeError(f"Connect stats need SQLite or PostgreSQL, not {name}")
        return insert

    def add(self, batch) -> None:
        insert = self._insert()
        counters = [{"datasource_id": ds, "bucket": bucket, "name": name, "count": count}
                    for (ds, bucket), named in batch.counters.items() for name, count in named.items()]
        lasts = []
        for ds in sorted(set(batch.last_ok) | set(batch.last_error)):
            at, message = batch.last_error.get(ds, (None, None))
            lasts.append({"datasource_id": ds, "ok_at": batch.last_ok.get(ds), "error_at": at,
                          "error_message": message})
        with self.database.engine.begin() as connection:
            if counters:
                statement = insert(StatCounter)
                connection.execute(statement.on_conflict_do_update(
                    index_elements=["datasource_id", "bucket", "name"],
                    set_={"count": StatCounter.count + statement.excluded.count}), counters)
            if lasts:
                statement = insert(StatLast)
                newer_ok = statement.excluded.ok_at > func.coalesce(StatLast.ok_at, 0.0)
                newer_error = statement.excluded.error_at > func.coalesce(StatLast.error_at, 0.0)
                connection.execute(statement.on_conflict_do_update(index_elements=["datasource_id"], set_={
                    "ok_at": case((newer_ok, statement.excluded.ok_at), else_=StatLast.ok_at),
                    "error_at": case((newer_error, statement.excluded.error_at), else_=StatLast.error_at),
                    "error_message": case((newer_error, statement.excluded.error_message),
                                          else_=StatLast.error_message),
                }), lasts)
            now = time.time()
            if now - self._pruned >= PRUNE_SECONDS:
                self._pruned = now
                connection.execute(delete(StatCounter).where(StatCounter.bucket < bucket_of(now) - KEEP_SECONDS))

    def read(self, datasource_id: int, since: int):
        with self.database.engine.connect() as connection:
            rows = connection.execute(select(StatCounter.bucket, StatCounter.name, StatCounter.count).where(
                StatCounter.datasource_id == datasource_id, StatCounter.bucket >= since)).all()
            last = connection.execute(select(StatLast.ok_at, StatLast.error_at, StatLast.error_message).where(
                StatLast.datasource_id == datasource_id)).first()
        buckets: dict[int, dict[str, int]] = {}
        for bucket, name, count in rows:
            buckets.setdefault(int(bucket), {})[name] = int(count)
        return (buckets, *_last(*(last or (None, None, None))))

    def forget(self, datasource_id: int, session=None) -> None:
        """In ``session``'s transaction when given (SQLite has one writer at a time:
        a second connection would wait for the delete's own transaction)."""
        statements = (delete(StatCounter).where(StatCounter.datasource_id == datasource_id),
                      delete(StatLast).where(StatLast.datasource_id == datasource_id))
        if session is not None:
            for statement in statements:
                session.execute(statement)
            return
        with self.database.engine.begin() as connection:
            for statement in statements:
                connection.execute(statement)
