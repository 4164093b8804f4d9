"""Admin page: the audit log of changes to datasources and connected items."""

from __future__ import annotations

from flask import Blueprint, render_template

from .. import audit
from ..state import session
from .guards import page_admin


@page_admin
def audit_log():
    return render_template("connect/audit.html", entries=audit.recent(session()))


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/admin/audit", "audit_log", audit_log, methods=["GET"])
