"""Applying a configuration document: create or update by name, all or nothing.

The document is checked first (:mod:`.document`); then every datasource and item
goes through the same ``create``/``update`` service functions as the admin API,
so every rule holds and every change lands in the audit log (who, which fields).
A service's refusal is reported on its entry (``items[1] 'Country': query: …``)
and the transaction is rolled back; so is a dry run, after the plan is known.

An entry describes its record whole: a setting the file leaves out is reset to its
default, where a PATCH would keep it. Records the file does not name are left as
they are. Secrets are never in a file: a datasource keeps the ones it has, waits
for the required ones it lacks (``secrets_needed``), and drops those a URL moved
to another host may not follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from .. import audit, named_records
from ..connected_items import service as item_service
from ..datasources import get_type
from ..datasources import service as datasource_service
from ..datasources.secrets import missing_secrets
from ..errors import ConnectError, ValidationError
from ..models import ConnectedItem, Datasource
from ..outbound import OutboundPolicy
from ..secret_box import SecretBox
from . import document as documents
from . import references
from .document import Entry
from .export import item_entry

if TYPE_CHECKING:
    from ..state import ConnectState


@dataclass
class Plan:
    created: list[dict[str, str]] = field(default_factory=list)
    updated: list[dict[str, str]] = field(default_factory=list)
    unchanged: list[dict[str, str]] = field(default_factory=list)
    secrets_needed: list[dict[str, Any]] = field(default_factory=list)
    datasource_ids: list[int] = field(default_factory=list)  # updated ones: their tokens are stale

    def as_json(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "secrets_needed": self.secrets_needed}

    def lines(self) -> list[str]:
        """The plan as the CLI prints it, one line per record."""
        out = [f"{what}: {kind} {name}" for what, entries in (("created", self.created), ("updated", self.updated),
                                                             ("unchanged", self.unchanged))
               for entry in entries for kind, name in entry.items()]
        out += [f"secrets needed: datasource {need['datasource']} ({', '.join(need['fields'])})"
                for need in self.secrets_needed]
        counts = f"created {len(self.created)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}"
        return out + [f"{counts}, datasources waiting for secrets {len(self.secrets_needed)}"]


class Configuration:
    """What the audit log names for an import as a whole."""

    id = None
    name = "import"


def import_config(state: "ConnectState", session: Session, document: Any, *, actor: str,
                  dry_run: bool = False) -> Plan:
    """Apply ``document`` in one transaction (committed, or rolled back for a dry
    run) and say what it did. Raises ValidationError naming the entry, with
    nothing written."""
    box, policy = state.box, state.policy
    checked = documents.read(document)
    plan = Plan()
    try:
        datasources = {entry.name.lower(): _apply_datasource(session, entry, plan, box, policy, actor)
                       for entry in checked.datasources}
        ids: dict[str, int] = {}
        for entry in checked.items:
            ids[entry.name.lower()] = _apply_item(session, entry, plan, datasources, ids, actor)
        for entry in checked.datasources:
            missing = missing_secrets(datasources[entry.name.lower()])
            if missing:
                plan.secrets_needed.append({"datasource": datasources[entry.name.lower()].name, "fields": missing})
        if plan.created or plan.updated:  # an import that changes nothing is no change to log
            audit.record_counts(session, actor, "config_imported", Configuration(),
                                {"created": len(plan.created), "updated": len(plan.updated),
                                 "unchanged": len(plan.unchanged)})
    except BaseException:
        session.rollback()
        raise
    if dry_run:
        session.rollback()
        return plan
    session.commit()
    for datasource_id in plan.datasource_ids:
        state.tokens.drop_datasource(datasource_id)  # as after an API edit
    return plan


def _outcome(plan: Plan, entry: Entry, created: bool, changed: bool) -> None:
    (plan.created if created else plan.updated if changed else plan.unchanged).append(entry.label)


def _apply_datasource(session: Session, entry: Entry, plan: Plan, box: SecretBox, policy: OutboundPolicy,
                      actor: str) -> Datasource:
    payload = {part: entry.data[part] for part in ("name", "type", "config", "auth") if part in entry.data}
    payload["name"] = entry.name
    payload.setdefault("auth", {"mode": "none"})
    current = named_records.find_by_name(session, Datasource, entry.name)
    try:
        if current is None:
            datasource = datasource_service.create(session, payload, box=box, policy=policy, actor=actor,
                                                   pending_secrets=True)
            _outcome(plan, entry, True, True)
            return datasource
        version = current.version
        datasource = datasource_service.update(session, current, _whole(current, payload), box=box, policy=policy,
                                               actor=actor, pending_secrets=True)
    except ConnectError as exc:
        raise _on_entry(entry, exc) from None
    _outcome(plan, entry, False, datasource.version != version)
    if datasource.version != version:
        plan.datasource_ids.append(datasource.id)
    return datasource


def _whole(current: Datasource, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as a PATCH that leaves nothing of ``current`` the file left out:
    missing settings are given as empty (their default), within the same auth mode
    missing auth settings as their default."""
    payload = dict(payload)
    config = payload.get("config", {})
    if isinstance(config, dict):
        payload["config"] = {**{k: None for k in current.config}, **config}
    auth = payload["auth"]
    if isinstance(auth, dict) and auth.get("mode", current.auth_mode) == current.auth_mode:
        try:
            mode_fields = type(get_type(current.type).auth_mode(current.auth_mode)).fields
        except ValidationError:
            mode_fields = ()
        defaults = {f.name: f.default for f in mode_fields if not f.secret}
        payload["auth"] = {**{k: defaults.get(k) for k in current.auth_config}, **auth}
    return payload


def _apply_item(session: Session, entry: Entry, plan: Plan, datasources: dict[str, Datasource],
                ids: dict[str, int], actor: str) -> int:
    payload = {key: references.walk(value, lambda text: references.to_ids(text, ids))
               for key, value in entry.data.items() if key not in ("name", "datasource")}
    payload["name"] = entry.name
    payload["datasource_id"] = datasources[entry.data["datasource"].strip().lower()].id
    current = named_records.find_by_name(session, ConnectedItem, entry.name)
    try:
        if current is None:
            item = item_service.create(session, payload, actor=actor)
            _outcome(plan, entry, True, True)
            return item.id
        version = current.version
        item = item_service.update(session, current, _whole_item(current, payload), actor=actor)
    except ConnectError as exc:
        raise _on_entry(entry, exc) from None
    _outcome(plan, entry, False, item.version != version)
    return item.id


def _whole_item(current: ConnectedItem, payload: dict[str, Any]) -> dict[str, Any]:
    """Keys of the item's own shape that the file leaves out are given as empty."""
    shown = item_entry(current, {})
    whole = {**{k: None for k in shown if k not in ("name", "datasource")}, **payload}
    if isinstance(payload.get("options"), dict) or "options" not in payload:
        options = payload.get("options") or {}
        whole["options"] = {**{k: None for k in shown["options"]},
                            **item_service.DEFAULT_OPTIONS, **options}
    return whole


def _on_entry(entry: Entry, exc: ConnectError) -> ValidationError:
    """A service's refusal, named by the entry it was about."""
    if isinstance(exc, ValidationError) and exc.fields:
        fields = dict(exc.fields)
        if "datasource_id" in fields:  # the file names the datasource
            fields["datasource"] = fields.pop("datasource_id")
        return entry.error(fields)
    return entry.error({"": exc.message})
