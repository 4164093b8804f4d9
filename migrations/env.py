"""Alembic environment of the Connect plugin: only its ``connect_`` tables, with its
own version table, so it runs beside any host's migrations."""

from alembic import context

from connect_plugin import models  # noqa: F401  (registers the tables)
from connect_plugin.stats import tables  # noqa: F401  (the stats' tables)
from connect_plugin.db import Base
from connect_plugin.migration_env import run_online

run_online(context, Base.metadata, table_prefix="connect_", default_version_table="connect_alembic_version")
