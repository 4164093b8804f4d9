"""References between connected items, by id in an instance and by name in a file.

An item's query (and any other text of it that holds variables) names another item
as ``$issue.connected_item_<id>`` or ``${issue.connected_item_<id>}``. Ids mean
nothing in another instance, so a configuration file writes the item's name instead:

    $issue.connected_item[Continent]        ${issue.connected_item[Continent]}

In the name ``\\]`` stands for ``]`` and ``\\\\`` for ``\\``. ``$$`` stays a literal
``$`` in both forms, so ``$$issue.connected_item_3`` is text and is never rewritten.
The bare and braced spellings are kept as the admin wrote them.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from ..connected_items.catalogue import FIELD_PREFIX

_VAR = "issue." + FIELD_PREFIX
_BY_ID = re.compile(r"\$\$|\$\{" + re.escape(_VAR) + r"([1-9][0-9]*)\}|\$" + re.escape(_VAR)
                    + r"([1-9][0-9]*)(?![A-Za-z0-9_])")
_NAME = r"((?:[^\]\\]|\\.)*)"
_BY_NAME = re.compile(r"\$\$|\$\{" + re.escape(_VAR[:-1]) + r"\[" + _NAME + r"\]\}|\$"
                      + re.escape(_VAR[:-1]) + r"\[" + _NAME + r"\]")


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace("]", "\\]")


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)


def to_names(text: str, names: Mapping[int, str]) -> str:
    """``text`` with every reference to an item in ``names`` (id -> name) written by
    name; a reference to an id not in ``names`` is left as it is."""

    def swap(match: re.Match) -> str:
        braced, bare = match.group(1), match.group(2)
        if braced is None and bare is None:
            return match.group(0)  # $$
        name = names.get(int(braced or bare))
        if name is None:
            return match.group(0)
        ref = f"{_VAR[:-1]}[{_quote(name)}]"
        return f"${{{ref}}}" if braced else f"${ref}"

    return _BY_ID.sub(swap, text)


def names_in(text: str) -> list[str]:
    """The item names ``text`` refers to, in order."""
    return [_unquote(m.group(1) if m.group(1) is not None else m.group(2))
            for m in _BY_NAME.finditer(text) if m.group(1) is not None or m.group(2) is not None]


def ids_in(text: str) -> list[int]:
    """The item ids ``text`` refers to (a file must not: ids belong to one instance)."""
    return [int(m.group(1) or m.group(2)) for m in _BY_ID.finditer(text) if m.group(1) or m.group(2)]


def to_ids(text: str, ids: Mapping[str, int]) -> str:
    """``text`` with every by-name reference replaced by the item's id; ``ids`` is
    keyed by lower-cased name and holds every name ``text`` uses."""

    def swap(match: re.Match) -> str:
        braced, bare = match.group(1), match.group(2)
        if braced is None and bare is None:
            return match.group(0)
        item_id = ids[_unquote(braced if braced is not None else bare).strip().lower()]
        return f"${{{_VAR}{item_id}}}" if braced is not None else f"${_VAR}{item_id}"

    return _BY_NAME.sub(swap, text)


def walk(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (JSON data) with ``change`` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [walk(v, change) for v in value]
    if isinstance(value, dict):
        return {k: walk(v, change) for k, v in value.items()}
    return value


def strings(value: Any) -> list[str]:
    """Every string in ``value`` (JSON data)."""
    found: list[str] = []
    walk(value, lambda s: found.append(s) or s)
    return found
