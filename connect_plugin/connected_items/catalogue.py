"""The query variables an item may use, and the name of a connected field.

One list: the query parser accepts exactly these names and the item form's help
shows them in this order, so the two cannot drift apart. ``connected_item_<id>`` is
built and read only here.
"""

from __future__ import annotations

from dataclasses import dataclass

FIELD_PREFIX = "connected_item_"
CONNECTED_VARIABLE = f"issue.{FIELD_PREFIX}<id>"


@dataclass(frozen=True)
class Variable:
    name: str  # canonical, without the $
    help: str


VARIABLES: tuple[Variable, ...] = (
    Variable("issue.key", "the issue's key, e.g. DEMO-1"),
    Variable("issue.summary", "the summary"),
    Variable("issue.description", "the description"),
    Variable("issue.project", "the project's key"),
    Variable("issue.reporter", "the reporter's account id"),
    Variable(CONNECTED_VARIABLE, "another connected item's value on the issue"),
    Variable("currentUser.accountId", "the user's account id"),
    Variable("currentUser.displayName", "the user's display name"),
    Variable("currentUser.emailAddress", "the user's e-mail address"),
    Variable("userInput", "what the user types in an Autocomplete field"),
)

# The fixed names (every variable but the connected-item pattern).
KNOWN_VARIABLES: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.name != CONNECTED_VARIABLE)
KNOWN_TEXT = ", ".join(f"${v.name}" for v in VARIABLES)
_KNOWN = frozenset(KNOWN_VARIABLES)


def field_key(item_id: int) -> str:
    """The issue field of connected item ``item_id``: ``connected_item_<id>``."""
    return f"{FIELD_PREFIX}{int(item_id)}"


def item_id_of(field: str) -> int | None:
    """The item id of a connected field name, or None. Only the canonical spelling
    counts (``connected_item_3``, not ``connected_item_03``), so one item has one
    field name."""
    if not field.startswith(FIELD_PREFIX):
        return None
    digits = field[len(FIELD_PREFIX):]
    if not digits.isascii() or not digits.isdigit() or digits.startswith("0"):
        return None
    try:
        return int(digits)
    except ValueError:  # more digits than int() reads from text
        return None


def connected_variable_item(name: str) -> int | None:
    """The item id of ``issue.connected_item_<id>``, or None."""
    return item_id_of(name[len("issue."):]) if name.startswith("issue.") else None


def is_known(name: str) -> bool:
    return name in _KNOWN or connected_variable_item(name) is not None
