"""The loop over an answer's rows, generated once per mapping.

``map_options`` runs once per row of answers that can hold 100,000 rows, so the
loop over the rows is generated per mapping: for a row that is a ``dict`` (nearly
always) every ``${row.key}`` becomes an inline ``row.get(key)`` and the template one
f-string, with no call per placeholder; any other row goes through the templates'
own renderers, with the same results. Literal texts and keys reach the generated
code as names bound in its namespace (and as default arguments, so they are fast
locals), never as source text.

For rows the row decoder gave as structs (``row_decoder.StructRows``) a second
branch reads each key as an attribute (``row.k0``: names the decoder chose, never
the admin's text); a key the row's object did not have is ``UNSET`` there and
renders as a missing key does, ``""``. Rows of the decoder's ``TextRow`` class hold
only strings (a missing key is ``""``), so their branch, tried first, reads the
attributes into the f-string with no check at all; a whole page of them
(``TextRows``, from the typed decode) is read by a loop of its own, with no check of
each row's class either. A label template with literal text never renders empty,
so its loop stores the label without the "empty label -> value" test.

The generated function fills a dict (value -> label) given by the caller, so the
pages of one answer can be mapped one by one into one set of options, each while
its rows are still in the CPU's cache, with the same results as one list of all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .row_decoder import UNSET, StructRows, TextRows
from .templates import RowTemplate, render_scalar

__all__ = ["RowLoop", "compile_rows"]


def _never_empty(template: RowTemplate) -> bool:
    """True when the template renders a non-empty text for any row: it has literal text."""
    return any(isinstance(part, str) and part for part in template.parts)


def _render_struct_value(value: Any) -> str:
    return "" if value is UNSET else render_scalar(value)


def _template_source(template: RowTemplate, target: str, prefix: str, namespace: dict[str, Any],
                     structs: StructRows | None = None, text: bool = False) -> list[str]:
    """Lines that set ``target`` to the template's text for ``row``, a dict (or with
    ``structs``, a struct row, whose placeholders are all single keys; with ``text``
    too, a struct row whose values are all strings)."""
    lines: list[str] = []
    pieces: list[str] = []
    for index, part in enumerate(template.parts):
        if isinstance(part, str):
            name = f"_{prefix}c{index}"
            namespace[name] = part
            pieces.append(name)
            continue
        var = f"_{prefix}{index}"
        if text:
            pieces.append(f"row.{structs.attribute[part.steps[0]]}")
            continue
        if structs is not None:
            lines.append(f"{var} = row.{structs.attribute[part.steps[0]]}")
            pieces.append(f"({var} if {var}.__class__ is _str else _rsu({var}))")
            continue
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


class RowLoop:
    """``loop(rows)``: each row's (value, label) with :func:`map_options`'s rules
    (empty values skipped, the first of a value kept, an empty label replaced by the
    value; the label is rendered only for a row that is kept). ``loop.fill(rows,
    kept)`` adds the options of more rows to ``kept`` (value -> label), so rows met
    later (on later pages) keep the same rules across all of them."""

    __slots__ = ("fill", "source")

    def __init__(self, fill: Callable[[Any, dict[str, str]], None], source: str):
        self.fill = fill
        self.source = source

    def __call__(self, rows: Any) -> list[tuple[str, str]]:
        kept: dict[str, str] = {}
        self.fill(rows, kept)
        return list(kept.items())


def compile_rows(value: RowTemplate, label: RowTemplate, same: bool,
                 structs: StructRows | None = None) -> RowLoop:
    """The row loop of a mapping's value and label templates (see :class:`RowLoop`)."""
    namespace: dict[str, Any] = {"_rs": render_scalar, "_render_value": value.render, "_render_label": label.render}
    # One dict of the kept options, value -> label: one store per option where a set
    # of the values seen and a list of tuples took three operations; its items are
    # the options in the order of their rows, the tuples built in C.
    store = "value" if same else "label" if _never_empty(label) else "label or value"
    src = ["def fill(rows, kept, _str=str, _dict=dict, {locals}):"]
    if structs is not None and structs.text_class is not None:
        # A page of the typed decode (row_decoder.TextRows): one check for all its rows.
        namespace["_TextRows"] = TextRows
        src += ["    if rows.__class__ is _TextRows:",
                "        for row in rows:"]
        src += ["            " + line for line in _template_source(value, "value", "pv", namespace, structs, True)]
        src += ["            if not value or value in kept:",
                "                continue"]
        if not same:
            src += ["            " + line for line in _template_source(label, "label", "pl", namespace, structs, True)]
        src += [f"            kept[value] = {store}",
                "        return"]
    src += ["    for row in rows:"]
    if structs is not None:
        namespace.update(_rsu=_render_struct_value, _Row=structs.row_class)
    if structs is not None and structs.text_class is not None:
        namespace["_TextRow"] = structs.text_class
        src += ["        if row.__class__ is _TextRow:"]
        src += ["            " + line for line in _template_source(value, "value", "tv", namespace, structs, True)]
        src += ["            if not value or value in kept:",
                "                continue"]
        if not same:
            src += ["            " + line for line in _template_source(label, "label", "tl", namespace, structs, True)]
        src += ["        elif row.__class__ is _dict:"]
    else:
        src += ["        if row.__class__ is _dict:"]
    src += ["            " + line for line in _template_source(value, "value", "v", namespace)]
    src += ["            if not value or value in kept:",
            "                continue"]
    if not same:
        src += ["            " + line for line in _template_source(label, "label", "l", namespace)]
    if structs is not None:
        src += ["        elif row.__class__ is _Row:"]
        src += ["            " + line for line in _template_source(value, "value", "sv", namespace, structs)]
        src += ["            if not value or value in kept:",
                "                continue"]
        if not same:
            src += ["            " + line for line in _template_source(label, "label", "sl", namespace, structs)]
    src += ["        else:",
            "            value = _render_value(row)",
            "            if not value or value in kept:",
            "                continue"]
    if not same:
        src += ["            label = _render_label(row)"]
    src += [f"        kept[value] = {store}"]
    # Every name of the namespace is bound as a default argument: a fast local in the loop.
    src[0] = src[0].format(locals=", ".join(f"{name}={name}" for name in namespace))
    source = "\n".join(src) + "\n"
    exec(compile(source, "<connect mapping>", "exec"), namespace)  # noqa: S102 - see above
    return RowLoop(namespace["fill"], source)
