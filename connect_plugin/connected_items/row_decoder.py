"""Rows straight from the answer's bytes, holding only the keys the mapping reads.

Parsing an answer into Python objects costs more than anything else the plugin
does with it: a 50,000-row answer of six keys a row takes about 45 ms to parse and
the mapping reads three of them. For the common shape (a path of plain names such
as ``$.items[*]``, ``$.data.results`` or ``$``, and placeholders that start with a
key, ``${row.id}``, ``${row.owner.email}``) msgspec decodes the answer into
structs of just those keys (the others are skipped while parsing, never built),
which ``msgspec.to_builtins`` turns into small dicts for the generated row loop:
about 20 ms for the same answer, and less memory while the load runs.

When every placeholder is a single key and the item has no details, the rows stay
structs (untracked by the garbage collector) and the generated row loop reads their
attributes (``row_loop``): no dict is built per row at all. Such a page is first
decoded into structs whose keys are typed ``str`` (``TextRow``, a missing key ``""``):
ids, names and emails nearly always are strings, and then decoding is about a third
cheaper and the loop needs no check of a value's type (nor of a row's class: such a
page comes as ``TextRows``). A page with any other value at
a read key (a number, null, an object, a row that is not an object) fails that decode
at its first such value and is decoded again with untyped keys; after such a failure
the typed decode is skipped for the next ``TYPED_RETRY`` pages, so an API with
numeric ids costs a failed attempt only now and then. Otherwise they become
dicts. Either way they are the rows the generic path gives (``parse_json`` +
``find_rows``) with the unread keys left out, so the options are identical. Whatever this decoder does
not model answers None and the caller takes the generic path, which also words
every error: an answer that is not JSON, a level that is not an object, a list that
is an object, a missing key, or the one-element-array case in which ``find_rows``
unwraps an inner array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from .jsonpath import WILDCARD, simple_steps

RowDecoder = Callable[[bytes], "list[Any] | None"]

_UNSET = msgspec.UNSET
UNSET = _UNSET  # a struct row's value for a key its object did not have


# Pages decoded untyped after the typed decode failed, before it is tried again.
TYPED_RETRY = 64


class TextRows(list):
    """A page the typed decode read: every row in it is a ``TextRow``, so the row
    loop reads the page without a check per row (``row_loop``)."""

    __slots__ = ()


@dataclass(frozen=True)
class StructRows:
    """How struct rows look: their classes (untyped; every key ``str``), and the
    attribute that holds each key (the same in both)."""

    row_class: type
    attribute: dict[str, str]
    text_class: type | None = None


def as_builtins(rows: list[Any]) -> list[Any]:
    """Struct rows as the dicts the generic parse gives (without the unread keys)."""
    return msgspec.to_builtins(rows)


def compile_row_decoder(path: str, placeholders: Iterable[tuple[str | int, ...]], *,
                        struct_rows: bool = False) -> tuple[RowDecoder, StructRows | None] | None:
    """A decoder for answers the mapping (``path`` and its placeholders' steps) reads,
    or None when the mapping needs the whole parsed answer: a path with filters,
    indexes or recursion, or a placeholder that reads the whole row (``${row}``) or
    an index of it (``${row[0]}``). With ``struct_rows`` (every placeholder a single
    key, no details) the rows it gives are structs described by the second value;
    otherwise they are dicts and the second value is None."""
    try:
        steps = simple_steps(path)
    except Exception:  # noqa: BLE001 - compile_mapping reports bad paths; here: not modelled
        return None
    if steps is None:
        return None
    wildcard = bool(steps) and steps[-1] is WILDCARD
    names = steps[:-1] if wildcard else steps
    if any(type(step) is not str for step in names):
        return None
    keys = _row_keys(placeholders)
    if keys is None:
        return None
    rename = {f"k{i}": key for i, key in enumerate(keys)}
    # gc=False: decoded JSON cannot refer back to a row, so rows cannot form cycles.
    row = msgspec.defstruct("Row", [(f"k{i}", object, _UNSET) for i in range(len(keys))], rename=rename, gc=False)
    # Anything but an object is kept as it is: the row loop renders such rows itself.
    decoder = _decoder(list[row | list | str | int | float | bool | None], names)
    text_row = text_decoder = None
    if struct_rows:
        text_row = msgspec.defstruct("TextRow", [(f"k{i}", str, "") for i in range(len(keys))], rename=rename,
                                     gc=False)
        text_decoder = _decoder(list[text_row], names)
    decode_rows = _page_decoder(decoder, text_decoder, len(names), wildcard, struct_rows)
    shape = StructRows(row, {key: f"k{i}" for i, key in enumerate(keys)}, text_row) if struct_rows else None
    return decode_rows, shape


def _row_keys(placeholders: Iterable[tuple[str | int, ...]]) -> list[str] | None:
    """The row keys the placeholders read first, in order, once each; None when one
    reads the whole row or an index of it, which a struct cannot model."""
    keys: list[str] = []
    for placeholder in placeholders:
        if not placeholder or type(placeholder[0]) is not str:
            return None
        if placeholder[0] not in keys:
            keys.append(placeholder[0])
    return keys


def _page_decoder(decoder: msgspec.json.Decoder, text_decoder: msgspec.json.Decoder | None, depth: int,
                  wildcard: bool, struct_rows: bool) -> RowDecoder:
    """The decoder of one page: typed first (when there is one and it did not fail
    within the last ``TYPED_RETRY`` pages), else untyped; then down the path's levels."""
    skipped = [TYPED_RETRY]  # pages since the typed decode failed; shared by threads, only a hint

    def decode_rows(body: bytes) -> list[Any] | None:
        found: Any = None
        typed = False
        if text_decoder is not None and skipped[0] >= TYPED_RETRY:
            try:
                found = text_decoder.decode(body)
                typed = True
            except msgspec.ValidationError:  # a value that is not a string: the untyped decode
                skipped[0] = 0
            except Exception:  # noqa: BLE001 - not JSON, too deep: the generic path says
                return None
        elif text_decoder is not None:
            skipped[0] += 1
        if found is None:
            try:
                found = decoder.decode(body)
            except Exception:  # noqa: BLE001 - not JSON, another shape, too deep: the generic path says
                return None
        for _ in range(depth):
            found = found.k
            if found is _UNSET:
                return None  # the path matches nothing: the generic path's rule
        if wildcard and len(found) == 1 and isinstance(found[0], list):
            return None  # find_rows unwraps a lone inner array
        if typed:
            return TextRows(found)
        return found if struct_rows else msgspec.to_builtins(found)

    return decode_rows


def _decoder(rows: Any, names: list[str]) -> msgspec.json.Decoder:
    """A decoder of the objects along ``names`` down to ``rows``, each level a
    struct of its one key."""
    level = rows
    for index, name in enumerate(reversed(names)):
        level = msgspec.defstruct(f"Level{index}", [("k", level, _UNSET)], rename={"k": name})
    return msgspec.json.Decoder(level)
