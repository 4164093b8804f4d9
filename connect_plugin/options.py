"""Options of a connected item for one issue, user and set of edited values.

The steps are plain functions so the options endpoint, the issue update check and
the admin's configuration tester share them: evaluate the query, find the answer in
the cache or call the datasource, map the JSON to options, then filter and page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy.orm import Session

from . import datasource_service
from .connector import Connector
from .errors import MissingDependency, UpstreamError
from .host import HostIssue, HostUser
from .mapping import compile_mapping, map_options, parse_json
from .models import ConnectedItem
from .query import evaluate, parse_query
from .response_cache import CachedAnswer, cache_key
from .variables import Value, build_values

if TYPE_CHECKING:  # pragma: no cover
    from .extension import ConnectState

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# Seconds a Redis single-flight lock outlives the datasource's own time limit.
LOCK_MARGIN_SECONDS = 5


@dataclass
class Evaluated:
    """A query with its variables filled in, ready to call."""

    item: ConnectedItem
    relative: str
    url: str
    uses_user_input: bool


@dataclass
class OptionsPage:
    options: list[tuple[str, str]]
    total: int
    cached: bool

    def as_json(self) -> dict[str, Any]:
        return {"options": [{"value": v, "label": lbl} for v, lbl in self.options], "total": self.total,
                "cached": self.cached}


def evaluate_item(session: Session, item: ConnectedItem, *, issue: HostIssue | None, user: HostUser,
                  deps: Mapping[str, Value], user_input: str | None) -> Evaluated:
    """Fill the item's query. Raises MissingDependency naming the item to fill first."""
    template = parse_query(item.query)
    values = build_values(template.variables, issue=issue, user=user, deps=deps, user_input=user_input)
    try:
        relative = evaluate(template, values)
    except MissingDependency as exc:
        raise MissingDependency(exc.field, f"Fill in {_field_label(session, exc.field)} first.") from None
    from .query import join_url

    return Evaluated(item=item, relative=relative, url=join_url(item.datasource.config["base_url"], relative),
                     uses_user_input=template.uses_user_input)


def _field_label(session: Session, field: str) -> str:
    if field.startswith("connected_item_"):
        other = session.get(ConnectedItem, int(field.rsplit("_", 1)[1]))
        if other is not None:
            return other.name
    return field


def fetch_options(state: "ConnectState", evaluated: Evaluated) -> list[tuple[str, str]]:
    """Call the datasource and map its answer; never cached here."""
    item = evaluated.item
    datasource = item.datasource
    connector = Connector(datasource, datasource_service.decrypt_secrets(datasource, state.box),
                          client=state.client, limiter=state.limiter)
    response = connector.get(evaluated.url)
    mapping = compile_mapping(item.options_path, item.value_template, item.label_template)
    return map_options(mapping, parse_json(response.body, datasource.name))


def cached_options(state: "ConnectState", evaluated: Evaluated) -> CachedAnswer | tuple[CachedAnswer, bool]:
    item = evaluated.item
    datasource = item.datasource
    key = cache_key(item.id, item.version, datasource.id, datasource.version, datasource.cache_generation,
                    evaluated.url)
    ttl = int(datasource.config.get("cache_ttl_seconds", 300))
    timeout = float(datasource.config.get("timeout_seconds", 60))
    return state.cache.get_or_load(key, ttl, lambda: fetch_options(state, evaluated),
                                   lock_seconds=timeout + LOCK_MARGIN_SECONDS)


def select_page(answer: CachedAnswer, *, query_text: str | None, filter_by_label: bool, limit: int,
                offset: int, cached: bool) -> OptionsPage:
    options = answer.options
    if filter_by_label and query_text:
        needle = query_text.casefold()
        folded = answer.folded_labels()
        options = [option for option, label in zip(options, folded) if needle in label]
    return OptionsPage(options=options[offset:offset + limit], total=len(options), cached=cached)


def options_for(state: "ConnectState", session: Session, item: ConnectedItem, *, issue: HostIssue | None,
                user: HostUser, deps: Mapping[str, Value], query_text: str | None, limit: int = DEFAULT_LIMIT,
                offset: int = 0) -> OptionsPage:
    evaluated = evaluate_item(session, item, issue=issue, user=user, deps=deps, user_input=query_text)
    answer, cached = cached_options(state, evaluated)
    return select_page(answer, query_text=query_text, filter_by_label=not evaluated.uses_user_input,
                       limit=limit, offset=offset, cached=cached)


def trace(state: "ConnectState", session: Session, item: ConnectedItem, *, issue: HostIssue | None,
          user: HostUser, deps: Mapping[str, Value], query_text: str | None) -> dict[str, Any]:
    """The admin's configuration tester: every step of one uncached evaluation, with
    the URL as sent (secrets masked), the status, time, a raw excerpt and options."""
    result: dict[str, Any] = {"ok": False}
    try:
        evaluated = evaluate_item(session, item, issue=issue, user=user, deps=deps, user_input=query_text)
    except MissingDependency as exc:
        result["error"] = exc.message
        return result
    datasource = item.datasource
    started = time.monotonic()
    try:
        connector = Connector(datasource, datasource_service.decrypt_secrets(datasource, state.box),
                              client=state.client, limiter=state.limiter)
        response = connector.get(evaluated.url)
        result.update(url=response.url, status=response.status, elapsed_ms=response.elapsed_ms,
                      excerpt=_excerpt(response.body))
        mapping = compile_mapping(item.options_path, item.value_template, item.label_template)
        options = map_options(mapping, parse_json(response.body, datasource.name))
    except UpstreamError as exc:
        result.update(error=exc.message, elapsed_ms=int((time.monotonic() - started) * 1000))
        if exc.upstream_status is not None:
            result["status"] = exc.upstream_status
        if exc.excerpt:
            result["excerpt"] = exc.excerpt
        result.setdefault("url", state.redact_url(evaluated.url))
        return result
    except Exception as exc:  # SecretUnreadable and other typed errors carry a message
        result["error"] = getattr(exc, "message", "The evaluation failed.")
        return result
    result.update(ok=True, total=len(options),
                  options=[{"value": v, "label": lbl} for v, lbl in options[:MAX_LIMIT]])
    return result


def _excerpt(body: bytes, limit: int = 2000) -> str:
    from .outbound import redact_known

    return redact_known(body[:limit].decode("utf-8", errors="replace"))
