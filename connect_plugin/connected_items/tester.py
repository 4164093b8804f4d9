"""The admin's configuration tester: one uncached evaluation of an item, every step
shown (URL as sent with secrets masked, status, time, a raw excerpt, the options)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy.orm import Session

from ..datasources.connector import Connector
from ..datasources.pagination import PageRecord
from ..errors import MissingDependency, UpstreamError, ValidationError
from ..host_adapter import HostAdapter, HostIssue, HostUser
from ..models import ConnectedItem
from ..outbound import UpstreamResponse
from .mapping import compile_mapping, find_rows, map_rows, option_json
from .options import MAX_LIMIT, Evaluated, evaluate_item, item_pagination
from .variables import Value

if TYPE_CHECKING:  # pragma: no cover
    from ..state import ConnectState


def subjects(host: HostAdapter, issue_key: Any, account_id: Any,
             admin: HostUser) -> tuple[HostIssue | None, HostUser]:
    """The issue and user the tester evaluates for (the admin by default); unknown
    ones are a ValidationError naming the field."""
    errors: dict[str, str] = {}
    issue = None
    if issue_key and str(issue_key).strip():
        issue = host.get_issue(str(issue_key).strip())
        if issue is None:
            errors["issue"] = f"There is no issue {str(issue_key).strip()}."
    user = admin
    if account_id and str(account_id).strip():
        user = host.find_user(str(account_id).strip())
        if user is None:
            errors["user"] = f"There is no user {str(account_id).strip()}."
    if errors:
        raise ValidationError("The tester's issue or user does not exist.", errors)
    return issue, user


def trace(state: "ConnectState", session: Session, item: ConnectedItem, *, issue: HostIssue | None,
          user: HostUser, deps: Mapping[str, Value], query_text: str | None,
          project: str | None = None) -> dict[str, Any]:
    """The admin's configuration tester: every step of one uncached evaluation, with
    the URL as sent (secrets masked), the status, time, a raw excerpt and options.
    ``project`` (without ``issue``) evaluates as on that project's create screen."""
    result: dict[str, Any] = {"ok": False}
    try:
        evaluated = evaluate_item(session, item, issue=issue, user=user, deps=deps, user_input=query_text,
                                  project=None if issue else project)
    except (MissingDependency, ValidationError) as exc:
        result["error"] = exc.message
        return result
    if evaluated.parts.method != "GET" or evaluated.parts.headers:
        result["request"] = _request_json(state, evaluated)
    datasource = item.datasource
    started = time.monotonic()
    pages: list[PageRecord] = []
    pagination = item_pagination(item)
    paged = pagination.get("mode", "none") != "none"
    try:
        mapping = compile_mapping(*item.mapping_spec())
        answer = Connector.for_datasource(state, datasource).get_pages(
            evaluated.url, pagination, records=pages, parts=evaluated.parts,
            rows_of=lambda data: find_rows(mapping, data, source=datasource.name))
        response = answer.first
        result.update(url=response.url, status=response.status, elapsed_ms=_elapsed(started),
                      excerpt=_excerpt(response))
        options = map_rows(mapping, answer.rows, source=datasource.name)
    except UpstreamError as exc:
        result.update(error=exc.message, elapsed_ms=_elapsed(started), **_pages_json(paged, pages))
        if exc.upstream_status is not None:
            result["status"] = exc.upstream_status
        if exc.excerpt:
            result["excerpt"] = exc.excerpt
        result.setdefault("url", pages[0].url if pages else state.redact_url(evaluated.url))
        return result
    except Exception as exc:  # SecretUnreadable and other typed errors carry a message
        result["error"] = getattr(exc, "message", "The evaluation failed.")
        return result
    result.update(ok=True, total=len(options), **_pages_json(paged, pages, answer.truncated),
                  options=[option_json(option) for option in options[:MAX_LIMIT]])
    return result


def _request_json(state: "ConnectState", evaluated: Evaluated) -> dict[str, Any]:
    """The item's method, headers and evaluated body as sent (secrets masked)."""
    parts = evaluated.parts
    shown: dict[str, Any] = {"method": parts.method,
                             "headers": {name: state.redact_url(value) for name, value in parts.headers.items()}}
    if parts.body is not None:
        shown["body"] = state.redact_url(parts.body.decode("utf-8"))
    return shown


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _pages_json(paged: bool, pages: list[PageRecord], truncated: bool = False) -> dict[str, Any]:
    """Each page read (URL with secrets masked, status, rows) when the item pages."""
    if not paged:
        return {}
    return {"pages": [page.as_json() for page in pages], "truncated": truncated}


def _excerpt(response: UpstreamResponse, limit: int = 2000) -> str:
    """The raw start of the answer as the admin sees it: secrets masked first (with
    this call's own secrets), cut after, so a secret across the cut cannot show."""
    window = response.body[: limit * 4 + 4096].decode("utf-8", errors="replace")
    return response.redact(window)[:limit]
