"""JSONPath for the rows of an answer: jsonpath-ng's syntax, with a direct traversal
for the simple paths nearly every mapping uses.

jsonpath-ng creates a context object for every match, which is slow on large
arrays. Paths made only of ``$``, names (``.a``, ``['a']``), ``[*]``/``.*`` and one
integer index are compiled into a direct traversal with jsonpath-ng's own
semantics (tests check the two agree); all other paths (filters, ``..``, slices,
unions, named operators) use jsonpath-ng itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jsonpath_ng import jsonpath as jp
from jsonpath_ng.ext import parse as jsonpath_parse

__all__ = ["RowFinder", "compile_path"]

RowFinder = Callable[[Any], list[Any]]


def compile_path(path: str) -> tuple[RowFinder, bool]:
    """The finder for ``path`` and whether it is the direct traversal. Raises
    whatever jsonpath-ng raises for a path it cannot parse (several kinds)."""
    expr = jsonpath_parse(path)
    steps = _fast_steps(expr)
    return (_make_traversal(steps), True) if steps is not None else (_make_slow(expr), False)


_WILDCARD = object()
WILDCARD = _WILDCARD  # a ``[*]``/``.*`` step in :func:`simple_steps`


def simple_steps(path: str) -> tuple[Any, ...] | None:
    """The steps of a path the direct traversal handles (str key, int index,
    ``WILDCARD``), or None for a path that needs jsonpath-ng."""
    return _fast_steps(jsonpath_parse(path))


def _fast_steps(expr: Any) -> tuple[Any, ...] | None:
    """The steps of a simple path (str key, int index, _WILDCARD), or None when the
    path needs jsonpath-ng."""
    if jp.auto_id_field is not None:
        return None
    steps: list[Any] = []
    node = expr
    while type(node) is jp.Child:
        right = node.right
        if type(right) is jp.Fields and len(right.fields) == 1 and not right._deprecated_wildcard_use:
            steps.append(right.fields[0])
        elif type(right) is jp.Wildcard:
            steps.append(_WILDCARD)
        elif type(right) is jp.Index and len(right.indices) == 1 and type(right.indices[0]) is int:
            steps.append(right.indices[0])
        else:
            return None
        node = node.left
    if type(node) is not jp.Root:
        return None
    steps.reverse()
    return tuple(steps)


def _make_traversal(steps: tuple[Any, ...]) -> Callable[[Any], list[Any]]:
    """A direct traversal with jsonpath-ng's semantics for Fields, Wildcard, Index."""

    def traverse(data: Any) -> list[Any]:
        current = [data]
        for step in steps:
            nxt: list[Any] = []
            if step is _WILDCARD:
                for value in current:
                    if isinstance(value, (list, tuple)):
                        nxt.extend(value)
                    elif isinstance(value, dict):
                        nxt.extend(value.values())
            elif type(step) is str:
                for value in current:
                    if isinstance(value, dict):
                        found = value.get(step, _WILDCARD)
                        if found is not _WILDCARD:
                            nxt.append(found)
            else:
                for value in current:
                    if isinstance(value, (list, tuple)) and value and -len(value) <= step < len(value):
                        nxt.append(value[step])
            current = nxt
            if not current:
                break
        return current

    return traverse


def _make_slow(expr: Any) -> Callable[[Any], list[Any]]:
    def find(data: Any) -> list[Any]:
        return [match.value for match in expr.find(data)]

    return find
