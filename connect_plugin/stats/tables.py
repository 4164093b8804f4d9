"""The database tables of the stats, used when Redis is not the cache.

``connect_stat`` holds one row per datasource, bucket and counter name, so that a
batch from any worker or node is one upsert adding to each row (``count = count +
n``), atomic on SQLite and PostgreSQL alike. Rows older than the window are
pruned. ``connect_stat_last`` holds, per datasource, the time of its last success
and of its last error with the (redacted) message; an upsert keeps the newer one.

There is no foreign key to ``connect_datasource``: a batch may still name a
datasource deleted a moment ago and must not fail for it; the delete forgets the
datasource's stats instead (connect_plugin/stats/recorder.py ``forget``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class StatCounter(Base):
    __tablename__ = "connect_stat"

    datasource_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # epoch seconds
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class StatLast(Base):
    __tablename__ = "connect_stat_last"

    datasource_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ok_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # epoch seconds
    error_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
