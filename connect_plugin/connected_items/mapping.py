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
    rows that are objects (see :mod:`.row_loop`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import BadUpstreamData, ValidationError
from .jsonpath import compile_path
from .row_decoder import RowDecoder, as_builtins, compile_row_decoder
from .row_loop import compile_rows
from .templates import MISMATCH, RowTemplate, TemplateError, compile_template

__all__ = ["MAX_DETAILS", "Option", "OptionCollector", "OptionMapping", "compile_mapping", "find_rows", "map_options", "map_rows",
           "option_json"]


@dataclass(frozen=True, eq=False)
class OptionMapping:
    path: str
    value_template: str
    label_template: str
    find: Callable[[Any], list[Any]]
    fast: bool
    value: RowTemplate
    label: RowTemplate
    map_rows: Callable[[Any], list[Option]]
    details: tuple[tuple[str, RowTemplate], ...] = ()
    # Rows straight from an answer's bytes, with only the keys read (None: parse it all).
    decode_rows: RowDecoder | None = None
    # fill(rows, kept): the row loop adding options to kept (value -> label); None
    # when the options carry details, which are read from all the rows at the end.
    fill: Callable[[Any, dict[str, str]], None] | None = None


def _field_error(field: str, message: str) -> ValidationError:
    return ValidationError(message, fields={field: message})


MAX_DETAILS = 10

# An option: (value, label), or (value, label, {detail name: text}) for an item with details.
Option = tuple


def option_json(option: Option) -> dict[str, Any]:
    """An option as the API gives it: ``value``, ``label`` and ``details`` when the
    item has any (the same shape as in the stored snapshot)."""
    data: dict[str, Any] = {"value": option[0], "label": option[1]}
    if len(option) > 2:
        data["details"] = option[2]
    return data


@functools.lru_cache(maxsize=512)
def compile_mapping(path: str, value_template: str, label_template: str,
                    details: tuple[tuple[str, str], ...] = ()) -> OptionMapping:
    """Validate and compile a mapping. Raises ValidationError with fields
    ``options.path``, ``options.value``, ``options.label`` or ``options.details``."""
    path = (path or "").strip() or "$"
    try:
        find, fast = compile_path(path)
    except Exception as exc:  # jsonpath-ng raises several kinds (lexer, parser, others)
        detail = str(exc).strip().rstrip(".") or type(exc).__name__
        raise _field_error("options.path", f"The JSONPath is not valid: {detail}.") from None

    value_template = value_template or ""
    if not value_template.strip():
        raise _field_error("options.value", "Enter a value template, e.g. ${row.id}.")
    try:
        value = compile_template(value_template)
    except TemplateError as exc:
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
        except TemplateError as exc:
            raise _field_error("options.label", f"The label template is not valid: {exc.message}.") from None

    compiled_details = _compile_details(details)
    templates = (value, label, *(template for _name, template in compiled_details))
    placeholders = [part.steps for template in templates for part in template.parts if not isinstance(part, str)]
    # Struct rows when the generated loop alone renders them: single keys, no details.
    structs_fit = not compiled_details and all(len(steps) == 1 and type(steps[0]) is str for steps in placeholders)
    decoder = compile_row_decoder(path, placeholders, struct_rows=structs_fit)
    decode_rows, structs = decoder if decoder is not None else (None, None)
    loop = compile_rows(value, label, label is value, structs)
    map_rows: Callable[[Any], list[Option]] = loop
    if compiled_details:
        map_rows = functools.partial(_rows_with_details, loop, value, compiled_details)
    return OptionMapping(path=path, value_template=value_template, label_template=label_template,
                         find=find, fast=fast, value=value, label=label, map_rows=map_rows,
                         details=compiled_details, decode_rows=decode_rows,
                         fill=None if compiled_details else loop.fill)


def _compile_details(details: tuple[tuple[str, str], ...]) -> tuple[tuple[str, RowTemplate], ...]:
    if len(details) > MAX_DETAILS:
        raise _field_error("options.details", f"An item shows at most {MAX_DETAILS} details, not {len(details)}.")
    compiled, seen = [], set()
    for index, (name, template) in enumerate(details, start=1):
        if not isinstance(name, str) or not name.strip():
            raise _field_error("options.details", f"Detail {index} needs a name.")
        if len(name.strip()) > 100:
            raise _field_error("options.details", f"Detail {index}: the name must be 100 characters or fewer.")
        if name.strip().casefold() in seen:
            raise _field_error("options.details", f"Detail {index}: the name {name.strip()!r} is used twice.")
        seen.add(name.strip().casefold())
        if not isinstance(template, str) or not template.strip():
            raise _field_error("options.details", f"Detail {name.strip()!r} needs a template, e.g. ${{row.serial}}.")
        try:
            compiled.append((name.strip(), compile_template(template)))
        except TemplateError as exc:
            raise _field_error("options.details",
                               f"The template of detail {name.strip()!r} is not valid: {exc.message}.") from None
    return tuple(compiled)


def _rows_with_details(map_rows: Callable[[Any], list[Option]], value: RowTemplate,
                       details: tuple[tuple[str, RowTemplate], ...], rows: Any) -> list[Option]:
    """The generated loop's options, each with its details, read from the first row
    that gave its value (the row the option came from)."""
    options = map_rows(rows)
    if not options:
        return options
    wanted = {option[0] for option in options}
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        key = value(row)
        if key in wanted and key not in found:
            found[key] = {name: template(row) for name, template in details}
            if len(found) == len(wanted):
                break
    return [(v, label, found[v]) for v, label in options]


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


def map_options(mapping: OptionMapping, data: Any, *, source: str = "the answer") -> list[Option]:
    """The (value, label) options of a parsed answer, in order, unique by value."""
    return map_rows(mapping, find_rows(mapping, data, source=source), source=source)


def find_rows(mapping: OptionMapping, data: Any, *, source: str = "the answer") -> list[Any]:
    """The rows the mapping's path finds in a parsed answer: its matches, or the
    elements of the one array it matches."""
    try:
        matches = mapping.find(data)
    except BadUpstreamData:
        raise
    except Exception as exc:  # jsonpath-ng's filters and operators can fail on odd data
        raise BadUpstreamData(
            f"{source}: the path {mapping.path} cannot be applied to the answer ({type(exc).__name__})"
        ) from None
    return matches[0] if len(matches) == 1 and isinstance(matches[0], list) else matches


def map_rows(mapping: OptionMapping, rows: list[Any], *, source: str = "the answer") -> list[Option]:
    """The options of ``rows`` (of one answer, or of every page of one), unique by value."""
    with _mapping_errors(source):
        options = mapping.map_rows(rows)
    if not options and rows:
        _raise_mismatch(mapping, rows, source)
    return options


class OptionCollector:
    """The options of an answer read page by page: :meth:`add` maps each page's rows
    as it arrives (while they are still in the CPU's cache, and with no list of every
    page's rows), into one dict, so options stay unique by value across the pages.
    The result is :func:`map_rows` of all the rows, in order. Rows are kept only
    while no option came of them, for the explanation when none ever does (and, for
    an item with details, all of them: its details are read at the end)."""

    def __init__(self, mapping: OptionMapping, source: str):
        self.mapping = mapping
        self.source = source
        self.kept: dict[str, str] = {}
        self.unmapped: list[Any] = []

    def add(self, rows: list[Any]) -> None:
        fill = self.mapping.fill
        if fill is None:
            self.unmapped.extend(rows)
            return
        with _mapping_errors(self.source):
            fill(rows, self.kept)
        if not self.kept:
            self.unmapped.extend(rows)

    def kept_options(self) -> dict[str, str] | list[Option]:
        """The options as the cache keeps them (``caching.answer``): value -> label,
        or for an item with details the list of (value, label, details)."""
        if self.mapping.fill is None:
            return map_rows(self.mapping, self.unmapped, source=self.source)
        if not self.kept and self.unmapped:
            _raise_mismatch(self.mapping, self.unmapped, self.source)
        return self.kept

    def options(self) -> list[Option]:
        options = self.kept_options()
        return list(options.items()) if isinstance(options, dict) else options


@contextmanager
def _mapping_errors(source: str) -> Iterator[None]:
    """A failure of the row loop as BadUpstreamData naming the datasource."""
    try:
        yield
    except BadUpstreamData as exc:
        raise BadUpstreamData(f"{source}: {exc.message}") from None
    except RecursionError:
        raise BadUpstreamData(f"{source}: the answer is nested too deeply to be mapped") from None


def _raise_mismatch(mapping: OptionMapping, rows: list[Any], source: str) -> None:
    """When rows gave no option: the error naming the first row the value template
    cannot be read from, if there is one (else no options is the answer)."""
    # Struct rows (row_decoder) as dicts: the explanation reads them with the templates' getters.
    error = _explain_mismatch(mapping, as_builtins(rows) if mapping.decode_rows is not None else rows, source)
    if error is not None:
        raise error
