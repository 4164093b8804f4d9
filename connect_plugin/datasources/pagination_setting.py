"""The ``pagination`` setting: its modes, their fields, and how a stored one is
cleaned. A datasource's ``config.pagination`` is the default of its items; an item's
own ``pagination`` replaces it (same shape). The walk that reads the pages is
:mod:`.pagination`; the form fields are ``connect_plugin/pagination_fields.py``.
"""

from __future__ import annotations

from typing import Any

from ..connected_items.jsonpath import compile_path
from ..errors import ValidationError

DEFAULT_MAX_PAGES = 10
MAX_PAGES = 100
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10000
MAX_PARAM_LENGTH = 100

# The settings of each mode: name -> (kind, required, default). Kinds: "path" (a
# JSONPath), "param" (a query parameter name), "int".
_MAX_PAGES_FIELD = {"max_pages": ("int", False, DEFAULT_MAX_PAGES)}
MODES: dict[str, dict[str, tuple[str, bool, Any]]] = {
    "none": {},
    "link_header": dict(_MAX_PAGES_FIELD),
    "next_url": {"next_path": ("path", True, None), **_MAX_PAGES_FIELD},
    "cursor": {"cursor_path": ("path", True, None), "cursor_param": ("param", True, None), **_MAX_PAGES_FIELD},
    "offset": {"offset_param": ("param", True, None), "limit_param": ("param", True, None),
               "page_size": ("int", False, DEFAULT_PAGE_SIZE), **_MAX_PAGES_FIELD},
    "page": {"page_param": ("param", True, None), "first_page": ("int", False, 1),
             "size_param": ("param", False, None), "page_size": ("int", False, DEFAULT_PAGE_SIZE),
             **_MAX_PAGES_FIELD},
}
MODE_LABELS = {
    "none": "One answer (no paging)",
    "link_header": "Link header (rel=\"next\")",
    "next_url": "Next page URL in the answer",
    "cursor": "Cursor in the answer",
    "offset": "Offset and limit",
    "page": "Page number",
}
FIELD_LABELS = {
    "mode": "Pagination", "next_path": "Next page URL path", "cursor_path": "Cursor path",
    "cursor_param": "Cursor parameter", "offset_param": "Offset parameter", "limit_param": "Limit parameter",
    "page_param": "Page parameter", "first_page": "First page number", "size_param": "Page size parameter",
    "page_size": "Page size", "max_pages": "Pages at most",
}
_INT_RANGES = {"max_pages": (1, MAX_PAGES), "page_size": (1, MAX_PAGE_SIZE), "first_page": (0, 1_000_000)}



def clean_pagination(raw: Any, prefix: str = "pagination") -> dict[str, Any]:
    """The stored form of a ``pagination`` object, or ValidationError naming each
    bad part as ``<prefix>.<setting>`` (e.g. ``pagination.next_path``)."""
    if not isinstance(raw, dict):
        raise ValidationError("The pagination settings are not valid.",
                              {prefix: 'pagination must be an object such as {"mode": "link_header"}.'})
    mode = raw.get("mode", "none")
    if mode not in MODES:
        raise ValidationError("The pagination settings are not valid.", {
            f"{prefix}.mode": f"Unknown pagination mode {mode!r}. Choose one of: {', '.join(MODES)}."})
    fields = MODES[mode]
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {"mode": mode}
    for name in raw:
        if name != "mode" and name not in fields:
            errors[f"{prefix}.{name}"] = f"The pagination mode {mode} has no setting {name!r}."
    for name, (kind, required, default) in fields.items():
        key, label = f"{prefix}.{name}", FIELD_LABELS[name]
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            if required:
                errors[key] = f"{label} is required for the pagination mode {mode}."
            elif default is not None:
                clean[name] = default
            continue
        problem = _problem(kind, name, label, value)
        if problem:
            errors[key] = problem
        else:
            clean[name] = int(value) if kind == "int" else value
    if errors:
        raise ValidationError("The pagination settings are not valid.", errors)
    return clean


def _problem(kind: str, name: str, label: str, value: Any) -> str | None:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (
                isinstance(value, str) and not value.lstrip("-").isdigit()):
            return f"{label} must be a whole number."
        low, high = _INT_RANGES[name]
        return None if low <= int(value) <= high else f"{label} must be between {low} and {high}."
    if not isinstance(value, str):
        return f"{label} must be text."
    if kind == "path":
        try:
            compile_path(value)
        except Exception as exc:  # jsonpath-ng raises several kinds
            detail = str(exc).strip().rstrip(".") or type(exc).__name__
            return f"{label}: the JSONPath is not valid: {detail}."
        return None
    if len(value) > MAX_PARAM_LENGTH or any(ord(ch) < 33 or ord(ch) == 127 for ch in value):
        return f"{label} must be a parameter name without spaces or control characters."
    return None


def effective(item_pagination: dict[str, Any] | None, datasource_config: dict[str, Any]) -> dict[str, Any]:
    """What an item's calls use: its own setting, else its datasource's, else none."""
    if item_pagination is not None:
        return item_pagination
    return datasource_config.get("pagination") or {"mode": "none"}
