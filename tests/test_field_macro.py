"""The issue field macro (templates/connect/fields.html): every editor renders the
stored label without JavaScript or a reachable API, plus what fields.js needs."""

from __future__ import annotations

import base64
import re

from flask import render_template_string

MACRO = ('{% from "connect/fields.html" import connected_field %}'
         "{{ connected_field(field, snapshot, issue_key, error) }}")


def field(editor: str, depends_on=(1,), uses_user_input=False) -> dict:
    return {"id": 3, "name": "Asset", "field_key": "connected_item_3", "editor": editor,
            "depends_on": list(depends_on), "uses_user_input": uses_user_input}


def render(app, editor, snapshot, error=None, issue_key="DEMO-1", **kw) -> str:
    with app.test_request_context():
        return render_template_string(MACRO, field=field(editor, **kw), snapshot=snapshot, issue_key=issue_key,
                                      error=error)


LAPTOP = {"value": "42", "label": "Laptop <42>"}


def common(html: str) -> None:
    assert '<input type="hidden" name="connected_item_3__present" value="1">' in html
    assert 'data-options-url="/plugins/connect/api/items/3/options"' in html
    assert 'data-issue="DEMO-1"' in html
    assert 'data-depends-on="connected_item_1"' in html
    assert re.search(r'<label for="[^"]+" id="connected_item_3-label">Asset</label>', html)
    assert "Laptop &lt;42&gt;" in html and "Laptop <42>" not in html
    assert 'id="connected_item_3-status" aria-live="polite"' in html
    assert "style=" not in html and "<script" not in html


def test_select(app):
    html = render(app, "select", LAPTOP)
    common(html)
    assert 'data-editor="select"' in html
    assert '<select id="connected_item_3" name="connected_item_3"' in html and "multiple" not in html
    assert '<option value="">None</option>' in html
    assert '<option value="42" selected>Laptop &lt;42&gt;</option>' in html


def test_select_without_a_value(app):
    html = render(app, "select", None, depends_on=())
    assert '<option value="">None</option>' in html
    assert "selected" not in html
    assert 'data-depends-on=""' in html


def test_multiselect(app):
    html = render(app, "multiselect", [LAPTOP, {"value": "7", "label": "Phone"}])
    common(html)
    assert re.search(r'<select id="connected_item_3" name="connected_item_3" multiple', html)
    assert '<option value="">None</option>' not in html
    assert '<option value="42" selected>' in html and '<option value="7" selected>Phone</option>' in html


def test_autocomplete(app):
    html = render(app, "autocomplete", LAPTOP, uses_user_input=True)
    common(html)
    combobox = re.search(r'<input type="text" id="connected_item_3-input"[^>]*>', html, re.S).group(0)
    for attr in ('role="combobox"', 'aria-autocomplete="list"', 'aria-expanded="false"',
                 'aria-controls="connected_item_3-listbox"', 'value="Laptop &lt;42&gt;"', 'autocomplete="off"'):
        assert attr in combobox
    assert '<label for="connected_item_3-input" id="connected_item_3-label">Asset</label>' in html
    assert '<ul id="connected_item_3-listbox" class="connect-listbox" role="listbox" aria-label="Suggestions"' in html
    assert '<input type="hidden" id="connected_item_3" name="connected_item_3" value="42"' in html
    assert 'data-uses-user-input="true"' in html


def test_readonly(app):
    html = render(app, "readonly", LAPTOP)
    common(html)
    assert re.search(r'<output id="connected_item_3"[^>]*>Laptop &lt;42&gt;</output>', html)
    assert "data-live" in html
    assert 'name="connected_item_3"' not in html


def test_error_is_shown_next_to_the_field(app):
    html = render(app, "select", LAPTOP, error="Laptop <42> is no longer offered.")
    assert '<p class="field-error" id="connected_item_3-error">Laptop &lt;42&gt; is no longer offered.</p>' in html
    assert 'aria-describedby="connected_item_3-status connected_item_3-error"' in html
    assert 'aria-invalid="true"' in html


def test_the_page_names_its_own_inputs_for_the_script(app):
    """The host's field names reach fields.js only through the macro's ``form_fields``."""
    assert 'data-form-fields=""' in render(app, "select", LAPTOP)
    with app.test_request_context():
        html = render_template_string(
            '{% from "connect/fields.html" import connected_field %}'
            '{{ connected_field(field, None, "DEMO-1", form_fields=["summary", "description"]) }}',
            field=field("select"))
    assert 'data-form-fields="summary description"' in html


def test_a_create_screen_names_its_project_for_the_script(app):
    """No issue yet: the macro hands the project to fields.js, which asks for options
    with project= (the right checked is creating issues there)."""
    with app.test_request_context():
        html = render_template_string(
            '{% from "connect/fields.html" import connected_field %}'
            '{{ connected_field(field, None, None, project_key="DEMO") }}', field=field("select"))
        editing = render_template_string(
            '{% from "connect/fields.html" import connected_field %}'
            '{{ connected_field(field, None, "DEMO-1", project_key="DEMO") }}', field=field("select"))
    assert 'data-issue=""' in html and 'data-project="DEMO"' in html
    assert 'data-issue="DEMO-1"' in editing and 'data-project=""' in editing  # the issue names its project


def test_the_script_hard_codes_no_host_field_name():
    from pathlib import Path
    static = Path(__file__).resolve().parents[1] / "static" / "connect"
    for script in [static / "fields.js", *sorted((static / "fields").glob("*.js"))]:
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", script.read_text(), flags=re.S)
        for name in ("summary", "description", "reporter"):
            assert f'"{name}"' not in code, (script.name, name)


def test_create_screen_has_no_issue(app):
    assert 'data-issue=""' in render(app, "select", None, issue_key=None)


def test_browse_page_uses_the_macro(app):
    """The host's issue page: the stored label shows though no API is reachable."""
    from plugin_host.db import session as host_session
    from plugin_host.models import Issue

    from connect_plugin.connected_items import service as item_service
    from connect_plugin.datasources import service as datasource_service
    from connect_plugin.state import session, state

    app.test_cli_runner().invoke(args=["users", "create", "admin", "--password", "pw", "--admin"])
    with app.test_request_context():
        ds = datasource_service.create(session(), {"name": "Assets", "type": "rest",
                                                   "config": {"base_url": "https://assets.invalid/api"}},
                                       box=state().box, policy=state().policy, actor="test")
        item = item_service.create(session(), {"name": "Asset", "datasource_id": ds.id, "editor": "autocomplete",
                                               "query": "/assets?q=$userInput"}, actor="test")
        session().commit()
        key = item.field_key
    client = app.test_client()
    basic = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()}
    assert client.post("/rest/api/2/project", json={"key": "DEMO", "name": "Demo", "members": ["admin"]},
                       headers=basic).status_code == 201
    response = client.post("/rest/api/2/issue", json={"fields": {"project": {"key": "DEMO"}, "summary": "Hi"}},
                           headers=basic)
    issue_key = response.get_json()["key"]
    with app.app_context():
        issue = host_session().query(Issue).filter_by(key=issue_key).one()
        issue.custom_fields = {key: {"value": "42", "label": "Laptop 42"}}
        host_session().commit()
    html = client.get(f"/browse/{issue_key}", headers=basic).get_data(as_text=True)
    assert f'name="{key}__present"' in html
    assert 'value="Laptop 42"' in html and f'name="{key}" value="42"' in html
    static = re.search(r'<script type="module" src="(/plugins/connect/static/[0-9a-f]{12}/)connect/fields.js">'
                       r'</script>', html)
    assert static is not None and f'href="{static.group(1)}connect/connect.css"' in html
    for module in ("request", "editors", "combobox"):
        assert f'<link rel="modulepreload" href="{static.group(1)}connect/fields/{module}.js">' in html
    assert 'data-form-fields="summary description"' in html
