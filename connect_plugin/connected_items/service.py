"""Creating, changing, reading and deleting connected items.

Everything an item will need at run time is checked when it is saved: the query's
variables (an unknown one is refused by name), the items it depends on (they must
exist and must not depend back on it), the JSONPath and the option templates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .. import audit, named_records
from ..datasources.pagination_setting import clean_pagination
from ..auth_modes import AUTH_MODES
from ..errors import Conflict, ValidationError
from ..models import ConnectedItem, Datasource, valid_id
from .catalogue import field_key
from .mapping import compile_mapping
from . import item_request
from .query import parse_query

EDITORS = {
    "select": "Select list",
    "multiselect": "Multi-select list",
    "autocomplete": "Autocomplete",
    "readonly": "Read-only",
}
DEFAULT_OPTIONS = {"path": "$[*]", "value": "${row.id}", "label": "${row.name}"}


def get(session: Session, item_id: int) -> ConnectedItem:
    return named_records.get(session, ConnectedItem, item_id, "connected item")


def list_all(session: Session) -> list[ConnectedItem]:
    return named_records.list_all(session, ConnectedItem)


def items_for_project(session: Session, project_key: str | None) -> list[ConnectedItem]:
    return [item for item in list_all(session) if item.offered_in(project_key)]


def dependencies(item: ConnectedItem) -> frozenset[int]:
    return parse_query(item.query).depends_on_items | _request(item).depends_on_items


def _request(item: ConnectedItem) -> item_request.RequestTemplate:
    return item_request.compile_request(item.method, item.body, item.headers)


def serialize(item: ConnectedItem) -> dict[str, Any]:
    template = parse_query(item.query)
    request = _request(item)
    return {
        "id": item.id,
        "name": item.name,
        "field_key": item.field_key,
        "datasource_id": item.datasource_id,
        "datasource_name": item.datasource.name if item.datasource else None,
        "editor": item.editor,
        "query": item.query,
        "method": item.method or "GET",
        "body": item.body,
        "headers": [dict(h) for h in item.headers or ()],
        "options": _options_json(item),
        "projects": item.projects,
        "pagination": item.pagination,
        "depends_on": sorted(template.depends_on_items | request.depends_on_items),
        "uses_user_input": template.uses_user_input or "userInput" in request.variables,
        "version": item.version,
    }


def _options_json(item: ConnectedItem) -> dict[str, Any]:
    """The mapping as the API shows it; ``details`` only when the item has some."""
    options: dict[str, Any] = {"path": item.options_path, "value": item.value_template, "label": item.label_template}
    if item.details:
        options["details"] = [dict(d) for d in item.details]
    return options


def _validate(session: Session, payload: dict[str, Any], current: ConnectedItem | None) -> dict[str, Any]:
    """Merge ``payload`` over ``current`` and check the result; returns column values.
    Every part is checked, so one answer names every problem."""
    errors: dict[str, str] = {}
    base = serialize(current) if current else {"options": dict(DEFAULT_OPTIONS), "projects": None, "query": ""}
    merged = {**base, **{k: v for k, v in payload.items() if k != "options"}}
    options_patch = payload.get("options", {})
    if not isinstance(options_patch, dict):
        errors["options"] = "options must be an object with path, value and label."
        options_patch = {}
    options = {**base["options"], **options_patch}

    name, problem = named_records.check_name(session, ConnectedItem, merged.get("name"), current, "connected item")
    if problem:
        errors["name"] = problem
    datasource_id = merged.get("datasource_id")
    if isinstance(datasource_id, str) and datasource_id.isdigit():
        datasource_id = int(datasource_id)
    if not valid_id(datasource_id) or session.get(Datasource, datasource_id) is None:
        errors["datasource_id"] = "Choose an existing datasource."
    editor = merged.get("editor")
    if editor not in EDITORS:
        errors["editor"] = f"Editor must be one of: {', '.join(EDITORS)}."
    query = _checked_query(session, merged.get("query") or "", current, errors)
    details = _check_options(options, errors)
    projects = _checked_projects(merged.get("projects"), errors)
    pagination = _checked_pagination(merged.get("pagination"), errors)
    method, body, headers = _checked_request(session, merged, datasource_id, query, current, errors)

    if errors:
        raise ValidationError("The connected item is not valid.", errors)
    return {
        "name": name, "datasource_id": datasource_id, "editor": editor, "query": query,
        "options_path": options["path"], "value_template": options["value"],
        "label_template": options["label"], "details": details, "projects": projects,
        "pagination": pagination, "method": method, "body": body, "headers": headers,
    }


def _checked_request(session: Session, merged: dict[str, Any], datasource_id: Any, query: Any,
                     current: ConnectedItem | None, errors: dict[str, str]) -> tuple[str, Any, list[dict[str, str]]]:
    """The method, body and headers (:mod:`.item_request`), and the items their
    variables depend on checked like the query's."""
    datasource = session.get(Datasource, datasource_id) if valid_id(datasource_id) else None
    mode = AUTH_MODES.get(datasource.auth_mode) if datasource is not None else None
    auth_headers = mode().header_names(datasource.auth_config) if mode is not None else ()
    found: dict[str, str] = {}
    method = item_request.clean_method(merged.get("method"), found)
    body = item_request.clean_body(merged.get("body"), method, found)
    headers = item_request.clean_headers(merged.get("headers"), auth_headers, found)
    errors.update(found)
    if found or "query" in errors:
        return method, body, headers
    request = item_request.compile_request(method, body, headers)
    if request.depends_on_items - parse_query(query).depends_on_items:
        problem = _check_dependencies(session, parse_query(query).depends_on_items | request.depends_on_items,
                                      current)
        if problem:
            where = "body" if body is not None and item_request.compile_body(body)[1] & {
                f"issue.{field_key(i)}" for i in request.depends_on_items} else "headers"
            errors[where] = problem["query"]
    return method, body, headers


def _checked_query(session: Session, query: Any, current: ConnectedItem | None, errors: dict[str, str]) -> Any:
    if not isinstance(query, str):
        errors["query"] = "Query must be text."
        return query
    query = query.strip()
    try:
        template = parse_query(query)
    except ValidationError as exc:
        errors.update(exc.fields or {"query": exc.message})
        return query
    errors.update(_check_dependencies(session, template.depends_on_items, current))
    return query


def _check_options(options: dict[str, Any], errors: dict[str, str]) -> list[dict[str, str]]:
    """Check the mapping; returns the details as stored (``[{"name", "template"}]``)."""
    for key in ("path", "value", "label"):
        if not isinstance(options.get(key), str):
            errors[f"options.{key}"] = f"options.{key} must be text."
    details = _details(options.get("details") or [], errors)
    if not any(k.startswith("options.") for k in errors):
        try:
            compile_mapping(options["path"], options["value"], options["label"],
                            tuple((d["name"], d["template"]) for d in details))
        except ValidationError as exc:
            errors.update(exc.fields or {"options": exc.message})
    return [{"name": d["name"].strip(), "template": d["template"]} for d in details]


def _details(raw: Any, errors: dict[str, str]) -> list[dict[str, str]]:
    shape = 'options.details must be a list of {"name": …, "template": …}.'
    if not isinstance(raw, list) or not all(isinstance(d, dict) and isinstance(d.get("name"), str)
                                            and isinstance(d.get("template"), str) for d in raw):
        errors["options.details"] = shape
        return []
    unknown = sorted({key for d in raw for key in d} - {"name", "template"})
    if unknown:
        errors["options.details"] = f"{shape} Unknown: {', '.join(unknown)}."
        return []
    return raw


def _checked_projects(projects: Any, errors: dict[str, str]) -> list[str] | None:
    """Project keys, upper-cased and sorted; None (every project) when none are given."""
    if projects is None:
        return None
    if isinstance(projects, str):
        projects = [p for p in (s.strip() for s in projects.split(",")) if p]
    if not isinstance(projects, list) or not all(isinstance(p, str) and p.strip() for p in projects):
        errors["projects"] = "Projects must be a list of project keys, or null for all projects."
        return projects
    return sorted({p.strip().upper() for p in projects}) or None


def _checked_pagination(raw: Any, errors: dict[str, str]) -> dict[str, Any] | None:
    """The item's own pagination; None (its datasource's) when not given."""
    if raw is None:
        return None
    try:
        return clean_pagination(raw, "pagination")
    except ValidationError as exc:
        errors.update(exc.fields)
        return None


def _check_dependencies(session: Session, depends_on: frozenset[int], current: ConnectedItem | None) -> dict:
    for dep_id in sorted(depends_on):
        if current is not None and dep_id == current.id:
            return {"query": f"$issue.{field_key(dep_id)} is this item itself; an item cannot depend on itself."}
        if not valid_id(dep_id) or session.get(ConnectedItem, dep_id) is None:
            return {"query": f"$issue.{field_key(dep_id)} names no existing connected item."}
    if current is None:
        return {}
    # A new dependency must not lead back to this item through other items.
    graph = {item.id: dependencies(item) for item in list_all(session)}
    graph[current.id] = depends_on
    stack, seen = list(depends_on), set()
    while stack:
        node = stack.pop()
        if node == current.id:
            return {"query": "These dependencies form a cycle: an item would depend on itself through others."}
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return {}


def create(session: Session, payload: Any, *, actor: str) -> ConnectedItem:
    if not isinstance(payload, dict):
        raise ValidationError("The request body must be a JSON object.")
    values = _validate(session, payload, None)
    item = ConnectedItem(**values)
    session.add(item)
    session.flush()
    audit.record(session, actor, "created", item, values.keys())
    return item


def update(session: Session, item: ConnectedItem, payload: Any, *, actor: str) -> ConnectedItem:
    if not isinstance(payload, dict):
        raise ValidationError("The request body must be a JSON object.")
    values = _validate(session, payload, item)
    changed = [k for k, v in values.items() if getattr(item, k) != v]
    if not changed:
        return item
    for key in changed:
        setattr(item, key, values[key])
    item.version += 1
    session.flush()
    session.refresh(item, ["datasource"])
    audit.record(session, actor, "updated", item, changed)
    return item


def delete(session: Session, item: ConnectedItem, *, actor: str) -> None:
    users = [other for other in list_all(session) if other.id != item.id and item.id in dependencies(other)]
    if users:
        names = ", ".join(other.name for other in users)
        raise Conflict(f"{item.name} is used by the queries of: {names}. Change them first.")
    audit.record(session, actor, "deleted", item)
    session.delete(item)
    session.flush()
