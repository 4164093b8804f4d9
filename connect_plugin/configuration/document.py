"""Checking a configuration document before anything is written.

Everything that can be told from the document alone is checked here, each problem
named by its entry (``items[2] "Country"``): the version, the shape, names given
twice, a secret in the file, an item whose datasource or referenced item is not in
the file, an item named by id, items that read each other in a circle. What the
services check (URLs, mappings, queries) they check on import, named the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..datasources import get_type
from ..errors import ValidationError
from . import references
from .export import DATASOURCE_PARTS, VERSION

TOP_LEVEL = ("version", "datasources", "items")
NO_SECRETS = "a configuration file never holds secrets: enter it on the datasource page after the import"


@dataclass
class Entry:
    kind: str  # "datasource" or "item"
    index: int
    name: str
    data: dict[str, Any]
    reads: list[str] = field(default_factory=list)  # items (lower-cased names) an item's texts refer to

    @property
    def path(self) -> str:
        return f"{self.kind}s[{self.index}]"

    @property
    def where(self) -> str:
        return f"{self.path} {self.name!r}" if self.name else self.path

    @property
    def label(self) -> dict[str, str]:
        """How the import's answer names the entry: ``{"datasource": "Assets"}``."""
        return {self.kind: self.name}

    def error(self, fields: dict[str, str], message: str | None = None) -> ValidationError:
        """A 400 naming this entry, its fields prefixed with the entry's path."""
        text = message or "; ".join(f"{k}: {v}" for k, v in fields.items())
        return ValidationError(f"{self.where}: {text}", {f"{self.path}.{k}" if k else self.path: v
                                                         for k, v in fields.items()})


@dataclass
class Document:
    datasources: list[Entry]
    items: list[Entry]  # every item after the items it reads


def _problem(field_name: str, message: str) -> ValidationError:
    return ValidationError(f"{field_name}: {message}", {field_name: message})


def read(document: Any) -> Document:
    """The document's entries, or a ValidationError naming the first bad one."""
    if not isinstance(document, dict):
        raise ValidationError("The configuration must be an object with version, datasources and items.")
    unknown = [k for k in document if k not in TOP_LEVEL]
    if unknown:
        raise _problem(unknown[0], f"unknown key; a configuration has only {', '.join(TOP_LEVEL)}.")
    version = document.get("version")
    if version != VERSION or isinstance(version, bool):
        raise _problem("version", f"this instance reads configuration version {VERSION}, not {version!r}.")
    datasources = _entries(document, "datasource")
    items = _entries(document, "item")
    for entry in datasources:
        _check_datasource(entry)
    names = {entry.name.lower() for entry in datasources}
    known_items = {entry.name.lower(): entry for entry in items}
    for entry in items:
        _check_item(entry, names, known_items)
    return Document(datasources, _in_dependency_order(items, known_items))


def _entries(document: dict, kind: str) -> list[Entry]:
    raw = document.get(f"{kind}s", [])
    if not isinstance(raw, list):
        raise _problem(f"{kind}s", "must be a list.")
    entries: list[Entry] = []
    seen: dict[str, Entry] = {}
    for index, data in enumerate(raw):
        entry = Entry(kind, index, "", data if isinstance(data, dict) else {})
        if not isinstance(data, dict):
            raise entry.error({"": f"each {kind} is an object."})
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise entry.error({"name": "Name is required."})
        entry.name = name.strip()
        twin = seen.get(entry.name.lower())
        if twin is not None:
            raise entry.error({"name": f"{twin.where} has the same name; names are unique, whatever their case."})
        seen[entry.name.lower()] = entry
        entries.append(entry)
    return entries


def _check_datasource(entry: Entry) -> None:
    unknown = [k for k in entry.data if k not in DATASOURCE_PARTS]
    if unknown:
        raise entry.error({unknown[0]: f"unknown key; a datasource has {', '.join(DATASOURCE_PARTS)}."})
    auth = entry.data.get("auth")
    if isinstance(auth, dict):
        try:
            secret_names = type(get_type(entry.data.get("type", "rest")).auth_mode(auth.get("mode", "none")))\
                .secret_fields()
        except ValidationError:
            secret_names = ()  # the service names the bad type or mode
        given = [name for name in secret_names if auth.get(name) not in (None, "")]
        if given:
            raise entry.error({f"auth.{given[0]}": NO_SECRETS + "."})
    config = entry.data.get("config")
    if isinstance(config, dict):
        for key, value in config.items():
            for index, part in enumerate(value if isinstance(value, list) else []):
                if isinstance(part, dict) and part.get("secret") is True and part.get("value") not in (None, ""):
                    raise entry.error({f"config.{key}[{index}].value": NO_SECRETS + "."})


def _check_item(entry: Entry, datasources: set[str], items: dict[str, Entry]) -> None:
    for key in ("id", "datasource_id"):
        if key in entry.data:
            raise entry.error({key: "ids differ between instances: an item names its datasource with datasource."})
    datasource = entry.data.get("datasource")
    if not isinstance(datasource, str) or not datasource.strip():
        raise entry.error({"datasource": "Name the item's datasource."})
    if datasource.strip().lower() not in datasources:
        raise entry.error({"datasource": f"{datasource!r} is not a datasource of this file."})
    for key, value in entry.data.items():
        if key in ("name", "datasource"):
            continue
        for text in references.strings(value):
            ids = references.ids_in(text)
            if ids:
                raise entry.error({key: f"$issue.connected_item_{ids[0]} names an item by id, which differs "
                                        "between instances; write $issue.connected_item[Its name]."})
            for name in references.names_in(text):
                target = items.get(name.strip().lower())
                if target is None:
                    raise entry.error({key: f"refers to the item {name!r}, which is not in this file."})
                if target is entry:
                    raise entry.error({key: "refers to the item itself; an item cannot depend on itself."})
                if target.name.lower() not in entry.reads:
                    entry.reads.append(target.name.lower())


def _in_dependency_order(items: list[Entry], by_name: dict[str, Entry]) -> list[Entry]:
    """Items ordered so that each comes after those it reads (file order otherwise);
    a circle of items is an error naming them."""
    ordered: list[Entry] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(entry: Entry, trail: list[Entry]) -> None:
        key = entry.name.lower()
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            circle = trail[trail.index(entry):] + [entry]
            raise entry.error({"": "these items read each other in a circle: "
                                        + " -> ".join(repr(e.name) for e in circle) + "."})
        state[key] = "visiting"
        for name in entry.reads:
            visit(by_name[name], trail + [entry])
        state[key] = "done"
        ordered.append(entry)

    for entry in items:
        visit(entry, [])
    return ordered
