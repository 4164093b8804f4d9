"""Registers the demo's sample API, once, with everything a newcomer needs to try it.

``seed_demo(app, base_url)`` creates, when the datasource "Demo Assets API" does not
exist yet:

* users ``admin`` (admin, password ``admin``), ``alice`` and ``bob`` (members, passwords
  ``alice`` and ``bob``) — existing users are left as they are;
* the project DEMO with alice and bob as members, and issues DEMO-1 to DEMO-3;
* the datasource (API key in the ``X-Api-Key`` header) and seven connected items shown
  on DEMO issues: Asset, Asset search, Continent, Country (depends on Continent),
  Related issues, Asset owner (read-only) and Any asset (read from every page of a
  paged endpoint: its own ``link_header`` pagination);

and ``seed_tracker(app, api_url)`` adds, on every start, the issue picker "Linked
issue" on this tracker's own JQL search (see its docstring).

When the datasource exists it changes nothing but its URLs, which follow the sample
API's port (a new one each run), and clears its cached answers when they changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import func, select

from connect_plugin import for_hosts

from .upstream import API_KEY, API_KEY_HEADER

DATASOURCE_NAME = "Demo Assets API"
PROJECT_KEY = "DEMO"
ACTOR = "demo-seed"
DEMO_AUTH = {"mode": "api_key", "location": "header", "key": API_KEY_HEADER, "value": API_KEY}

USERS = (
    # username, password, admin, email, display name
    ("admin", "admin", True, "admin@example.com", "Ada Admin"),
    ("alice", "alice", False, "alice@example.com", "Alice Martin"),
    ("bob", "bob", False, "bob@example.com", "Bob Keller"),
)
LOGINS = tuple((name, password, admin) for name, password, admin, _email, _display in USERS)

ISSUES = (
    # reporter, summary, description
    ("alice", "Set up a new laptop for Alice's onboarding",
     "Pick the Asset she will use: the list comes live from the sample API, filtered by the e-mail "
     "of whoever edits the issue. Then choose a Continent and a Country for the shipping address."),
    ("bob", "Laptop C02XK1 does not charge any more",
     "The read-only field Asset owner looks the serial number in this summary up in the sample API; "
     "Related issues searches it for issues with the same words."),
    ("admin", "Ship a replacement monitor to the Lyon office",
     "Choose Europe, then France: the Country list waits for a Continent and reloads when it changes."),
)

ASSET_OPTIONS = {"path": "$.items[*]", "value": "${row.id}", "label": "${row.name} (${row.serial})"}


@dataclass
class SeedResult:
    created: bool
    datasource_id: int
    items: dict[str, int] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    updated_urls: bool = False


def _config_urls(base_url: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    return {
        "base_url": base,
        "health_check_url": f"{base}/health",
        "documentation_url": f"{parts.scheme}://{parts.netloc}{parts.path}/",
    }


def seed_demo(app: Flask, base_url: str) -> SeedResult:
    """Register the sample API at ``base_url`` (``https://127.0.0.1:<port>/api``) once;
    on later runs only follow its URL. Safe to call on every start. Goes through the
    plugin's public API for hosts, so the demo obeys the admin API's rules."""
    with app.app_context():
        existing = for_hosts.find_datasource(DATASOURCE_NAME)
        if existing is not None:
            return _follow_url(existing, base_url)

        issues = _seed_host()
        datasource = for_hosts.create_datasource({
            "name": DATASOURCE_NAME,
            "type": "rest",
            "config": {**_config_urls(base_url), "cache_ttl_seconds": 60, "timeout_seconds": 10},
            "auth": DEMO_AUTH,
        }, actor=ACTOR)
        items = _seed_items(datasource["id"])
        return SeedResult(created=True, datasource_id=datasource["id"], items=items, issues=issues)


TRACKER_NAME = "This tracker (Jira REST API)"
TRACKER_USER = "connect-reader"
PICKER_NAME = "Linked issue"
# A Jira-shaped issue picker, as Elements Connect users write it: the user's text in a
# JQL string of the host's own search. The text is URL-encoded into the jql parameter;
# what it may find is what the service account may see.
PICKER_QUERY = ("/search?jql=project%20%3D%20DEMO%20AND%20summary%20~%20%22$userInput%22%20ORDER%20BY%20key"
                "&maxResults=20")
PICKER_OPTIONS = {"path": "$.issues[*]", "value": "${row.key}", "label": "${row.key}: ${row.fields.summary}"}


def seed_tracker(app: Flask, api_url: str) -> int:
    """The demo's issue picker: a datasource on this host's own ``/rest/api/2``
    (``api_url``, HTTPS on loopback) read by a service account that is a member of
    DEMO, and the autocomplete item "Linked issue". The account's password is made
    anew on every start and given to the datasource with its new URL (secrets never
    follow a URL to another port unasked). Returns the item's id."""
    import secrets

    from plugin_host.auth import find_user
    from plugin_host.db import session as host_session
    from plugin_host.models import Project, User

    password = secrets.token_urlsafe(18)
    with app.app_context():
        db = host_session()
        user = find_user(TRACKER_USER)
        if user is None:
            user = User(username=TRACKER_USER, is_admin=False, email="", display_name="Connect (demo reader)")
            db.add(user)
        user.set_password(password)
        project = db.scalar(select(Project).where(Project.key == PROJECT_KEY))
        if user not in project.members:
            project.members.append(user)
        db.commit()
        auth = {"mode": "basic", "username": TRACKER_USER, "password": password}
        config = {"base_url": api_url, "health_check_url": f"{api_url}/myself",
                  "documentation_url": "https://developer.atlassian.com/cloud/jira/platform/rest/v2/",
                  "cache_ttl_seconds": 30, "timeout_seconds": 10}
        existing = for_hosts.find_datasource(TRACKER_NAME)
        if existing is None:
            datasource_id = for_hosts.create_datasource({"name": TRACKER_NAME, "type": "rest", "config": config,
                                                         "auth": auth}, actor=ACTOR)["id"]
        else:
            datasource_id = existing["id"]
            for_hosts.update_datasource(datasource_id, {"config": config, "auth": auth}, actor=ACTOR)
        return for_hosts.create_item({
            "name": PICKER_NAME, "datasource_id": datasource_id, "editor": "autocomplete", "query": PICKER_QUERY,
            "options": PICKER_OPTIONS, "projects": [PROJECT_KEY]}, actor=ACTOR)["id"]


def _follow_url(datasource: dict, base_url: str) -> SeedResult:
    """The demo API listens on another port this run: point the datasource at it.
    Stored secrets never follow a URL to another origin unasked, so the demo gives
    its own key again (it is the demo API's, not an admin's)."""
    wanted = _config_urls(base_url)
    changed = {k: v for k, v in wanted.items() if datasource["config"].get(k) != v}
    if changed:
        for_hosts.update_datasource(datasource["id"], {"config": changed, "auth": DEMO_AUTH}, actor=ACTOR)
        for_hosts.clear_datasource_cache(datasource["id"], actor=ACTOR)
    return SeedResult(created=False, datasource_id=datasource["id"], items=for_hosts.item_ids(datasource["id"]),
                      updated_urls=bool(changed))


def _seed_host() -> list[str]:
    """Users, the DEMO project and its issues, in the host's own session (committed
    before the plugin writes: with SQLite both share one file)."""
    from plugin_host import issue_service
    from plugin_host.auth import find_user
    from plugin_host.db import session as host_session
    from plugin_host.models import Issue, Project, User

    db = host_session()
    users = {}
    for username, password, admin, email, display_name in USERS:
        user = find_user(username)
        if user is None:
            user = User(username=username, is_admin=admin, email=email, display_name=display_name)
            user.set_password(password)
            db.add(user)
        users[username] = user
    db.flush()

    project = db.scalar(select(Project).where(Project.key == PROJECT_KEY))
    if project is None:
        project = issue_service.create_project(PROJECT_KEY, "Demo", ["alice", "bob"])
    else:
        for username in ("alice", "bob"):
            if users[username] not in project.members:
                project.members.append(users[username])
    keys = []
    has_issues = db.scalar(select(func.count()).select_from(Issue).where(Issue.project_id == project.id))
    if not has_issues:
        for reporter, summary, description in ISSUES:
            issue = issue_service.create_issue(project, users[reporter],
                                               {"summary": summary, "description": description})
            keys.append(issue.key)
    db.commit()
    return keys


def _seed_items(datasource_id: int) -> dict[str, int]:
    ids: dict[str, int] = {}

    def item(name: str, editor: str, query: str, options: dict[str, str], **more) -> int:
        ids[name] = for_hosts.create_item({
            "name": name, "datasource_id": datasource_id, "editor": editor, "query": query,
            "options": options, "projects": [PROJECT_KEY], **more,
        }, actor=ACTOR)["id"]
        return ids[name]

    item("Asset", "select", "/assets?owner=$currentUser.emailAddress", {**ASSET_OPTIONS, "details": [
        {"name": "Serial", "template": "${row.serial}"}, {"name": "Type", "template": "${row.type}"},
        {"name": "Owner", "template": "${row.owner}"}]})
    item("Asset search", "autocomplete", "/assets?q=$userInput", ASSET_OPTIONS)
    continent = item("Continent", "select", "/continents",
                     {"path": "$[*]", "value": "${row.code}", "label": "${row.name}"})
    item("Country", "select", f"/countries?continent=$issue.{for_hosts.field_key(continent)}",
         {"path": "$.countries[*]", "value": "${row.code}", "label": "${row.name}"})
    item("Related issues", "multiselect", "/search?jql=$issue.summary",
         {"path": "$.issues[*]", "value": "${row.key}", "label": "${row.key}: ${row.fields.summary}"})
    item("Asset owner (read-only)", "readonly", "/assets?q=$issue.summary",
         {"path": "$.items[*]", "value": "${row.id}", "label": "${row.owner}"})
    item("Any asset", "select", "/assets/paged?per_page=10", {**ASSET_OPTIONS, "path": "$[*]"},
         pagination={"mode": "link_header", "max_pages": 10})
    return ids
