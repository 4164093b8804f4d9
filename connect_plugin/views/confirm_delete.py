"""The delete confirmation step shared by datasources and connected items."""

from __future__ import annotations

from typing import Any, Callable

from flask import flash, redirect, render_template, request

from ..errors import Conflict
from ..state import session
from .guards import actor


def confirm_delete(obj: Any, *, kind: str, delete: Callable, cancel_url: str, done_url: str):
    """GET asks for confirmation; POST deletes, or shows why the service refused
    (e.g. items still using a datasource) and keeps everything."""
    context = {"kind": kind, "name": obj.name, "cancel_url": cancel_url}
    if request.method == "GET":
        return render_template("connect/confirm_delete.html", error=None, **context)
    db = session()
    try:
        delete(db, obj, actor=actor())
    except Conflict as exc:
        db.rollback()
        return render_template("connect/confirm_delete.html", error=exc.message, **context), exc.status
    db.commit()
    flash(f"{kind[0].upper()}{kind[1:]} {context['name']} deleted.")
    return redirect(done_url)
