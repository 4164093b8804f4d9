"""JQL search by a connected value over 100,000 issues on PostgreSQL (issue 15's
goal: under 50 ms median), with the index on the stored values and, for contrast,
without it. Runs in process against a throwaway database on the server named by
``BENCH_POSTGRES_URL`` (else ``TEST_POSTGRES_URL``); without one it says so."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid

ISSUES = 100_000
DISTINCT = 5_000  # distinct asset values, so each value is on 20 issues
GOAL_MS = 50.0


def _server_url() -> str | None:
    return os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")


def _fill(engine, item_field: str, issues: int) -> None:
    from sqlalchemy import insert

    from plugin_host.models import ConnectedValue, Issue, Project

    with engine.begin() as db:
        project_id = db.execute(insert(Project).values(key="BENCH", name="Bench", next_number=issues + 1)
                                .returning(Project.id)).scalar_one()
        for first in range(0, issues, 10_000):
            rows = []
            for n in range(first + 1, min(first + 10_000, issues) + 1):
                value = f"A-{n % DISTINCT}"
                rows.append({"key": f"BENCH-{n}", "project_id": project_id, "number": n,
                             "summary": f"Issue {n}", "description": "",
                             "custom_fields": {item_field: {"value": value, "label": f"Asset {n % DISTINCT}"}}})
            ids = db.execute(insert(Issue).returning(Issue.id, Issue.custom_fields, sort_by_parameter_order=True),
                             rows).all()
            db.execute(insert(ConnectedValue), [
                {"issue_id": issue_id, "field": item_field, "value_prefix": fields[item_field]["value"],
                 "value": fields[item_field]["value"], "label": fields[item_field]["label"]}
                for issue_id, fields in ids])
        db.exec_driver_sql("ANALYZE")


def _median_ms(app, user, jql_for, repeat: int) -> float:
    from plugin_host.db import session
    from plugin_host.rest_api import search_answer

    times = []
    with app.test_request_context("/rest/api/2/search"):
        for i in range(repeat):
            jql = jql_for(i)
            started = time.perf_counter()
            answer = search_answer(jql, user, 0, 50)
            times.append((time.perf_counter() - started) * 1000)
            assert answer["total"] > 0, jql
            session().rollback()
    return statistics.median(times)


def run(quick: bool) -> dict:
    server = _server_url()
    if not server:
        return {"skipped": "no PostgreSQL server: set BENCH_POSTGRES_URL (or TEST_POSTGRES_URL)"}
    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from connect_plugin import for_hosts
    from plugin_host import create_app
    from plugin_host.migrations_runner import upgrade_all
    from plugin_host.models import User

    name = f"connect_bench_jql_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    issues = 20_000 if quick else ISSUES
    try:
        with tempfile.TemporaryDirectory() as instance:
            app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
                              "CONNECT_SECRET_KEYS": Fernet.generate_key().decode()})
            with app.app_context():
                upgrade_all(app)
                ds = for_hosts.create_datasource({"name": "Assets", "type": "rest", "auth": {"mode": "none"},
                                                  "config": {"base_url": "https://assets.example.com/api"}},
                                                 actor="bench")
                item = for_hosts.create_item({"name": "Asset", "datasource_id": ds["id"], "editor": "select",
                                              "query": "/assets", "options": {"path": "$[*]", "value": "${row.id}",
                                                                             "label": "${row.name}"}},
                                             actor="bench")
                field = for_hosts.field_key(item["id"])
                engine = app.extensions["host_db"].engine
                started = time.perf_counter()
                _fill(engine, field, issues)
                fill_s = time.perf_counter() - started
                user = User(username="bench-admin", is_admin=True)
                repeat = 40 if quick else 200
                by_value = _median_ms(app, user, lambda i: f'{field} = "A-{(i * 37) % DISTINCT}"', repeat)
                by_in = _median_ms(app, user, lambda i: f"{field} in (A-{i % DISTINCT}, A-{(i + 1) % DISTINCT})",
                                   repeat)
                by_label = _median_ms(app, user, lambda i: f'{field} ~ "Asset {1000 + i % 100}"', 10)
                with engine.begin() as db:
                    db.exec_driver_sql("DROP INDEX ix_host_connected_value_lookup")
                no_index = _median_ms(app, user, lambda i: f'{field} = "A-{(i * 37) % DISTINCT}"', 10)
            app.extensions["host_db"].engine.dispose()  # DROP DATABASE ... WITH (FORCE) ends the rest
    finally:
        with admin.connect() as db:
            db.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return {"issues": issues, "fill_s": fill_s, "by_value_ms": by_value, "by_in_ms": by_in,
            "by_label_ms": by_label, "no_index_ms": no_index, "goal_ms": GOAL_MS}
