"""Options of a connected item for one issue, user and set of edited values.

The steps are plain functions so the options endpoint, the issue update check and
the admin's configuration tester share them: evaluate the query, find the answer in
the cache or call the datasource, map the JSON to options, then filter and page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from . import datasource_service
from .connector import Connector
from .datasources.rest import DEFAULT_CACHE_TTL, DEFAULT_MAX_CONCURRENT, DEFAULT_TIMEOUT
from .db import end_read
from .errors import MissingDependency, NotFound, UpstreamError
from .host import HostIssue, HostUser
from .mapping import compile_mapping, map_options, parse_json
from .models import ConnectedItem, Datasource, DatasourceSecret, ItemFieldMixin, valid_id
from .query import evaluate, join_url, parse_query
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


# The options endpoint reads what a request needs of the item and its datasource in
# one Core query (no ORM objects: on a cache hit this query is most of the plugin's
# own cost). The datasource's secrets are read only when a miss calls the connector.
_ITEMS = ConnectedItem.__table__
_DATASOURCES = Datasource.__table__
_ITEM_ROW = (
    select(_ITEMS.c.id, _ITEMS.c.name, _ITEMS.c.datasource_id, _ITEMS.c.editor, _ITEMS.c.query,
           _ITEMS.c.options_path, _ITEMS.c.value_template, _ITEMS.c.label_template, _ITEMS.c.projects,
           _ITEMS.c.version, _DATASOURCES.c.name.label("ds_name"), _DATASOURCES.c.type.label("ds_type"),
           _DATASOURCES.c.config.label("ds_config"), _DATASOURCES.c.auth_mode.label("ds_auth_mode"),
           _DATASOURCES.c.auth_config.label("ds_auth_config"), _DATASOURCES.c.version.label("ds_version"),
           _DATASOURCES.c.cache_generation.label("ds_cache_generation"))
    .join(_DATASOURCES, _DATASOURCES.c.id == _ITEMS.c.datasource_id)
    .where(_ITEMS.c.id == bindparam("item_id"))
)
_SECRETS = select(DatasourceSecret).where(DatasourceSecret.datasource_id == bindparam("datasource_id"))


@dataclass(frozen=True, eq=False)
class DatasourceRow:
    """The columns of a ``Datasource`` that calls need, read in one query; its
    ``secrets`` (the model's relationship) are loaded on first use."""

    id: int
    name: str
    type: str
    config: dict[str, Any]
    auth_mode: str
    auth_config: dict[str, Any]
    version: int
    cache_generation: int
    _session: Session = field(repr=False, compare=False)

    @property
    def secrets(self) -> list[DatasourceSecret]:
        secrets = list(self._session.scalars(_SECRETS, {"datasource_id": self.id}))
        end_read(self._session)  # read just before an upstream call: don't hold a connection during it
        return secrets


@dataclass(frozen=True, eq=False)
class ItemRow(ItemFieldMixin):
    """The columns of a ``ConnectedItem`` with its datasource, for the options
    endpoint (same attribute names as the models, read-only)."""

    id: int
    name: str
    datasource_id: int
    editor: str
    query: str
    options_path: str
    value_template: str
    label_template: str
    projects: list[str] | None
    version: int
    datasource: DatasourceRow


def load_item(session: Session, item_id: int) -> ItemRow:
    """The item for an options request, as ``item_service.get`` finds it (same
    NotFound), as plain values rather than ORM objects."""
    row = session.execute(_ITEM_ROW, {"item_id": item_id}).first() if valid_id(item_id) else None
    if row is None:
        raise NotFound(f"There is no connected item with id {item_id}.")
    datasource = DatasourceRow(id=row.datasource_id, name=row.ds_name, type=row.ds_type, config=row.ds_config or {},
                               auth_mode=row.ds_auth_mode, auth_config=row.ds_auth_config or {},
                               version=row.ds_version, cache_generation=row.ds_cache_generation, _session=session)
    return ItemRow(id=row.id, name=row.name, datasource_id=row.datasource_id, editor=row.editor, query=row.query,
                   options_path=row.options_path, value_template=row.value_template,
                   label_template=row.label_template, projects=row.projects, version=row.version,
                   datasource=datasource)


def evaluate_item(session: Session, item: ConnectedItem, *, issue: HostIssue | None, user: HostUser,
                  deps: Mapping[str, Value], user_input: str | None) -> Evaluated:
    """Fill the item's query. Raises MissingDependency naming the item to fill first."""
    template = parse_query(item.query)
    values = build_values(template.variables, issue=issue, user=user, deps=deps, user_input=user_input)
    try:
        relative = evaluate(template, values)
    except MissingDependency as exc:
        raise MissingDependency(exc.field, f"Fill in {_field_label(session, exc.field)} first.") from None
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
    return map_options(mapping, parse_json(response.body, datasource.name), source=datasource.name)


def cached_options(state: "ConnectState", evaluated: Evaluated) -> tuple[CachedAnswer, bool]:
    """The answer (and whether it came from the cache). A miss first takes one of the
    datasource's in-flight slots, also while it waits for another caller's call to
    the same key, so callers piling up behind a hanging API get 503 instead of
    holding every thread."""
    item = evaluated.item
    datasource = item.datasource
    key = cache_key(item.id, item.version, datasource.id, datasource.version, datasource.cache_generation,
                    evaluated.url)
    ttl = int(datasource.config.get("cache_ttl_seconds", DEFAULT_CACHE_TTL))
    timeout = float(datasource.config.get("timeout_seconds", DEFAULT_TIMEOUT))
    limit = int(datasource.config.get("max_concurrent_calls", DEFAULT_MAX_CONCURRENT))
    return state.cache.get_or_load(
        key, ttl, lambda: fetch_options(state, evaluated), lock_seconds=timeout + LOCK_MARGIN_SECONDS,
        gate=lambda: state.limiter.slot(datasource.id, limit, datasource.name),
    )


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
    end_read(session)
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
        options = map_options(mapping, parse_json(response.body, datasource.name), source=datasource.name)
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
