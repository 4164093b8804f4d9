"""The plugin's own database handle.

The plugin keeps its own engine and session factory (its tables carry the
``connect_`` prefix and its own Alembic version table), so it works beside any
host's persistence layer, even one that is not SQLAlchemy.
"""

from __future__ import annotations

from sqlalchemy import MetaData, create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# Connections kept open per engine. A request keeps the connection of its first read
# until it ends or waits for an upstream API (``state.release_before_wait``), so each
# of a worker's threads (16 in the README's gunicorn recipe) may hold one at once: a
# smaller pool would close and reopen connections under load, which costs more than
# the reads themselves.
POOL_SIZE = 16
POOL_OVERFLOW = 16


def make_engine(url: str) -> Engine:
    """An engine with the settings a multi-threaded server needs: pre-ping against
    dropped PostgreSQL connections, and for SQLite a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        in_memory = make_url(url).database in (None, "", ":memory:")
        pool = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


class Database:
    """Engine plus a session factory; views get one session per request via
    ``ConnectPlugin.session()``."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessionmaker, "after_flush", _note_flush)
        event.listen(self.sessionmaker, "after_commit", _forget_flush)
        event.listen(self.sessionmaker, "after_rollback", _forget_flush)

    def session(self) -> Session:
        return self.sessionmaker()

    def dispose(self) -> None:
        self.engine.dispose()


_FLUSHED = "connect_flushed"


def _note_flush(session: Session, _context) -> None:
    session.info[_FLUSHED] = True


def _forget_flush(session: Session) -> None:
    session.info.pop(_FLUSHED, None)


def end_read(session: Session) -> None:
    """Give the session's connection back to the pool before a long wait (an upstream
    call) when it has nothing to write. Objects stay loaded: sessions are made with
    ``expire_on_commit=False``. A session with no transaction begun holds no
    connection: nothing to do."""
    if not session.in_transaction():
        return
    # Changes already flushed (autoflush before a query) are writes too: committing
    # them here would commit half of a request that may still fail.
    if not (session.new or session.dirty or session.deleted or session.info.get(_FLUSHED)):
        session.commit()
