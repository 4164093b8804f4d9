"""The host's database handle: one engine, one session per request."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Session

from connect_plugin.for_hosts import NAMING, Database


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def database() -> Database:
    return current_app.extensions["host_db"]


def session() -> Session:
    if "host_session" not in g:
        g.host_session = database().session()
    return g.host_session


def close_session(_exc=None) -> None:
    db_session = g.pop("host_session", None)
    if db_session is not None:
        db_session.close()
