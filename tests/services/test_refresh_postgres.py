"""The refresh of stored values on PostgreSQL: the host's JSON filter and keyset
batches behave as on SQLite (tests/test_refresh.py runs the same check there)."""

from __future__ import annotations

import pytest

from tests.conftest import seed_people
from tests.test_refresh import check_host_batches

pytestmark = pytest.mark.services


def test_the_host_reads_batches_in_sql_and_writes_only_unchanged_values_on_postgresql(make_app, postgres_url):
    app = make_app(DATABASE_URL=postgres_url)
    assert app.extensions["host_db"].engine.dialect.name == "postgresql"
    seed_people(app)
    check_host_batches(app)
