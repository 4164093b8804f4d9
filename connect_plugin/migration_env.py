"""The body of an Alembic ``env.py`` for a component that owns only the tables with
one prefix and keeps its own version table: the plugin's migrations and the
reference host's both run through it, side by side in one database."""

from __future__ import annotations

from sqlalchemy import MetaData, create_engine, pool


def run_online(context, metadata: MetaData, *, table_prefix: str, default_version_table: str) -> None:
    config = context.config
    version_table = config.get_main_option("version_table") or default_version_table

    def include_object(obj, name, type_, reflected, compare_to):
        # Autogenerate must never propose dropping another component's tables.
        return type_ != "table" or name.startswith(table_prefix)

    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, version_table=version_table,
                          include_object=include_object, render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
