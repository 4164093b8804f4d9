"""The pagination fields of the datasource form and the item form.

One select for the mode and one input per setting (the page shows only the chosen
mode's inputs; without JavaScript all of them show, and only the chosen mode's are
sent). Like every form here they hold no rules: a submitted form becomes the API's
``pagination`` object and :mod:`.datasources.pagination_setting` checks it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from wtforms import SelectField, StringField

from .datasources.pagination_setting import FIELD_LABELS, MODE_LABELS, MODES

Choices = Callable[[Iterable[tuple[str, str]]], list]
INHERIT = ""  # the item form's "as the datasource" choice
SETTINGS = tuple(dict.fromkeys(name for fields in MODES.values() for name in fields))
HELP = {
    "next_path": "JSONPath to the next page's URL in each answer, absolute or relative, e.g. $.next",
    "cursor_path": "JSONPath to the next cursor in each answer, e.g. $.meta.next_cursor",
    "cursor_param": "The query parameter the cursor is sent as, e.g. cursor",
    "offset_param": "The query parameter of the first row's offset (0, then page size, ...), e.g. offset",
    "limit_param": "The query parameter of the page size, e.g. limit",
    "page_param": "The query parameter of the page number, e.g. page",
    "first_page": "The number of the first page (usually 1, sometimes 0).",
    "size_param": "Optional: the query parameter of the page size, e.g. per_page",
    "page_size": "Rows per page; a shorter page is the last one.",
    "max_pages": "Reading stops after this many pages (1 to 100); the answer then says more existed.",
}
PLACEHOLDERS = {"next_path": "$.next", "cursor_path": "$.meta.next_cursor", "cursor_param": "cursor",
                "offset_param": "offset", "limit_param": "limit", "page_param": "page", "size_param": "per_page"}
DEFAULTS = {"first_page": "1", "page_size": "100", "max_pages": "10"}


def attr(name: str) -> str:
    return f"pagination_{name}"


def form_fields(choices: Choices, *, inherit: bool = False) -> dict[str, Any]:
    """The fields to add to a form class (``choices`` builds a select's choices);
    ``inherit``: the item form's, whose first choice is its datasource's pagination.
    Each setting's input names the modes that use it (``data-pagination-modes``) and
    carries its help as its description."""
    modes = [(INHERIT, "As the datasource")] if inherit else []
    fields: dict[str, Any] = {attr("mode"): SelectField(
        FIELD_LABELS["mode"], default=INHERIT if inherit else "none", validate_choice=False,
        choices=choices([*modes, *MODE_LABELS.items()]),
        description="How every page of an answer is read: where the next page is, and how many pages at most.",
        render_kw={"data-pagination-mode-select": "1"})}
    for name in SETTINGS:
        kw = {"spellcheck": "false", "autocomplete": "off",
              "data-pagination-modes": " ".join(mode for mode, settings in MODES.items() if name in settings)}
        if name in PLACEHOLDERS:
            kw["placeholder"] = PLACEHOLDERS[name]
        if name in DEFAULTS:
            kw.update(type="number", inputmode="numeric", step=1)
        fields[attr(name)] = StringField(FIELD_LABELS[name], default=DEFAULTS.get(name), render_kw=kw,
                                         description=HELP[name])
    return fields


def form_data(pagination: Mapping[str, Any] | None, *, inherit: bool = False) -> dict[str, Any]:
    """The form's data for a stored ``pagination`` (None: the default choice)."""
    if pagination is None:
        return {attr("mode"): INHERIT if inherit else "none"}
    data = {attr("mode"): pagination.get("mode", "none")}
    data.update({attr(name): str(value) for name, value in pagination.items() if name in SETTINGS})
    return data


def payload(form, *, inherit: bool = False) -> dict[str, Any] | None:
    """The API's ``pagination`` for a submitted form: None for the default (no paging
    on a datasource, the datasource's on an item), else the chosen mode's settings
    that were filled in (blank ones take their defaults, or are reported missing)."""
    mode = (form[attr("mode")].data or "").strip()
    if mode == INHERIT and inherit or mode == "none" and not inherit or not mode:
        return None
    result: dict[str, Any] = {"mode": mode}
    for name in MODES.get(mode, {}):
        value = (form[attr(name)].data or "").strip()
        if value:
            result[name] = value
    return result


def error_map(prefix: str) -> dict[str, str]:
    """Service error keys (``<prefix>.<setting>``) -> form field names."""
    mapping = {prefix: attr("mode"), f"{prefix}.mode": attr("mode")}
    mapping.update({f"{prefix}.{name}": attr(name) for name in SETTINGS})
    return mapping
