"""The refresh of stored values: re-reading the label (and whatever else a snapshot
holds) of every connected value stored on issues.

Why: a snapshot keeps an issue readable when the API is down, but the external
system moves on (a laptop is renamed, a record gains a serial). The refresh checks
each stored value the way setting it does (the same options for that issue, with
``$currentUser`` as the issue's reporter) and replaces a snapshot that differs by
the freshly built one (:func:`field_values.offered_snapshot`), so whatever a
snapshot carries follows. A value no longer offered is kept and counted, never
dropped; an upstream failure is counted and the refresh goes on.

Issues come from the host in batches (``HostAdapter.issues_with_connected_value``);
each batch's changed snapshots are written in one transaction
(``store_refreshed_values``), so a run that stops midway leaves every earlier batch
written and nothing half-written. Calls go through the datasource's cache and its
limit of calls in flight, like every options call: issues whose query evaluates
alike share one answer, and a URL that failed is not called again in the same run.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sqlalchemy.orm import Session

from .. import audit
from ..db import end_read
from ..errors import MissingDependency, UpstreamError, ValidationError
from ..host_adapter import HostIssue, HostUser
from ..models import ConnectedItem
from .field_values import offered_snapshot, user_input_for
from .options import cached_options, evaluate_item

if TYPE_CHECKING:  # pragma: no cover
    from ..state import ConnectState

log = logging.getLogger("connect_plugin.refresh")

BATCH_SIZE = 50
# Called after each batch with the item and how many issues the batch held (0 when
# the item's refresh starts), so a terminal can draw progress.
Progress = Callable[[ConnectedItem, int], None]


@dataclass
class Summary:
    """What a refresh did, counted per stored value (a multi-value field holds several)."""

    checked: int = 0
    changed: int = 0
    not_offered: int = 0
    failed: int = 0

    def add(self, other: "Summary", *, changed: bool = True) -> None:
        self.checked += other.checked
        self.not_offered += other.not_offered
        self.failed += other.failed
        if changed:
            self.changed += other.changed

    def as_json(self) -> dict[str, int]:
        return asdict(self)

    def line(self) -> str:
        return (f"checked {self.checked}, changed {self.changed}, not offered {self.not_offered}, "
                f"failed {self.failed}")


class _Checker:
    """Checks one item's stored values, remembering the reporters it looked up and
    the URLs that failed during this run."""

    def __init__(self, state: "ConnectState", session: Session, item: ConnectedItem):
        self.state, self.session, self.item = state, session, item
        self.users: dict[str, HostUser] = {}
        self.failed_urls: set[str] = set()

    def reporter(self, issue: HostIssue) -> HostUser:
        account = str(issue.fields.get("reporter") or "")
        if account not in self.users:
            found = self.state.host.find_user(account) if account else None
            self.users[account] = found or HostUser(account_id=account, display_name=account)
        return self.users[account]

    def fresh_snapshot(self, issue: HostIssue, value: str) -> tuple[str, dict[str, Any] | None]:
        """``("offered", snapshot)``, ``("not_offered", None)`` or ``("failed", None)``."""
        item = self.item
        if not item.offered_in(issue.project):
            return "not_offered", None  # the field no longer applies to this project
        try:
            evaluated = evaluate_item(self.session, item, issue=issue, user=self.reporter(issue), deps={},
                                      user_input=user_input_for(item, value))
        except (MissingDependency, ValidationError) as exc:  # ValidationError: a header it cannot send
            log.info("Refresh of %s on %s: %s", item.name, issue.key, exc.message)
            return "failed", None
        finally:
            end_read(self.session)  # no database connection held while the upstream answers
        if evaluated.cache_identity in self.failed_urls:
            return "failed", None
        try:
            answer, _cached = cached_options(self.state, evaluated)
        except UpstreamError as exc:
            self.failed_urls.add(evaluated.cache_identity)
            log.warning("Refresh of %s on %s: %s", item.name, issue.key, exc.message)
            return "failed", None
        snapshot = offered_snapshot(answer, value)
        return ("offered", snapshot) if snapshot is not None else ("not_offered", None)


def _value_of(entry: Any) -> str | None:
    raw = entry.get("value") if isinstance(entry, dict) else entry
    return None if raw in (None, "") or isinstance(raw, (dict, list)) else str(raw)


def refreshed(checker: _Checker, stored: Any, issue: HostIssue) -> tuple[Any, Summary]:
    """The field's snapshot(s) after checking each value, and the counts. Entries that
    are not offered, or could not be checked, stay exactly as stored."""
    entries = stored if isinstance(stored, list) else [stored]
    counts = Summary()
    fresh = []
    for entry in entries:
        value = _value_of(entry)
        if value is None:
            fresh.append(entry)
            continue
        counts.checked += 1
        outcome, snapshot = checker.fresh_snapshot(issue, value)
        if outcome == "offered":
            counts.changed += snapshot != entry
            fresh.append(snapshot)
        else:
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            fresh.append(entry)
    return (fresh if isinstance(stored, list) else fresh[0]), counts


def refresh_item(state: "ConnectState", session: Session, item: ConnectedItem, *, actor: str,
                 dry_run: bool = False, batch_size: int | None = None, progress: Progress | None = None) -> Summary:
    """Refresh every stored value of ``item``; with ``dry_run`` count what would
    change and write nothing. A refresh that changed snapshots adds an audit entry
    to ``session`` (the caller commits it). ``batch_size`` defaults to BATCH_SIZE."""
    batch_size = batch_size or BATCH_SIZE
    checker = _Checker(state, session, item)
    summary = Summary()
    after: str | None = None
    if progress:
        progress(item, 0)
    while True:
        issues = state.host.issues_with_connected_value(item.id, after=after, limit=batch_size)
        if not issues:
            break
        changes, counts = [], {}
        for issue in issues:
            stored = issue.fields.get(item.field_key)
            fresh, counts[issue.key] = refreshed(checker, stored, issue)
            if fresh != stored:
                changes.append((issue.key, stored, fresh))
        written = {key for key, _old, _new in changes}
        if changes and not dry_run:
            written = state.host.store_refreshed_values(item.id, changes)
        for key, issue_counts in counts.items():
            summary.add(issue_counts, changed=key in written)
        if progress:
            progress(item, len(issues))
        after = issues[-1].key
    if summary.changed and not dry_run:
        audit.record_counts(session, actor, "refreshed_values", item, summary.as_json())
    return summary


def refresh_items(state: "ConnectState", session: Session, items: Iterable[ConnectedItem], *, actor: str,
                  dry_run: bool = False, batch_size: int | None = None,
                  progress: Progress | None = None) -> Summary:
    """:func:`refresh_item` for each item; the counts added up."""
    total = Summary()
    for item in items:
        total.add(refresh_item(state, session, item, actor=actor, dry_run=dry_run, batch_size=batch_size,
                               progress=progress))
    return total
