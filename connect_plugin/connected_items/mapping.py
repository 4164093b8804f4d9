"""From an upstream's JSON answer to the options of a connected item.

A mapping has three parts, all written by the admin:

``path``
    A JSONPath (jsonpath-ng's extended syntax) selecting the rows: ``$.items[*]``,
    ``$.data.results``, ``$[*]``, ``$``. A blank path means ``$``. When the path
    matches exactly one value and that value is an array, the array's elements are
    the rows; otherwise every match is a row. A path that matches nothing gives no
    options (not an error).

``value`` and ``label`` templates
    Literal text with ``${row.<path>}`` placeholders, where ``<path>`` is a dotted
    path with optional indexes: ``${row.name}``, ``${row.owner.email}``,
    ``${row.tags[0]}``, ``${row.tags[-1]}``, ``${row['a.b']}`` (a quoted key for
    names with dots or other punctuation) and ``${row}`` (the row itself, for
    scalar rows). ``$$`` is a literal ``$``; any other ``$`` not followed by ``{``
    is literal too. The value template must contain a placeholder.

Documented decisions
    * An empty label template means "same as the value template"; a row whose label
      renders empty is labelled with its value.
    * A missing key, an index out of range, or ``null`` anywhere on a placeholder's
      path renders as ``""``. A row whose value renders empty is skipped.
    * Rendering of a placeholder: strings as they are; ``true``/``false``; ``null``
      -> ``""``; integers in decimal; floats as JSON writes them (``1.0`` stays
      ``"1.0"``, ``1e16`` is ``"1e+16"``); objects and arrays as compact JSON.
    * Options are de-duplicated by value, keeping the first, in the order of the
      rows.
    * A placeholder path that walks into the wrong kind of value (a key of a string
      or an array, an index of an object) renders as ``""`` as well, but when that
      leaves *no* option at all from a non-empty set of rows, ``map_options`` raises
      ``BadUpstreamData`` that names the first such row: that is almost always a
      path pointing at the wrong level of the answer.

Speed
    jsonpath-ng creates a context object for every match, which is slow on large
    arrays. Paths made only of ``$``, names (``.a``, ``['a']``), ``[*]``/``.*`` and
    one integer index (``[0]``, ``[-1]``) are compiled into a direct traversal with
    jsonpath-ng's own semantics (tests check the two agree); all other paths
    (filters, ``..``, slices, unions, named operators) use jsonpath-ng itself.
    Placeholders are compiled into direct getters, so no regex runs per row, and the
    loop over the rows is generated once per mapping with the templates inlined for
    rows that are objects (see ``_compile_rows``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
from jsonpath_ng import jsonpath as jp
from jsonpath_ng.ext import parse as jsonpath_parse

from ..errors import BadUpstreamData, ValidationError

__all__ = ["OptionMapping", "RowTemplate", "parse_json", "compile_mapping", "compile_template", "map_options",
           "render_scalar"]


# --- JSON -----------------------------------------------------------------------------


_DECODE = msgspec.json.Decoder().decode


def parse_json(body: bytes, source: str) -> Any:
    """Parse an upstream answer; raises BadUpstreamData when it is not JSON.

    msgspec, because it is the fastest parser measured here (BENCHMARKS.md) and
    exact: orjson reads integers beyond 64 bits as floats, which would change ids."""
    try:
        return _DECODE(body)
    except msgspec.DecodeError as exc:
        reason = str(exc).strip() or "unreadable"
        if len(reason) > 120:
            reason = reason[:117] + "..."
        raise BadUpstreamData(f"{source}: the answer is not valid JSON ({reason})") from None
    except RecursionError:
        raise BadUpstreamData(f"{source}: the answer is nested too deeply to be read") from None
    except (TypeError, UnicodeDecodeError):
        raise BadUpstreamData(f"{source}: the answer is not valid JSON (no readable body)") from None


# --- rendering of one value -------------------------------------------------------------


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


# --- row templates ----------------------------------------------------------------------

_KEY_CHARS_RE = re.compile(r"[^.\[\]{}'\"\s$]+")
_INDEX_RE = re.compile(r"\[\s*(-?[0-9]+)\s*\]")
_PLACEHOLDER_RE = re.compile(r"""\$\{(?:[^}'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")*\}""")
_QUOTED_RE = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""")


class _TemplateError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _parse_placeholder(inner: str, offset: int, start: int) -> tuple[tuple[str | int, ...], str]:
    """Steps of ``row...`` (keys are str, indexes int). ``offset`` is the 1-based
    position of ``inner`` in the template and ``start`` that of its ``$``."""
    if not inner.startswith("row"):
        raise _TemplateError(
            f"the placeholder at position {start} must start with row, as in ${{row.name}}"
        )
    pos = 3
    steps: list[str | int] = []
    while pos < len(inner):
        char = inner[pos]
        if char == ".":
            match = _KEY_CHARS_RE.match(inner, pos + 1)
            if not match:
                raise _TemplateError(f"a key name is expected at position {offset + pos + 1}")
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
            raise _TemplateError(
                f"an index like [0] or a quoted key like ['name'] is expected at position {offset + pos}"
            )
        else:
            raise _TemplateError(
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
    """Compile a value/label template; raises _TemplateError with a position."""
    parts: list[str | _Placeholder] = []
    getters: list[tuple[str, Callable[[Any], Any]]] = []
    literal: list[str] = []
    pos = 0
    n = len(text)
    while pos < n:
        j = text.find("$", pos)
        if j < 0:
            literal.append(text[pos:])
            break
        literal.append(text[pos:j])
        if text.startswith("$$", j):
            literal.append("$")
            pos = j + 2
            continue
        if not text.startswith("${", j):
            literal.append("$")
            pos = j + 1
            continue
        closed = _PLACEHOLDER_RE.match(text, j)
        if closed is None:
            raise _TemplateError(f"the ${{ at position {j + 1} is not closed with }}")
        end = closed.end() - 1
        raw_inner = text[j + 2:end]
        lead = len(raw_inner) - len(raw_inner.lstrip())
        steps, _ = _parse_placeholder(raw_inner.strip(), j + 3 + lead, j + 1)
        getter = _make_getter(steps)
        if literal and "".join(literal):  # no empty literal parts: "${row.id}" is one part
            parts.append("".join(literal))
        literal = []
        parts.append(_Placeholder(steps, getter))
        getters.append((text[j:end + 1], getter))
        pos = end + 1
    if literal and "".join(literal):
        parts.append("".join(literal))

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


# --- the row loop, compiled ---------------------------------------------------------------
#
# ``map_options`` runs once per row of answers that can hold 100,000 rows, so the
# loop over the rows is generated per mapping: for a row that is a ``dict`` (nearly
# always) every ``${row.key}`` becomes an inline ``row.get(key)`` and the template one
# f-string, with no call per placeholder; any other row goes through the templates'
# own renderers, with the same results. Literal texts and keys reach the generated
# code as names bound in its namespace (and as default arguments, so they are fast
# locals), never as source text.


def _template_source(template: RowTemplate, target: str, prefix: str, namespace: dict[str, Any]) -> list[str]:
    """Lines that set ``target`` to the template's text for ``row``, a dict."""
    lines: list[str] = []
    pieces: list[str] = []
    for index, part in enumerate(template.parts):
        if isinstance(part, str):
            name = f"_{prefix}c{index}"
            namespace[name] = part
            pieces.append(name)
            continue
        var = f"_{prefix}{index}"
        if len(part.steps) == 1 and type(part.steps[0]) is str:
            key = f"_{prefix}k{index}"
            namespace[key] = part.steps[0]
            lines.append(f"{var} = row.get({key})")
        else:
            getter = f"_{prefix}g{index}"
            namespace[getter] = part.get
            lines.append(f"{var} = {getter}(row)")
        pieces.append(f"({var} if {var}.__class__ is _str else _rs({var}))")
    if not pieces:
        lines.append(f"{target} = ''")
    elif len(pieces) == 1:
        lines.append(f"{target} = {pieces[0]}")
    else:  # one f-string: a single allocation for the whole text
        lines.append(f"{target} = f'" + "".join("{" + piece + "}" for piece in pieces) + "'")
    return lines


def _compile_rows(value: RowTemplate, label: RowTemplate, same: bool) -> Callable[[Any], list[tuple[str, str]]]:
    """``map_rows(rows)``: each row's (value, label) with :func:`map_options`'s rules
    (empty values skipped, the first of a value kept, an empty label replaced by the
    value; the label is rendered only for a row that is kept)."""
    namespace: dict[str, Any] = {"_rs": render_scalar, "_render_value": value.render, "_render_label": label.render}
    src = ["def map_rows(rows, _str=str, _dict=dict, {locals}):",
           "    seen = set()",
           "    add = seen.add",
           "    out = []",
           "    append = out.append",
           "    for row in rows:",
           "        if row.__class__ is _dict:"]
    src += ["            " + line for line in _template_source(value, "value", "v", namespace)]
    src += ["            if not value or value in seen:",
            "                continue"]
    if not same:
        src += ["            " + line for line in _template_source(label, "label", "l", namespace)]
    src += ["        else:",
            "            value = _render_value(row)",
            "            if not value or value in seen:",
            "                continue"]
    if not same:
        src += ["            label = _render_label(row)"]
    src += ["        add(value)",
            "        append((value, value))" if same else "        append((value, label or value))",
            "    return out"]
    # Every name of the namespace is bound as a default argument: a fast local in the loop.
    src[0] = src[0].format(locals=", ".join(f"{name}={name}" for name in namespace))
    source = "\n".join(src) + "\n"
    exec(compile(source, "<connect mapping>", "exec"), namespace)  # noqa: S102 - see above
    map_rows = namespace["map_rows"]
    map_rows.source = source
    return map_rows


# --- JSONPath ---------------------------------------------------------------------------

_WILDCARD = object()


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


# --- the mapping ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class OptionMapping:
    path: str
    value_template: str
    label_template: str
    find: Callable[[Any], list[Any]]
    fast: bool
    value: RowTemplate
    label: RowTemplate
    map_rows: Callable[[Any], list[tuple[str, str]]]


def _field_error(field: str, message: str) -> ValidationError:
    return ValidationError(message, fields={field: message})


@functools.lru_cache(maxsize=512)
def compile_mapping(path: str, value_template: str, label_template: str) -> OptionMapping:
    """Validate and compile a mapping. Raises ValidationError with fields
    ``options.path``, ``options.value`` or ``options.label``."""
    path = (path or "").strip() or "$"
    try:
        expr = jsonpath_parse(path)
    except Exception as exc:  # jsonpath-ng raises several kinds (lexer, parser, others)
        detail = str(exc).strip().rstrip(".") or type(exc).__name__
        raise _field_error("options.path", f"The JSONPath is not valid: {detail}.") from None

    steps = _fast_steps(expr)
    find = _make_traversal(steps) if steps is not None else _make_slow(expr)

    value_template = value_template or ""
    if not value_template.strip():
        raise _field_error("options.value", "Enter a value template, e.g. ${row.id}.")
    try:
        value = compile_template(value_template)
    except _TemplateError as exc:
        raise _field_error("options.value", f"The value template is not valid: {exc.message}.") from None
    if not value.getters:
        raise _field_error(
            "options.value",
            "The value template must contain a placeholder such as ${row.id}; otherwise every option has the "
            "same value.",
        )

    label_template = label_template or ""
    if not label_template.strip():
        label, label_template = value, value_template
    else:
        try:
            label = compile_template(label_template)
        except _TemplateError as exc:
            raise _field_error("options.label", f"The label template is not valid: {exc.message}.") from None

    return OptionMapping(path=path, value_template=value_template, label_template=label_template,
                         find=find, fast=steps is not None, value=value, label=label,
                         map_rows=_compile_rows(value, label, label is value))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else type(value).__name__


def _explain_mismatch(mapping: OptionMapping, rows: list[Any], source: str) -> BadUpstreamData | None:
    for index, row in enumerate(rows):
        for placeholder, getter in mapping.value.getters:
            if getter(row) is MISMATCH:
                return BadUpstreamData(
                    f"{source}: {placeholder} cannot be read from row {index + 1} of the path "
                    f"{mapping.path}, which is {_kind(row)}; check the path and the value template."
                )
    return None


def map_options(mapping: OptionMapping, data: Any, *, source: str = "the answer") -> list[tuple[str, str]]:
    """The (value, label) options of a parsed answer, in order, unique by value."""
    try:
        matches = mapping.find(data)
    except BadUpstreamData:
        raise
    except Exception as exc:  # jsonpath-ng's filters and operators can fail on odd data
        raise BadUpstreamData(
            f"{source}: the path {mapping.path} cannot be applied to the answer ({type(exc).__name__})"
        ) from None

    rows = matches[0] if len(matches) == 1 and isinstance(matches[0], list) else matches
    try:
        options = mapping.map_rows(rows)
    except BadUpstreamData as exc:
        raise BadUpstreamData(f"{source}: {exc.message}") from None
    except RecursionError:
        raise BadUpstreamData(f"{source}: the answer is nested too deeply to be mapped") from None

    if not options and rows:
        error = _explain_mismatch(mapping, rows, source)
        if error is not None:
            raise error
    return options
