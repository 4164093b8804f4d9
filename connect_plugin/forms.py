"""The admin pages' forms, and the translation between them and the API payloads.

The forms render fields and carry the CSRF token; they hold no rules of their own.
A submitted form becomes a dict shaped exactly like the JSON API's payload and goes
to the same service function, so pages and API share one set of rules; the service's
``ValidationError.fields`` (``"config.base_url"``, ``"auth.password"``, ...) come back
here and are mapped to the form fields they belong to.

Datasource forms are built per datasource type from its declared configuration
fields and its authentication modes, so a new type or mode needs no form code. The
connected item page's forms are in :mod:`.item_forms`.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField

from . import pagination_fields
from .auth_modes import AUTH_MODES
from .datasources.base import DatasourceType
from .datasources.headers import MAX_HEADERS

try:  # WTForms 3.3 deprecates (value, label) tuples for choices
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    def SelectChoice(value, label):  # type: ignore[no-redef]  # noqa: N802
        return (value, label)


def choices(pairs) -> list:
    return [SelectChoice(value=value, label=label) for value, label in pairs]


INPUT_TYPES = {"https_url": "url", "url": "url", "int": "number", "text": "text"}


# --- datasources -------------------------------------------------------------------


def config_attr(name: str) -> str:
    return f"config_{name}"


def auth_attr(mode: str, name: str) -> str:
    return f"auth_{mode}_{name}"


def clear_attr(mode: str, name: str) -> str:
    return f"auth_{mode}_{name}_clear"


class DatasourceNameForm(FlaskForm):
    """Wizard step 2: the name alone."""

    name = StringField("Name")


@functools.lru_cache(maxsize=None)
def datasource_form_class(type_cls: type[DatasourceType]) -> type[FlaskForm]:
    """The wizard's step 3 and the datasource page: name, the type's configuration
    fields and one group of fields per authentication mode."""
    attrs: dict[str, Any] = {
        "step": HiddenField(default="configure"),
        "name": StringField("Name"),
        "auth_mode": SelectField("Authentication", validate_choice=False, default="none",
                                 choices=choices((m, AUTH_MODES[m].label) for m in type_cls.auth_mode_names)),
    }
    for spec in type_cls.config_fields:
        kw: dict[str, Any] = {"type": INPUT_TYPES.get(spec.kind, "text")}
        if spec.kind == "int":
            kw.update(min=spec.minimum, max=spec.maximum, step=1, inputmode="numeric")
        kw = {k: v for k, v in kw.items() if v is not None}
        attrs[config_attr(spec.name)] = StringField(
            spec.label, default=None if spec.default is None else str(spec.default), render_kw=kw)
    for mode_name in type_cls.auth_mode_names:
        for spec in AUTH_MODES[mode_name].fields:
            attr = auth_attr(mode_name, spec.name)
            if spec.choices:
                attrs[attr] = SelectField(spec.label, choices=choices(spec.choices), default=spec.default,
                                          validate_choice=False)
            elif spec.secret:
                attrs[attr] = PasswordField(spec.label, render_kw={"autocomplete": "new-password"})
                attrs[clear_attr(mode_name, spec.name)] = BooleanField("Clear")
            else:
                attrs[attr] = StringField(spec.label, default=spec.default,
                                          render_kw={"autocomplete": "off", "type": INPUT_TYPES[spec.kind]})
    attrs.update(pagination_fields.form_fields(choices))
    return type(f"{type_cls.__name__}Form", (FlaskForm,), attrs)


def datasource_form(type_cls: type[DatasourceType], serialized: Mapping[str, Any] | None = None,
                    *, name: str | None = None, from_request: bool = True) -> FlaskForm:
    """A bound form: from the submitted request, or (``from_request=False``) filled
    from a serialized datasource (secrets are never part of it) or a name."""
    cls = datasource_form_class(type_cls)
    if from_request:
        return cls()
    data: dict[str, Any] = {"name": name or ""}
    if serialized is not None:
        data["name"] = serialized["name"]
        for key, value in serialized["config"].items():
            data[config_attr(key)] = "" if value is None else str(value)
        data.update(pagination_fields.form_data(serialized["config"].get("pagination")))
        auth = serialized["auth"]
        data["auth_mode"] = auth["mode"]
        mode = AUTH_MODES.get(auth["mode"])
        for spec in mode.fields if mode else ():
            if not spec.secret and auth.get(spec.name) is not None:
                data[auth_attr(mode.mode, spec.name)] = auth[spec.name]
    return cls(formdata=None, data=data)


def auth_sections(form: FlaskForm, type_cls: type[DatasourceType],
                  secrets_set: Mapping[str, bool] | None = None, current_mode: str | None = None) -> list[dict]:
    """What the template needs to render one fieldset per mode: its fields, and for
    each secret whether a value is stored (only for the datasource's current mode)."""
    sections = []
    for mode_name in type_cls.auth_mode_names:
        mode = AUTH_MODES[mode_name]
        fields = []
        for spec in mode.fields:
            is_set = bool(secrets_set and mode_name == current_mode and secrets_set.get(f"{spec.name}_set"))
            fields.append({
                "field": form[auth_attr(mode_name, spec.name)],
                "spec": spec,
                "is_set": is_set,
                "clear_box": form[clear_attr(mode_name, spec.name)] if is_set else None,
            })
        sections.append({"mode": mode_name, "label": mode.label, "fields": fields})
    return sections


def datasource_payload(form: FlaskForm, type_cls: type[DatasourceType], *, creating: bool) -> dict[str, Any]:
    """The API payload for a submitted form. A blank secret is left out (keeps the
    stored one), a ticked "Clear" sends null (removes it)."""
    mode_name = form.auth_mode.data or "none"
    auth: dict[str, Any] = {"mode": mode_name}
    mode = AUTH_MODES.get(mode_name)
    for spec in mode.fields if mode and mode_name in type_cls.auth_mode_names else ():
        field = form[auth_attr(mode_name, spec.name)]
        if not spec.secret:
            auth[spec.name] = field.data or ""
            continue
        clear = form[clear_attr(mode_name, spec.name)]
        if field.data:
            auth[spec.name] = field.data
        elif clear.data and not creating:
            auth[spec.name] = None
    payload: dict[str, Any] = {
        "name": form.name.data or "",
        "config": {spec.name: (form[config_attr(spec.name)].data or "") for spec in type_cls.config_fields},
        "auth": auth,
    }
    payload["config"]["pagination"] = pagination_fields.payload(form)
    payload["config"]["headers"] = headers_payload(request_form())
    if creating:
        payload["type"] = type_cls.type
    return payload


def request_form() -> Mapping[str, str]:
    from flask import request

    return request.form


# The datasource page's header rows: ``header-<i>-name``, ``-value`` and ``-secret``
# inputs (plain HTML inputs: their number follows the datasource's headers).
HEADER_ROW = "header-{index}-{part}"


def _submitted_headers(formdata: Mapping[str, str]) -> list[tuple[str, str, bool, bool]]:
    """``(name, value, secret, value_set)`` of each submitted row that is not blank."""
    rows = []
    for index in range(MAX_HEADERS):
        name, value, secret, value_set = (formdata.get(HEADER_ROW.format(index=index, part=part), "")
                                          for part in ("name", "value", "secret", "set"))
        if name.strip() or value.strip():
            rows.append((name, value, bool(secret), bool(value_set)))
    return rows


def header_rows(headers: list[Mapping[str, Any]] | None = None,
                formdata: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The rows to render: the stored headers (a secret one without its value) or
    what was submitted (a secret value never comes back), and two empty rows."""
    if formdata is not None:
        rows = [{"name": name, "value": "" if secret else value, "secret": secret, "value_set": secret and value_set}
                for name, value, secret, value_set in _submitted_headers(formdata)]
    else:
        rows = [{"name": h["name"], "value": h.get("value", ""), "secret": bool(h.get("secret")),
                 "value_set": bool(h.get("value_set"))} for h in headers or ()]
    rows += [{"name": "", "value": "", "secret": False, "value_set": False}] * 2
    return [dict(row, index=index) for index, row in enumerate(rows[:MAX_HEADERS])]


def headers_payload(formdata: Mapping[str, str]) -> list[dict[str, Any]]:
    """``config.headers`` from the submitted rows; a secret row left blank keeps its
    stored value (the service names a new one without a value)."""
    headers = []
    for name, value, secret, _value_set in _submitted_headers(formdata):
        entry: dict[str, Any] = {"name": name}
        if secret:
            entry["secret"] = True
        if value or not secret:
            entry["value"] = value
        headers.append(entry)
    return headers


def datasource_error_map(type_cls: type[DatasourceType], mode_name: str | None) -> dict[str, str]:
    """Service error keys -> form field names, for the mode that was submitted."""
    mapping = {"name": "name", "auth.mode": "auth_mode", "auth": "auth_mode", "config.headers": "header-0-name"}
    for index in range(MAX_HEADERS):
        for part in ("name", "value", "secret"):
            mapping[f"config.headers[{index}].{part}"] = HEADER_ROW.format(index=index, part=part)
        mapping[f"config.headers[{index}]"] = HEADER_ROW.format(index=index, part="name")
    for spec in type_cls.config_fields:
        mapping[f"config.{spec.name}"] = config_attr(spec.name)
    mapping.update(pagination_fields.error_map("config.pagination"))
    mode = AUTH_MODES.get(mode_name or "")
    for spec in mode.fields if mode else ():
        mapping[f"auth.{spec.name}"] = auth_attr(mode.mode, spec.name)
    return mapping


def split_errors(fields: Mapping[str, str], mapping: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Service field errors -> (form field name -> message, messages without a field)."""
    by_field: dict[str, str] = {}
    other: list[str] = []
    for key, message in fields.items():
        target = mapping.get(key)
        if target is None:
            other.append(message)
        elif target in by_field:
            by_field[target] += " " + message
        else:
            by_field[target] = message
    return by_field, other
