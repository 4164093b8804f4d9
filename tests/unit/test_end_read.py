"""``end_read`` gives a read-only session's connection back, and never commits a
write: not one still pending, nor one an autoflush already sent."""

from __future__ import annotations

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from connect_plugin.db import Database, end_read


class _Base(DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(20))


def _database(tmp_path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'notes.db'}")
    _Base.metadata.create_all(db.engine)
    return db


def _stored(db: Database) -> list[str]:
    with db.session() as reader:
        return list(reader.scalars(select(Note.text)))


def test_a_read_only_session_gives_its_connection_back(tmp_path):
    db = _database(tmp_path)
    session = db.session()
    session.scalars(select(Note)).all()
    assert db.engine.pool.checkedout() == 1
    end_read(session)
    assert db.engine.pool.checkedout() == 0


def test_a_flushed_write_is_not_committed_and_rolls_back_with_the_request(tmp_path):
    db = _database(tmp_path)
    session = db.session()
    session.add(Note(text="half done"))
    session.scalars(select(Note)).all()  # autoflush: nothing pending any more, but written
    assert not (session.new or session.dirty)
    end_read(session)
    session.rollback()  # the request fails afterwards
    assert _stored(db) == []
    session.add(Note(text="kept"))
    session.commit()
    session.scalars(select(Note)).all()
    end_read(session)  # after a commit, a read-only transaction again
    assert db.engine.pool.checkedout() == 0
    assert _stored(db) == ["kept"]
