"""Parse the host's JQL subset into a small tree, and print it back.

Why a grammar file and Lark: the error a user sees must name the position and what was
expected there, and Lark's LALR parser reports both; a hand-written parser would have
to re-invent that. The tree is plain tuples so that ``parse(to_text(q)) == q`` can be
property-tested and the SQL translation stays a pure function of it. A query with
``ORDER BY`` is ``("order", condition or None, (("key", "asc"), ...))``; one without
is its condition alone.
"""

from __future__ import annotations

import functools
from importlib import resources

from lark import Lark, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

_TOKEN_NAMES = {"FIELD": "a field name or value", "STRING": "a quoted string",
                "OP": "an operator (=, !=, ~, !~)", "LPAR": "\"(\"", "RPAR": "\")\"", "COMMA": "\",\"",
                "_AND": "AND", "_OR": "OR", "_NOT": "NOT", "_IN": "IN", "_IS": "IS", "_EMPTY": "EMPTY",
                "_ORDER": "ORDER BY", "_BY": "BY", "DIRECTION": "ASC or DESC", "$END": "the end of the query"}


class JqlError(ValueError):
    """A query the grammar refuses; the message names the position and what was expected."""


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", maybe_placeholders=False)


def _unquote(token: str) -> str:
    if token.startswith('"'):
        inner = token[1:-1]
        return inner.replace('\\"', '"').replace("\\\\", "\\")
    return str(token)


class _Order(tuple):
    """The ``ORDER BY`` part while the tree is built."""


class _Tree(Transformer):
    def start(self, items):
        condition = items[0] if items and not isinstance(items[0], _Order) else None
        order = items[-1] if items and isinstance(items[-1], _Order) else None
        return condition if order is None else ("order", condition, tuple(order))

    def order_by(self, items):
        return _Order(items)

    def sort(self, items):
        return (str(items[0]).lower(), str(items[1]).lower() if len(items) > 1 else "asc")

    def value(self, items):
        return _unquote(items[0])

    def compare(self, items):
        return ("cmp", str(items[0]).lower(), str(items[1]), items[2])

    def in_(self, items):
        return ("in", str(items[0]).lower(), tuple(items[1:]))

    def not_in(self, items):
        return ("not in", str(items[0]).lower(), tuple(items[1:]))

    def is_empty(self, items):
        return ("empty", str(items[0]).lower())

    def is_not_empty(self, items):
        return ("not empty", str(items[0]).lower())

    def or_(self, items):
        return items[0] if len(items) == 1 else ("or", tuple(items))

    def and_(self, items):
        return items[0] if len(items) == 1 else ("and", tuple(items))

    def not_(self, items):
        return ("not", items[0])


def _expected(exc: UnexpectedInput) -> str:
    names = sorted({_TOKEN_NAMES.get(name, name) for name in (getattr(exc, "expected", None) or
                                                              getattr(exc, "allowed", None) or ())})
    return " or ".join(names) if names else "something else"


def parse(text: str):
    """Return the query tree of ``text`` or raise :class:`JqlError` naming where and what."""
    if not text or not text.strip():
        raise JqlError("The query is empty: expected a clause such as project = DEMO.")
    try:
        return _Tree().transform(_parser().parse(text))
    except UnexpectedEOF as exc:
        raise JqlError(f"The query ends too early at position {len(text)}: expected {_expected(exc)}.") from None
    except UnexpectedToken as exc:
        found = "the end of the query" if exc.token.type == "$END" else f"'{exc.token}'"
        position = len(text) if exc.token.type == "$END" else exc.pos_in_stream
        raise JqlError(f"Unexpected {found} at position {position}: expected {_expected(exc)}.") from None
    except UnexpectedCharacters as exc:
        raise JqlError(f"Unexpected character '{text[exc.pos_in_stream]}' at position {exc.pos_in_stream}: "
                       f"expected {_expected(exc)}.") from None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_text(tree) -> str:
    """Print a tree as JQL that parses back to the same tree (values always quoted)."""
    kind = tree[0]
    if kind == "order":
        order = "ORDER BY " + ", ".join(f"{field} {direction.upper()}" for field, direction in tree[2])
        return order if tree[1] is None else f"{to_text(tree[1])} {order}"
    if kind in ("or", "and"):
        return "(" + f" {kind.upper()} ".join(to_text(part) for part in tree[1]) + ")"
    if kind == "not":
        return f"NOT {to_text(tree[1])}"
    if kind == "cmp":
        return f"{tree[1]} {tree[2]} {_quote(tree[3])}"
    if kind in ("in", "not in"):
        return f"{tree[1]} {kind.upper()} (" + ", ".join(_quote(v) for v in tree[2]) + ")"
    return f"{tree[1]} IS {'NOT ' if kind == 'not empty' else ''}EMPTY"
