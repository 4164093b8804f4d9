"""Alembic environment of the reference host: only the host's ``host_`` tables."""

from alembic import context

from connect_plugin.for_hosts import run_online
from plugin_host import models  # noqa: F401  (registers the tables)
from plugin_host.db import Base

run_online(context, Base.metadata, table_prefix="host_", default_version_table="host_alembic_version")
