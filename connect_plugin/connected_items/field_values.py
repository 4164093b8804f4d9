"""Checking connected values that someone sets on an issue, and storing them as
snapshots of value and label.

A value must be one the item offers for that issue right now (for ``autocomplete``
the value is searched as ``$userInput``); values set in the same request count as
dependencies. The label is stored with the value so the issue still reads well
when the API is down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy.orm import Session

from ..caching.answer import CachedAnswer
from ..errors import MissingDependency, ValidationError
from ..host_adapter import HostIssue, HostUser
from ..models import ConnectedItem, valid_id
from .catalogue import item_id_of
from .mapping import option_json
from .options import MAX_LIMIT, cached_options, evaluate_item
from .variables import Value

if TYPE_CHECKING:  # pragma: no cover
    from ..state import ConnectState


def _as_values(item: ConnectedItem, raw: Any) -> list[str]:
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, dict):  # a snapshot sent back as it was read
        raw = raw.get("value")
    if isinstance(raw, list):
        values = [str(v.get("value") if isinstance(v, dict) else v) for v in raw if v not in (None, "")]
    elif isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        values = [str(raw)]
    else:
        raise ValidationError("Some fields are not valid.", {item.field_key: f"{item.name}: give a value as text."})
    if len(values) > 1 and not item.multi:
        raise ValidationError("Some fields are not valid.",
                              {item.field_key: f"{item.name} takes one value, not a list."})
    return list(dict.fromkeys(values))


def user_input_for(item: ConnectedItem, value: str) -> str | None:
    """An ``autocomplete`` item is searched with the value itself as ``$userInput``."""
    return value if item.editor == "autocomplete" else None


def offered_snapshot(answer: CachedAnswer, value: str) -> dict[str, Any] | None:
    """The snapshot stored for ``value``: what the answer offers for it, whole, or None
    when it is not offered. Setting a value (PUT) and the refresh of stored values
    both build snapshots here, so a snapshot always has the same shape."""
    option = answer.offered(value)
    return None if option is None else option_json(option)  # value, label (and details) as offered


def resolve(state: "ConnectState", session: Session, *, issue: HostIssue, user: HostUser,
            fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check every ``connected_item_<id>`` in ``fields``; returns field -> snapshot
    (``None`` to clear). Raises ValidationError (400) for values not offered and
    UpstreamError (502/504) when the check cannot be made; nothing is stored then."""
    deps: dict[str, Value] = {}
    for name, raw in fields.items():
        if item_id_of(name) is None:
            deps[name] = None if raw is None else str(raw)
    items: dict[str, ConnectedItem] = {}
    wanted: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for name, raw in fields.items():
        item_id = item_id_of(name)
        if item_id is None:
            continue
        item = session.get(ConnectedItem, item_id) if valid_id(item_id) else None
        if item is None or not item.offered_in(issue.project):
            errors[name] = f"{name} is not a field of {issue.project} issues."
            continue
        try:
            wanted[name] = _as_values(item, raw)
        except ValidationError as exc:
            errors.update(exc.fields)
            continue
        items[name] = item
        deps[name] = wanted[name] or None
    if errors:
        raise ValidationError("Some fields are not valid.", errors)

    snapshots: dict[str, Any] = {}
    for name, item in items.items():
        values = wanted[name]
        if not values:
            snapshots[name] = [] if item.multi else None
            continue
        chosen: dict[str, dict[str, Any]] = {}  # value -> its snapshot
        for value in values:
            try:
                evaluated = evaluate_item(session, item, issue=issue, user=user, deps=deps,
                                          user_input=user_input_for(item, value))
            except (MissingDependency, ValidationError) as exc:  # a dependency to fill, a header it cannot send
                raise ValidationError("Some fields are not valid.", {name: exc.message}) from None
            answer, _cached = cached_options(state, evaluated)
            found = offered_snapshot(answer, value)
            if found is None:
                shown = value if len(value) <= 80 else value[:77] + "..."
                errors[name] = f"{shown!r} is not one of the options of {item.name}."
                break
            chosen[value] = found
        if name in errors:
            continue
        snapshot = [chosen[v] for v in values]
        snapshots[name] = snapshot if item.multi else snapshot[0]
    if errors:
        raise ValidationError("Some fields are not valid.", errors)
    return snapshots


__all__ = ["MAX_LIMIT", "offered_snapshot", "resolve", "user_input_for"]
