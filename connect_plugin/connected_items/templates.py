"""Value, label and detail templates: literal text with ``${row.<path>}`` placeholders.

The rules (what a placeholder may say, how each JSON value renders) are in
:mod:`.mapping`'s docstring, which admins' documentation quotes. Placeholders are
compiled into direct getters, so no regex runs per row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadUpstreamData
from .dollars import scan

__all__ = ["MISMATCH", "RowTemplate", "TemplateError", "compile_template", "render_scalar"]


class _Mismatch:
    """Returned by a getter that walked into the wrong kind of value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISMATCH"


MISMATCH = _Mismatch()


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        pass
    try:  # orjson refuses nesting over 255 levels and integers over 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise BadUpstreamData("a value is nested too deeply to be shown as text") from None
    except (ValueError, TypeError) as exc:
        raise BadUpstreamData(f"a value cannot be shown as text ({type(exc).__name__})") from None


def render_scalar(value: Any) -> str:
    """The text of one JSON value in a template (see the module docstring)."""
    kind = type(value)
    if kind is str:
        return value
    if value is None or value is MISMATCH:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    return _dumps(value)


_KEY_CHARS_RE = re.compile(r"[^.\[\]{}'\"\s$]+")
_INDEX_RE = re.compile(r"\[\s*(-?[0-9]+)\s*\]")
_PLACEHOLDER_RE = re.compile(r"""\$\{(?:[^}'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")*\}""")
_QUOTED_RE = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""")


class TemplateError(Exception):
    """A template that cannot be compiled; ``message`` names the position."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _parse_placeholder(inner: str, offset: int, start: int) -> tuple[tuple[str | int, ...], str]:
    """Steps of ``row...`` (keys are str, indexes int). ``offset`` is the 1-based
    position of ``inner`` in the template and ``start`` that of its ``$``."""
    if not inner.startswith("row"):
        raise TemplateError(
            f"the placeholder at position {start} must start with row, as in ${{row.name}}"
        )
    pos = 3
    steps: list[str | int] = []
    while pos < len(inner):
        char = inner[pos]
        if char == ".":
            match = _KEY_CHARS_RE.match(inner, pos + 1)
            if not match:
                raise TemplateError(f"a key name is expected at position {offset + pos + 1}")
            steps.append(match.group(0))
            pos = match.end()
        elif char == "[":
            match = _INDEX_RE.match(inner, pos)
            if match:
                steps.append(int(match.group(1)))
                pos = match.end()
                continue
            match = _QUOTED_RE.match(inner, pos)
            if match:
                raw = match.group(1) if match.group(1) is not None else match.group(2)
                steps.append(re.sub(r"\\(.)", r"\1", raw))
                pos = match.end()
                continue
            raise TemplateError(
                f"an index like [0] or a quoted key like ['name'] is expected at position {offset + pos}"
            )
        else:
            raise TemplateError(
                f"unexpected {char!r} at position {offset + pos}; write ${{row.key}}, ${{row.key[0]}} "
                "or ${row['key']}"
            )
    return tuple(steps), inner


def _make_getter(steps: tuple[str | int, ...]) -> Callable[[Any], Any]:
    if not steps:
        return lambda row: row
    if len(steps) == 1 and type(steps[0]) is str:
        key = steps[0]

        def get_key(row: Any) -> Any:
            if type(row) is dict or isinstance(row, dict):
                return row.get(key)
            return None if row is None else MISMATCH

        return get_key

    def get_path(row: Any) -> Any:
        current = row
        for step in steps:
            if current is None:
                return None
            if type(step) is str:
                if not isinstance(current, dict):
                    return MISMATCH
                current = current.get(step)
            else:
                if not isinstance(current, list):
                    return MISMATCH
                if -len(current) <= step < len(current):
                    current = current[step]
                else:
                    return None
        return current

    return get_path


@dataclass(frozen=True)
class _Placeholder:
    steps: tuple[str | int, ...]
    get: Callable[[Any], Any]


@dataclass(frozen=True)
class RowTemplate:
    text: str
    render: Callable[[Any], str]
    getters: tuple[tuple[str, Callable[[Any], Any]], ...]  # (placeholder text, getter)
    # The template as non-empty literal texts and placeholders, in order.
    parts: tuple[str | _Placeholder, ...] = ()

    def __call__(self, row: Any) -> str:
        return self.render(row)


def compile_template(text: str) -> RowTemplate:
    """Compile a value/label template; raises TemplateError with a position."""
    getters: list[tuple[str, Callable[[Any], Any]]] = []

    def read(source: str, j: int) -> tuple[_Placeholder, int] | None:
        if not source.startswith("${", j):
            return None  # a $ not followed by { is literal
        closed = _PLACEHOLDER_RE.match(source, j)
        if closed is None:
            raise TemplateError(f"the ${{ at position {j + 1} is not closed with }}")
        end = closed.end() - 1
        raw_inner = source[j + 2:end]
        lead = len(raw_inner) - len(raw_inner.lstrip())
        steps, _ = _parse_placeholder(raw_inner.strip(), j + 3 + lead, j + 1)
        placeholder = _Placeholder(steps, _make_getter(steps))
        getters.append((source[j:end + 1], placeholder.get))
        return placeholder, end + 1

    parts = scan(text, read)
    render = _make_renderer([p if isinstance(p, str) else p.get for p in parts])
    return RowTemplate(text=text, render=render, getters=tuple(getters), parts=tuple(parts))


def _make_renderer(parts: list[str | Callable[[Any], Any]]) -> Callable[[Any], str]:
    rs = render_scalar
    if not parts:
        return lambda row: ""
    if len(parts) == 1:
        only = parts[0]
        if isinstance(only, str):
            return lambda row: only
        get = only

        def render_one(row: Any) -> str:
            value = get(row)
            return value if type(value) is str else rs(value)

        return render_one

    # Specialised closures for the common shapes, a loop for the rest.
    if len(parts) == 3 and callable(parts[0]) and isinstance(parts[1], str) and callable(parts[2]):
        g1, mid, g2 = parts

        def render_gsg(row: Any) -> str:
            a = g1(row)
            b = g2(row)
            return (a if type(a) is str else rs(a)) + mid + (b if type(b) is str else rs(b))

        return render_gsg
    if len(parts) == 4 and callable(parts[0]) and isinstance(parts[1], str) and callable(parts[2]) \
            and isinstance(parts[3], str):
        g1, mid, g2, tail = parts

        def render_gsgs(row: Any) -> str:
            a = g1(row)
            b = g2(row)
            return (a if type(a) is str else rs(a)) + mid + (b if type(b) is str else rs(b)) + tail

        return render_gsgs

    frozen = tuple((p, isinstance(p, str)) for p in parts)

    def render_many(row: Any) -> str:
        out = []
        for part, is_literal in frozen:
            if is_literal:
                out.append(part)
            else:
                value = part(row)
                out.append(value if type(value) is str else rs(value))
        return "".join(out)

    return render_many
