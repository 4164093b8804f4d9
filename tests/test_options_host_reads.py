"""What the options endpoint asks the reference host on every field of an edit screen
(issue 17): the issue, its project, its reporter and the user's membership in one
database query, read fresh on each request, so an edit of the membership or of the
issue is seen by the very next options request."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, event, insert, select, update

from plugin_host.models import Issue, Project, User, project_members
from tests.conftest import ALICE, CAROL, make_datasource, make_item
from tests.support.https_servers import Json

SCOPED = "/scoped?p=$issue.project&s=$issue.summary&r=$issue.reporter"


@pytest.fixture
def api(people, upstream):
    upstream.route("/api/assets", Json({"items": [{"id": "A-1", "name": "MacBook Pro"}]}))
    upstream.route("/api/scoped", Json({"items": [{"id": "A-1", "name": "MacBook Pro"}]}))
    client = people.test_client()
    ds = make_datasource(client, upstream.url("/api"))
    return client, upstream, make_item(client, ds["id"])["id"], make_item(client, ds["id"], name="Scoped",
                                                                          query=SCOPED)["id"]


def options(client, item_id, headers=ALICE, **params):
    return client.get(f"/plugins/connect/api/items/{item_id}/options", query_string=params, headers=headers)


def _host_statements(app):
    """The SQL statements the host's engine runs, recorded while the list is live."""
    seen: list[str] = []
    engine = app.extensions["host_db"].engine
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_a: seen.append(statement))
    return seen


def _membership(app, username: str, project_key: str, *, member: bool) -> None:
    with app.app_context():
        db = app.extensions["host_db"].session()
        user_id = db.scalar(select(User.id).where(User.username == username))
        project_id = db.scalar(select(Project.id).where(Project.key == project_key))
        if member:
            db.execute(insert(project_members).values(project_id=project_id, user_id=user_id))
        else:
            db.execute(delete(project_members).where(project_members.c.user_id == user_id,
                                                     project_members.c.project_id == project_id))
        db.commit()
        db.close()


def test_options_for_an_issue_read_the_issue_and_the_membership_in_one_query(people, api):
    client, _upstream, item, _scoped = api
    assert options(client, item, issue="DEMO-1").status_code == 200  # cached from here on
    seen = _host_statements(people)
    assert options(client, item, issue="DEMO-1").status_code == 200
    reads = [s for s in seen if "host_issue" in s or "host_project_member" in s]
    assert len(reads) == 1, reads


def test_options_on_a_create_screen_read_the_project_and_the_membership_in_one_query(people, api):
    client, _upstream, item, _scoped = api
    assert options(client, item, project="DEMO").status_code == 200
    seen = _host_statements(people)
    assert options(client, item, project="DEMO").status_code == 200
    reads = [s for s in seen if "host_project" in s]
    assert len(reads) == 1, reads


def test_a_membership_removed_or_given_is_seen_by_the_next_options_request(people, api):
    client, _upstream, item, _scoped = api
    assert options(client, item, issue="DEMO-1").status_code == 200
    assert options(client, item, project="DEMO").status_code == 200
    _membership(people, "alice", "DEMO", member=False)
    assert options(client, item, issue="DEMO-1").status_code == 403
    assert options(client, item, project="DEMO").status_code == 403
    assert options(client, item, headers=CAROL, issue="DEMO-1").status_code == 403
    _membership(people, "carol", "DEMO", member=True)
    assert options(client, item, headers=CAROL, issue="DEMO-1").status_code == 200
    assert options(client, item, headers=CAROL, project="DEMO").status_code == 200


def test_an_edited_issue_fills_the_query_with_its_new_summary_at_once(people, api):
    client, upstream, _item, scoped = api
    assert options(client, scoped, issue="DEMO-1").status_code == 200
    with people.app_context():
        db = people.extensions["host_db"].session()
        db.execute(update(Issue).where(Issue.key == "DEMO-1").values(summary="Phone for Alice"))
        db.commit()
        db.close()
    assert options(client, scoped, issue="demo-1").status_code == 200
    last = upstream.requests[-1]
    assert (last.param("s"), last.param("p"), last.param("r")) == ("Phone for Alice", "DEMO", "alice")


def _commits(app) -> list[str]:
    """The engines' commits (host and plugin), recorded while the list is live."""
    seen: list[str] = []
    for name, engine in (("host", app.extensions["host_db"].engine), ("plugin", app.extensions["connect"].db.engine)):
        event.listen(engine, "commit", lambda _conn, name=name: seen.append(name))
    return seen


def test_a_cache_hit_commits_nothing_and_reads_on_one_connection_per_database(people, api):
    """Read-only lookups no longer hand their connection back after each read: a hit
    waits for nothing, so the user, the issue and the item are read with no commit."""
    client, _upstream, item, _scoped = api
    assert options(client, item, issue="DEMO-1").status_code == 200  # cached from here on
    commits = _commits(people)
    host_pool, plugin_pool = people.extensions["host_db"].engine.pool, people.extensions["connect"].db.engine.pool
    checkouts: list[str] = []
    event.listen(host_pool, "checkout", lambda *_a: checkouts.append("host"))
    event.listen(plugin_pool, "checkout", lambda *_a: checkouts.append("plugin"))
    answer = options(client, item, issue="DEMO-1")
    assert answer.status_code == 200 and answer.json["cached"] is True
    assert commits == []
    assert sorted(checkouts) == ["host", "plugin"]


def test_a_request_waiting_for_the_upstream_holds_no_database_connection(people, api):
    """What the request read before the call (user, issue, item, secrets) is given
    back when it starts waiting, so slow APIs cannot empty either pool."""
    client, upstream, item, _scoped = api
    held: list[tuple[int, int]] = []

    def answer(_request):
        held.append((people.extensions["host_db"].engine.pool.checkedout(),
                     people.extensions["connect"].db.engine.pool.checkedout()))
        return Json({"items": [{"id": "A-1", "name": "MacBook Pro"}]})

    upstream.route("/api/assets", answer)
    first = options(client, item, issue="DEMO-1")
    assert first.status_code == 200 and first.json["cached"] is False
    assert held == [(0, 0)]
