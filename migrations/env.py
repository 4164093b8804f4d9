"""Alembic environment of the Connect plugin: only its ``connect_`` tables, with its
own version table, so it runs beside any host's migrations."""

from alembic import context
from sqlalchemy import create_engine, pool

from connect_plugin import models  # noqa: F401  (registers the tables)
from connect_plugin.db import Base

config = context.config
target_metadata = Base.metadata
VERSION_TABLE = config.get_main_option("version_table") or "connect_alembic_version"


def include_object(obj, name, type_, reflected, compare_to):
    return type_ != "table" or name.startswith("connect_")


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, version_table=VERSION_TABLE,
                          include_object=include_object, render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
