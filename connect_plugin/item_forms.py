"""The connected item page's forms, and the translation between them and the API's
item payload (:mod:`.forms` holds the datasource forms and what both share).

The item form writes two lists as text, a line each, because admins paste them:
``Name: value`` for the item's headers and ``Name = template`` for its details; a
line the service cannot take comes back as that field's error, so nothing typed is
lost.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from . import pagination_fields
from .connected_items.catalogue import VARIABLES
from .connected_items.item_request import METHODS
from .connected_items.service import DEFAULT_OPTIONS, EDITORS
from .datasources.headers import MAX_HEADERS
from .forms import choices


# The help list of the item form: the parser's own catalogue, with the $ written.
QUERY_VARIABLES = tuple((f"${v.name}", v.help) for v in VARIABLES)

ITEM_ERROR_MAP = {
    "name": "name", "datasource_id": "datasource_id", "editor": "editor", "query": "query",
    "options.path": "options_path", "options.value": "value_template", "options.label": "label_template",
    "options": "options_path", "options.details": "details", "projects": "projects",
    **pagination_fields.error_map("pagination"),
    "method": "method", "body": "body", "headers": "headers",
    **{f"headers[{i}]{part}": "headers" for i in range(MAX_HEADERS) for part in ("", ".name", ".value")},
}

_ItemPaginationForm = type("_ItemPaginationForm", (FlaskForm,), pagination_fields.form_fields(choices, inherit=True))


class ItemForm(_ItemPaginationForm):
    name = StringField("Name")
    datasource_id = SelectField("Datasource", choices=[], validate_choice=False)
    editor = SelectField("Editor", choices=choices(EDITORS.items()), default="select", validate_choice=False)
    query = TextAreaField("Query", render_kw={"rows": 2, "spellcheck": "false"})
    options_path = StringField("Rows (JSONPath)", default=DEFAULT_OPTIONS["path"],
                               render_kw={"spellcheck": "false"})
    value_template = StringField("Value template", default=DEFAULT_OPTIONS["value"],
                                 render_kw={"spellcheck": "false"})
    label_template = StringField("Label template", default=DEFAULT_OPTIONS["label"],
                                 render_kw={"spellcheck": "false"})
    details = TextAreaField("Details", render_kw={"rows": 3, "spellcheck": "false"})
    projects = StringField("Projects")
    method = SelectField("Method", choices=choices((m, m) for m in METHODS), default="GET", validate_choice=False)
    headers = TextAreaField("Headers", render_kw={"rows": 2, "spellcheck": "false"})
    body = TextAreaField("Body (JSON)", render_kw={"rows": 5, "spellcheck": "false"})


def item_form(datasources: list[tuple[int, str]], serialized: Mapping[str, Any] | None = None,
              *, from_request: bool = True) -> ItemForm:
    if from_request:
        form = ItemForm()
    elif serialized is None:
        form = ItemForm(formdata=None)
    else:
        form = ItemForm(formdata=None, data={
            "name": serialized["name"], "datasource_id": str(serialized["datasource_id"]),
            "editor": serialized["editor"], "query": serialized["query"],
            "options_path": serialized["options"]["path"], "value_template": serialized["options"]["value"],
            "label_template": serialized["options"]["label"],
            "details": "\n".join(f"{d['name']} = {d['template']}" for d in serialized["options"].get("details", [])),
            "projects": ", ".join(serialized["projects"] or []),
            **pagination_fields.form_data(serialized.get("pagination"), inherit=True),
            "method": serialized.get("method", "GET"),
            "headers": "\n".join(f"{h['name']}: {h['value']}" for h in serialized.get("headers") or ()),
            "body": "" if serialized.get("body") is None else json.dumps(serialized["body"], indent=2,
                                                                          ensure_ascii=False),
        })
    form.datasource_id.choices = choices([("", "Choose a datasource")] + [(str(i), n) for i, n in datasources])
    return form


def item_payload(form: ItemForm) -> dict[str, Any]:
    raw_id = (form.datasource_id.data or "").strip()
    projects = [p.strip() for p in (form.projects.data or "").split(",") if p.strip()]
    return {
        "name": form.name.data or "",
        "datasource_id": int(raw_id) if raw_id.isdigit() else None,
        "editor": form.editor.data,
        "query": form.query.data or "",
        "options": {"path": form.options_path.data or "", "value": form.value_template.data or "",
                    "label": form.label_template.data or "", "details": details_from_text(form.details.data or "")},
        "projects": projects or None,
        "pagination": pagination_fields.payload(form, inherit=True),
        "method": form.method.data or "GET",
        "headers": headers_from_text(form.headers.data or ""),
        "body": form.body.data if (form.body.data or "").strip() else None,
    }


def headers_from_text(text: str) -> list[dict[str, str]]:
    """``Name: value`` per line: the item page's way to write ``headers``."""
    return _pairs(text, ":", "value")


def _pairs(text: str, sep: str, second: str) -> list[dict[str, str]]:
    """``{"name", second}`` per non-blank line ``name <sep> rest``; a line without
    ``sep`` is kept with an empty second part, so the service names it."""
    pairs = []
    for line in text.splitlines():
        if line.strip():
            name, _, rest = line.partition(sep)
            pairs.append({"name": name.strip(), second: rest.strip()})
    return pairs


def details_from_text(text: str) -> list[dict[str, str]]:
    """``Name = template`` per line: the form's way to write ``options.details``."""
    return _pairs(text, "=", "template")


class TesterForm(FlaskForm):
    """The configuration tester; one more input per dependency is added by the page."""

    issue = StringField("Issue key", id="tester-issue")
    user = StringField("As user", id="tester-user")
    q = StringField("Search text ($userInput)", id="tester-q")


class RefreshForm(FlaskForm):
    """The item page's "Refresh stored values" button."""

    dry_run = BooleanField("Dry run: count what would change, write nothing", id="refresh-dry-run")
