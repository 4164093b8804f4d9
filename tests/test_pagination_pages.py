"""Pagination on the admin pages: the wizard's server details and the item page offer
the modes with their settings, errors land next to the setting, and the tester
(without JavaScript) lists each page it read from a real loopback HTTPS API."""

from __future__ import annotations

import re

from tests.support.https_servers import Json
from tests.test_admin_pages import (  # noqa: F401 - fixtures
    ADMIN, admin, app, configure_data, field_error, load, make_datasource, post, text,
)

MODES = ("One answer (no paging)", 'Link header (rel=&#34;next&#34;)', "Next page URL in the answer",
         "Cursor in the answer", "Offset and limit", "Page number")


def item_data(ds: int, **overrides) -> dict:
    data = {"name": "Asset", "datasource_id": str(ds), "editor": "select", "query": "/assets",
            "options_path": "$[*]", "value_template": "${row.id}", "label_template": "${row.name}",
            "details": "", "projects": ""}
    data.update(overrides)
    return data


def load_item(app, item_id: int) -> dict:
    from connect_plugin.connected_items import service
    from connect_plugin.state import session

    with app.test_request_context():
        return service.serialize(service.get(session(), item_id))


def test_the_wizard_offers_every_mode_with_its_settings(admin):
    html = text(post(admin, f"{ADMIN}/datasources/new/rest", {"name": "Paged"}))
    assert "<legend>Pages</legend>" in html
    for label in MODES:
        assert f">{label}</option>" in html, label
    for label in ("Next page URL path", "Cursor path", "Cursor parameter", "Offset parameter", "Limit parameter",
                  "Page parameter", "First page number", "Page size parameter", "Page size", "Pages at most"):
        assert re.search(rf'<label for="pagination_[a-z_]+">{re.escape(label)}</label>', html), label
    assert 'data-pagination-modes="cursor"' in html and '<option selected value="none">' in html


def test_the_wizard_saves_a_cursor_pagination(app, admin):
    response = post(admin, f"{ADMIN}/datasources/new/rest", configure_data(
        pagination_mode="cursor", pagination_cursor_path="$.meta.next", pagination_cursor_param="after",
        pagination_max_pages="25", pagination_next_path="$.ignored"))
    assert response.status_code == 302
    data, _ = load(app, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert data["config"]["pagination"] == {"mode": "cursor", "cursor_path": "$.meta.next", "cursor_param": "after",
                                            "max_pages": 25}
    html = text(admin.get(response.headers["Location"]))
    assert '<option selected value="cursor">' in html and 'value="$.meta.next"' in html and 'value="25"' in html


def test_a_missing_setting_is_shown_next_to_its_field(app, admin):
    response = post(admin, f"{ADMIN}/datasources/new/rest", configure_data(
        pagination_mode="offset", pagination_offset_param="start", pagination_max_pages="500"))
    html = text(response)
    assert response.status_code == 400
    assert "Limit parameter is required" in field_error(html, "pagination_limit_param")
    assert "between 1 and 100" in field_error(html, "pagination_max_pages")
    assert 'value="start"' in html


def test_choosing_one_answer_again_removes_the_pagination(app, admin):
    response = post(admin, f"{ADMIN}/datasources/new/rest", configure_data(pagination_mode="link_header"))
    url = response.headers["Location"]
    ds = int(url.rsplit("/", 1)[1])
    assert load(app, ds)[0]["config"]["pagination"] == {"mode": "link_header", "max_pages": 10}
    assert post(admin, url, configure_data(pagination_mode="none")).status_code == 302
    assert "pagination" not in load(app, ds)[0]["config"]


def test_the_item_page_inherits_by_default_and_saves_its_own(app, admin):
    ds = make_datasource(app)
    html = text(admin.get(f"{ADMIN}/items/new"))
    assert '<option selected value="">As the datasource</option>' in html and "<legend>Pages</legend>" in html

    response = post(admin, f"{ADMIN}/items/new", item_data(ds))
    item = int(response.headers["Location"].rsplit("/", 1)[1])
    assert load_item(app, item)["pagination"] is None

    response = post(admin, f"{ADMIN}/items/{item}", item_data(ds, pagination_mode="next_url"))
    assert response.status_code == 400
    assert "Next page URL path is required" in field_error(text(response), "pagination_next_path")

    response = post(admin, f"{ADMIN}/items/{item}", item_data(ds, pagination_mode="page",
                                                                pagination_page_param="p", pagination_page_size="50"))
    assert response.status_code == 302
    assert load_item(app, item)["pagination"] == {"mode": "page", "page_param": "p", "first_page": 1,
                                                  "page_size": 50, "max_pages": 10}
    assert '<option selected value="page">' in text(admin.get(f"{ADMIN}/items/{item}"))
    post(admin, f"{ADMIN}/items/{item}", item_data(ds, pagination_mode="none"))
    assert load_item(app, item)["pagination"] == {"mode": "none"}


def test_the_tester_page_lists_each_page_read(app, admin, upstream):
    from connect_plugin.connected_items import service
    from connect_plugin.datasources import service as datasource_service
    from connect_plugin.state import session, state

    rows = [{"id": f"R{n}", "name": f"Row {n}"} for n in range(5)]
    upstream.route("/api/rows", lambda request: Json(rows[int(request.param("offset")):][:2]))
    with app.test_request_context():
        ds = datasource_service.create(session(), {
            "name": "Paged", "type": "rest", "config": {"base_url": upstream.url("/api"), "pagination": {
                "mode": "offset", "offset_param": "offset", "limit_param": "limit", "page_size": 2,
                "max_pages": 2}}}, box=state().box, policy=state().policy, actor="test")
        item = service.create(session(), {"name": "Rows", "datasource_id": ds.id, "editor": "select",
                                          "query": "/rows"}, actor="test")
        session().commit()
        item_id = item.id
    html = text(post(admin, f"{ADMIN}/items/{item_id}/test", {"issue": "", "user": "", "q": ""}))
    assert "Pages read (stopped at the most pages allowed; more exist)" in html
    assert re.search(r"<td>1</td><td><code>[^<]*/api/rows\?offset=0&amp;limit=2</code></td><td>200</td><td>2</td>",
                     html)
    assert re.search(r"<td>2</td><td><code>[^<]*offset=2&amp;limit=2</code></td><td>200</td><td>2</td>", html)
