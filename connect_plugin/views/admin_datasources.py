"""Admin pages for datasources: the list (with a health badge each), the three-step
wizard (type, name, configuration), the datasource page with Test connection,
Clear cache and the stats chart, and deletion with a confirmation step.

The pages are thin: a submitted form becomes the JSON API's payload and goes to
the same service functions as the API (``forms.datasource_payload``).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from .. import for_hosts, forms
from ..auth_modes import AUTH_MODES
from ..datasources import DATASOURCE_TYPES
from ..datasources import service as service
from ..datasources.connector import test_connection
from ..errors import ValidationError
from ..state import session, state
from ..stats.chart import build_chart
from ..stats.health import LABELS as HEALTH_LABELS
from ..stats.report import health_of, stats_for
from .confirm_delete import confirm_delete
from .guards import actor, page_admin


def _type_or_404(type_name: str):
    type_cls = DATASOURCE_TYPES.get(type_name)
    if type_cls is None:
        abort(404, f"There is no datasource type {type_name!r}.")
    return type_cls


def _mode_label(mode: str) -> str:
    cls = AUTH_MODES.get(mode)
    return cls.label if cls else mode


def test_banner(result: dict) -> dict:
    """The sentence shown after Test connection (admin.js builds the same one)."""
    if result.get("ok"):
        return {"ok": True, "text": f"Connection OK — HTTP {result.get('status')} in {result.get('elapsed_ms', 0)} ms"}
    text = f"Connection failed: {result.get('error') or 'no answer'}"
    if result.get("status") is not None:
        text += f" (HTTP {result['status']})"
    return {"ok": False, "text": text}


@page_admin
def datasources_list():
    box = state().box
    datasources = service.list_all(session())
    badges = health_of(state().stats, [ds.id for ds in datasources])
    rows = [{"ds": service.serialize(ds, box), "item_count": len(ds.items),
             "type_label": getattr(DATASOURCE_TYPES.get(ds.type), "label", ds.type),
             "mode_label": _mode_label(ds.auth_mode), "health": badges[ds.id],
             "health_label": HEALTH_LABELS[badges[ds.id]]}
            for ds in datasources]
    return render_template("connect/datasources_list.html", rows=rows)


@page_admin
def datasource_new():
    return render_template("connect/datasource_new.html", types=list(DATASOURCE_TYPES.values()))


def _render_configure(type_cls, form, errors=None, other=None, status=200, name_error=False):
    return render_template(
        "connect/datasource_configure.html", type_cls=type_cls, form=form, errors=errors or {},
        other_errors=other or [], name_error=name_error,
        auth_sections=forms.auth_sections(form, type_cls), config_fields=type_cls.config_fields,
        header_rows=forms.header_rows(formdata=request.form if request.form.get("step") == "configure" else None),
    ), status


@page_admin
def datasource_new_type(type_name: str):
    """Step 2 (GET, or POST with step=name) and step 3 (POST with step=configure)."""
    type_cls = _type_or_404(type_name)
    if request.method == "GET":
        form = forms.DatasourceNameForm(formdata=None, data={"name": request.args.get("name", "")})
        return render_template("connect/datasource_name.html", type_cls=type_cls, form=form, errors={})

    if request.form.get("step") != "configure":
        form = forms.DatasourceNameForm()
        try:
            name = service.clean_name(session(), form.name.data, None)
        except ValidationError as exc:
            return render_template("connect/datasource_name.html", type_cls=type_cls, form=form,
                                   errors={"name": exc.fields.get("name", exc.message)}), 400
        return _render_configure(type_cls, forms.datasource_form(type_cls, name=name, from_request=False))

    form = forms.datasource_form(type_cls)
    db = session()
    try:
        datasource = service.create(db, forms.datasource_payload(form, type_cls, creating=True),
                                    box=state().box, policy=state().policy, actor=actor())
    except ValidationError as exc:
        db.rollback()
        errors, other = _form_errors(exc, type_cls, form)
        return _render_configure(type_cls, form, errors, other, 400, name_error="name" in errors)
    db.commit()
    flash(f"Datasource {datasource.name} created.")
    return redirect(url_for(".datasource_detail", datasource_id=datasource.id))


def _render_detail(datasource, form=None, errors=None, other=None, status=200, test=None):
    box = state().box
    data = service.serialize(datasource, box)
    type_cls = DATASOURCE_TYPES[datasource.type]
    rows = forms.header_rows(data["config"].get("headers")) if form is None else forms.header_rows(formdata=request.form)
    if form is None:
        form = forms.datasource_form(type_cls, data, from_request=False)
    stats = stats_for(state().stats, datasource.id)
    return render_template(
        "connect/datasource_detail.html", ds=data, type_cls=type_cls, form=form, errors=errors or {},
        other_errors=other or [], test=test, items=sorted(datasource.items, key=lambda i: i.name.lower()),
        auth_sections=forms.auth_sections(form, type_cls, data["auth"], datasource.auth_mode),
        config_fields=type_cls.config_fields, mode_label=_mode_label(datasource.auth_mode),
        stats=stats, chart=build_chart(stats), header_rows=rows,
    ), status


@page_admin
def datasource_detail(datasource_id: int):
    db = session()
    datasource = service.get(db, datasource_id)
    if request.method == "GET":
        return _render_detail(datasource)
    type_cls = DATASOURCE_TYPES[datasource.type]
    form = forms.datasource_form(type_cls)
    try:
        service.update(db, datasource, forms.datasource_payload(form, type_cls, creating=False),
                       box=state().box, policy=state().policy, actor=actor())
    except ValidationError as exc:
        db.rollback()
        errors, other = _form_errors(exc, type_cls, form)
        return _render_detail(service.get(db, datasource_id), form, errors, other, 400)
    db.commit()
    state().tokens.drop_datasource(datasource.id)
    flash(f"Datasource {datasource.name} saved.")
    return redirect(url_for(".datasource_detail", datasource_id=datasource.id))


@page_admin
def datasource_test(datasource_id: int):
    datasource = service.get(session(), datasource_id)
    return _render_detail(datasource, test=test_banner(test_connection(state(), datasource)))


@page_admin
def datasource_cache_clear(datasource_id: int):
    db = session()
    datasource = service.get(db, datasource_id)
    for_hosts.clear_datasource_cache(datasource.id, actor=actor())
    flash(f"Cached answers of {datasource.name} cleared.")
    return redirect(url_for(".datasource_detail", datasource_id=datasource.id))


@page_admin
def datasource_delete(datasource_id: int):
    datasource = service.get(session(), datasource_id)
    return confirm_delete(datasource, kind="datasource", delete=_delete,
                          cancel_url=url_for(".datasource_detail", datasource_id=datasource.id),
                          done_url=url_for(".datasources_list"))


def _delete(db, datasource, *, actor: str) -> None:
    service.delete(db, datasource, actor=actor)
    state().stats.forget(datasource.id, session=db)
    state().tokens.drop_datasource(datasource.id)


def _form_errors(exc: ValidationError, type_cls, form) -> tuple[dict[str, str], list[str]]:
    """The service's field errors placed on the form's fields; the rest as a list."""
    errors, other = forms.split_errors(exc.fields, forms.datasource_error_map(type_cls, form.auth_mode.data))
    if not exc.fields:
        other.append(exc.message)
    return errors, other


def register(bp: Blueprint) -> None:
    rule = bp.add_url_rule
    rule("/admin/datasources", "datasources_list", datasources_list, methods=["GET"])
    rule("/admin/datasources/new", "datasource_new", datasource_new, methods=["GET"])
    rule("/admin/datasources/new/<type_name>", "datasource_new_type", datasource_new_type, methods=["GET", "POST"])
    rule("/admin/datasources/<int:datasource_id>", "datasource_detail", datasource_detail, methods=["GET", "POST"])
    rule("/admin/datasources/<int:datasource_id>/test", "datasource_test", datasource_test, methods=["POST"])
    rule("/admin/datasources/<int:datasource_id>/cache/clear", "datasource_cache_clear", datasource_cache_clear,
         methods=["POST"])
    rule("/admin/datasources/<int:datasource_id>/delete", "datasource_delete", datasource_delete,
         methods=["GET", "POST"])
