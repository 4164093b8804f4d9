"""The JQL table of tests/test_jql_search.py on PostgreSQL: one SQL statement that
both databases run alike (ILIKE escapes, NULLS LAST, EXISTS on the value rows)."""

from __future__ import annotations

import pytest

from tests.conftest import seed_people
from tests.test_jql_search import check_connected_table

pytestmark = pytest.mark.services


def test_connected_values_description_and_order_by_on_postgresql(make_app, postgres_url, upstream):
    app = make_app(DATABASE_URL=postgres_url)
    assert app.extensions["host_db"].engine.dialect.name == "postgresql"
    seed_people(app)
    check_connected_table(app.test_client(), upstream)
