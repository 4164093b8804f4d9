"""Options of a connected item for one issue, user and set of edited values.

The steps are plain functions so the options endpoint, the issue update check and
the admin's configuration tester share them: evaluate the query, find the answer in
the cache or call the datasource, map the JSON to options, then filter and page.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from sqlalchemy.orm import Session

from ..caching.answer import CachedAnswer
from ..caching.response_cache import cache_key
from ..datasources import get_type
from ..datasources.connector import PLAIN_GET, CallParts, Connector
from ..datasources.pagination_setting import effective as effective_pagination
from ..errors import MissingDependency
from ..host_adapter import HostIssue, HostUser
from ..models import ConnectedItem
from ..state import release_before_wait
from .catalogue import item_id_of
from .item_request import compile_request, evaluate_body, evaluate_headers
from .mapping import Option, OptionCollector, compile_mapping, find_rows, option_json
from .query import evaluate, parse_query
from .variables import Value, build_values

if TYPE_CHECKING:  # pragma: no cover
    from ..state import ConnectState

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
# Seconds a Redis single-flight lock outlives the datasource's own time limit.
LOCK_MARGIN_SECONDS = 5


@dataclass
class Evaluated:
    """A query with its variables filled in, ready to call; ``parts`` the item's
    method, evaluated body and headers (:mod:`.item_request`)."""

    item: ConnectedItem
    relative: str
    url: str
    uses_user_input: bool
    parts: CallParts = PLAIN_GET

    @property
    def cache_identity(self) -> str:
        """What the cache key hashes: the URL, and the method, headers and body
        when the item sends any."""
        if self.parts == PLAIN_GET:
            return self.url
        body = None if self.parts.body is None else self.parts.body.decode("utf-8")
        headers = sorted((name.lower(), value) for name, value in self.parts.headers.items())
        return json.dumps([self.url, self.parts.method, headers, body])


@dataclass
class OptionsPage:
    options: list[Option]
    total: int
    cached: bool
    truncated: bool = False  # the datasource had more pages than the item's max_pages

    def as_json(self) -> dict[str, Any]:
        data = {"options": [option_json(option) for option in self.options], "total": self.total,
                "cached": self.cached}
        if self.truncated:
            data["truncated"] = True
        return data


def evaluate_item(session: Session, item: ConnectedItem, *, issue: HostIssue | None, user: HostUser,
                  deps: Mapping[str, Value], user_input: str | None, project: str | None = None) -> Evaluated:
    """Fill the item's query (``project``: a create screen's, when there is no
    ``issue``). Raises MissingDependency naming the item to fill first."""
    template = parse_query(item.query)
    request = compile_request(item.method, item.body, item.headers)
    values = build_values(template.variables | request.variables, issue=issue, user=user, deps=deps,
                          user_input=user_input, project=project)
    try:
        relative = evaluate(template, values)
        body = None if request.body is None else evaluate_body(request.body, values)
        parts = CallParts(request.method, body, evaluate_headers(request.headers, values))
    except MissingDependency as exc:
        raise MissingDependency(exc.field, f"Fill in {_field_label(session, exc.field)} first.") from None
    url = get_type(item.datasource.type).url_for(item.datasource.config, relative)
    return Evaluated(item=item, relative=relative, url=url, parts=PLAIN_GET if parts == PLAIN_GET else parts,
                     uses_user_input=template.uses_user_input or "userInput" in request.variables)


def _field_label(session: Session, field: str) -> str:
    item_id = item_id_of(field)
    other = session.get(ConnectedItem, item_id) if item_id is not None else None
    return other.name if other is not None else field


def fetch_options(state: "ConnectState", evaluated: Evaluated) -> CachedAnswer:
    """Call the datasource, every page of its answer, and map their rows as one
    answer; never cached here."""
    item = evaluated.item
    datasource = item.datasource
    connector = Connector.for_datasource(state, datasource)
    mapping = compile_mapping(*item.mapping_spec())
    collector = OptionCollector(mapping, datasource.name)
    with state.metrics.upstream_call(datasource.name, datasource.id):
        pages = connector.get_pages(evaluated.url, item_pagination(item), parts=evaluated.parts,
                                    decode_rows=mapping.decode_rows, take_rows=collector.add,
                                    rows_of=lambda data: find_rows(mapping, data, source=datasource.name))
        options = collector.kept_options()
    return CachedAnswer(options, time.time(), truncated=pages.truncated)


def item_pagination(item: ConnectedItem) -> dict[str, Any]:
    """The item's own pagination, else its datasource's."""
    return effective_pagination(item.pagination, item.datasource.config)


def cached_options(state: "ConnectState", evaluated: Evaluated) -> tuple[CachedAnswer, bool]:
    """The answer (and whether it came from the cache). A miss first takes one of the
    datasource's in-flight slots, also while it waits for another caller's call to
    the same key, so callers piling up behind a hanging API get 503 instead of
    holding every thread."""
    item = evaluated.item
    datasource = item.datasource
    key = cache_key(item.id, item.version, datasource.id, datasource.version, datasource.cache_generation,
                    evaluated.cache_identity)
    limits = get_type(datasource.type).limits(datasource.config)
    return state.metrics.cache_lookup(datasource.name, lambda: state.cache.get_or_load(
        key, limits.cache_ttl_seconds, lambda: fetch_options(state, evaluated),
        lock_seconds=limits.timeout_seconds + LOCK_MARGIN_SECONDS,
        gate=lambda: _miss_gate(state, datasource.id, limits.max_concurrent, datasource.name),
    ), datasource.id)


@contextmanager
def _miss_gate(state: "ConnectState", datasource_id: int, max_concurrent: int, name: str) -> Iterator[None]:
    """A miss: the request may now wait for the API (or for another caller's call),
    so it gives back its database connections first, then takes a slot."""
    release_before_wait()
    with state.limiter.slot(datasource_id, max_concurrent, name):
        yield


def select_page(answer: CachedAnswer, *, query_text: str | None, filter_by_label: bool, limit: int,
                offset: int, cached: bool) -> OptionsPage:
    if filter_by_label and query_text:
        total, first = answer.label_index().matching(query_text.casefold(), offset + limit)
        return OptionsPage(options=answer.at(first[offset:]), total=total, cached=cached,
                           truncated=answer.truncated)
    return OptionsPage(options=answer.page(offset, limit), total=len(answer), cached=cached,
                       truncated=answer.truncated)


def options_for(state: "ConnectState", session: Session, item: ConnectedItem, *, issue: HostIssue | None,
                user: HostUser, deps: Mapping[str, Value], query_text: str | None, limit: int = DEFAULT_LIMIT,
                offset: int = 0, project: str | None = None) -> OptionsPage:
    evaluated = evaluate_item(session, item, issue=issue, user=user, deps=deps, user_input=query_text,
                              project=project)
    answer, cached = cached_options(state, evaluated)
    return select_page(answer, query_text=query_text, filter_by_label=not evaluated.uses_user_input,
                       limit=limit, offset=offset, cached=cached)
