"""What a connected item sends besides its query: its method, a JSON body whose
strings are templates, and its own headers whose values are templates.

Variables are the query's (:mod:`.catalogue`), written the same way (``$issue.key``,
``${currentUser.emailAddress}``, ``$$`` for a literal ``$``) and read by the query's
own reader, so an unknown one is refused by name when the item is saved.

The body
    ``method`` ``POST`` sends ``body``: a JSON document, kept as data. Each string
    value in it (at any depth; object keys are kept as written) is a template.
    Evaluating builds the same document with each string's variables replaced by
    their text, then serialises it (``json.dumps``): a value is always *inside* its
    JSON string, so ``"``, ``}``, ``\\``, a newline or any unicode in it can never
    change the structure the admin wrote. The evaluated body (its bytes) is part of
    the cache key and is shown by the configuration tester. A body given as text (the
    item page's) must parse as JSON; a GET has no body.

The headers
    ``[{"name": "X-User", "value": "$currentUser.emailAddress"}]``, at most 20, names
    under the datasource's rules (:mod:`..datasources.headers`: an HTTP token, no
    HTTP-layer header, not the auth mode's header), an item header replacing a
    datasource header of the same name. A value whose substituted text holds CR, LF
    or NUL fails that call with a 400 naming the header; nothing is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Union

from ..datasources import headers as header_rules
from ..errors import ValidationError
from .catalogue import connected_variable_item
from .dollars import scan
from .query import read_variable, value_text

METHODS = ("GET", "POST")
MAX_BODY_CHARS = 65536
MAX_BODY_DEPTH = 32
INVALID = "The connected item is not valid."


@dataclass(frozen=True)
class _Var:
    name: str


@dataclass(frozen=True)
class TextTemplate:
    """Literal text and variables, in order."""

    pieces: tuple[Union[str, _Var], ...]

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(p.name for p in self.pieces if isinstance(p, _Var))

    def render(self, values: Mapping[str, Any]) -> str:
        return "".join(p if isinstance(p, str) else value_text(p.name, values) for p in self.pieces)


def parse_text(text: str, field: str, where: str) -> TextTemplate:
    """Parse one string of a body or a header value; errors name ``field``."""
    def read(source: str, j: int) -> tuple[_Var, int]:
        name, end = read_variable(source, j, field=field, where=where)
        return _Var(name), end

    return TextTemplate(tuple(scan(text, read)))


# --- the body -----------------------------------------------------------------------


def _compile(node: Any, path: str) -> tuple[Any, frozenset[str]]:
    """The document with each string replaced by its TextTemplate, and its variables."""
    if isinstance(node, str):
        try:
            template = parse_text(node, "body", "the string")
        except ValidationError as exc:
            message = f"{exc.message.rstrip('.')} (in the body at {path})."
            raise ValidationError(message, {"body": message}) from None
        return template, template.variables
    if isinstance(node, dict):
        compiled, variables = {}, frozenset()
        for key, value in node.items():
            compiled[key], found = _compile(value, f"{path}.{key}")
            variables |= found
        return compiled, variables
    if isinstance(node, list):
        parts = [_compile(value, f"{path}[{i}]") for i, value in enumerate(node)]
        return [p for p, _ in parts], frozenset().union(*(v for _, v in parts))
    return node, frozenset()


def compile_body(body: Any) -> tuple[Any, frozenset[str]]:
    return _compile(body, "$")


def _render(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, TextTemplate):
        return node.render(values)
    if isinstance(node, dict):
        return {key: _render(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_render(value, values) for value in node]
    return node


def evaluate_body(compiled: Any, values: Mapping[str, Any]) -> bytes:
    """The body as sent: the document rebuilt with the values, serialised (UTF-8)."""
    document = _render(compiled, values)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a value: escape it, the JSON stays valid
        return json.dumps(document, separators=(",", ":")).encode("ascii")


def clean_body(raw: Any, method: str, errors: dict[str, str]) -> Any:
    """The body as stored (a JSON value, or None for none)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except RecursionError:
            errors["body"] = f"The body is nested more than {MAX_BODY_DEPTH} levels deep."
            return None
        except ValueError as exc:
            where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
            errors["body"] = f"The body is not valid JSON{where}: {getattr(exc, 'msg', str(exc))}."
            return raw
    if method != "POST":
        errors["body"] = "A GET request has no body: choose POST, or leave the body empty."
        return raw
    if _depth(raw) > MAX_BODY_DEPTH:
        errors["body"] = f"The body is nested more than {MAX_BODY_DEPTH} levels deep."
        return None
    if len(json.dumps(raw)) > MAX_BODY_CHARS:
        errors["body"] = f"The body is longer than {MAX_BODY_CHARS} characters."
        return raw
    try:
        compile_body(raw)
    except ValidationError as exc:
        errors.update(exc.fields)
    return raw


def _depth(node: Any) -> int:
    """How deeply a JSON value nests (without recursion: it may be very deep)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_BODY_DEPTH:
                stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


# --- the headers --------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderTemplate:
    index: int
    name: str
    value: TextTemplate


def _value_field(index: int) -> str:
    return f"headers[{index}].value"


def compile_headers(entries: Iterable[Mapping[str, str]]) -> tuple[HeaderTemplate, ...]:
    return tuple(HeaderTemplate(i, e["name"], parse_text(e["value"], _value_field(i), "the header value"))
                 for i, e in enumerate(entries))


def clean_headers(raw: Any, auth_headers: Iterable[str], errors: dict[str, str]) -> list[dict[str, str]]:
    """The item's headers as stored: ``[{"name", "value"}]``."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors["headers"] = 'headers must be a list of {"name": …, "value": …}.'
        return []
    if len(raw) > header_rules.MAX_HEADERS:
        errors["headers"] = f"At most {header_rules.MAX_HEADERS} headers."
        return []
    found = header_rules.check_names(raw, prefix="headers", auth_headers=auth_headers, allowed={"name", "value"})
    clean = []
    for index, entry in enumerate(raw):
        if any(key.startswith(f"headers[{index}]") for key in found):
            continue
        name, value = entry["name"].strip(), entry.get("value", "")
        if not isinstance(value, str):
            found[_value_field(index)] = f"The value of {name} must be text."
            continue
        problem = header_rules.value_problem(name, value)
        if problem:
            found[_value_field(index)] = problem
            continue
        try:
            parse_text(value.strip(), _value_field(index), "the header value")
        except ValidationError as exc:
            found.update(exc.fields)
            continue
        clean.append({"name": name, "value": value.strip()})
    errors.update(found)
    return clean


def evaluate_headers(templates: Iterable[HeaderTemplate], values: Mapping[str, Any]) -> dict[str, str]:
    """The item's headers with their values filled in; a value that would hold CR,
    LF or NUL stops the call (400 naming the header)."""
    out: dict[str, str] = {}
    for header in templates:
        value = header.value.render(values).strip()
        if any(ch in value for ch in header_rules.BAD_VALUE_CHARS):
            message = (f"The header {header.name} cannot be sent: a value filled into it holds a line break "
                       "(CR, LF) or NUL.")
            raise ValidationError(message, {_value_field(header.index): message})
        out[header.name] = value
    return out


# --- both ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestTemplate:
    """An item's method, compiled body and header templates."""

    method: str
    body: Any
    headers: tuple[HeaderTemplate, ...]
    variables: frozenset[str]

    @property
    def depends_on_items(self) -> frozenset[int]:
        ids = (connected_variable_item(name) for name in self.variables)
        return frozenset(i for i in ids if i is not None)


def compile_request(method: str | None, body: Any, headers: Iterable[Mapping[str, str]] | None) -> RequestTemplate:
    """The item's request parts, compiled (they were checked when saved)."""
    method = method or "GET"
    compiled_body, body_vars = compile_body(body) if body is not None and method == "POST" else (None, frozenset())
    header_templates = compile_headers(headers or ())
    variables = body_vars.union(*(h.value.variables for h in header_templates))
    return RequestTemplate(method=method, body=compiled_body if body is not None and method == "POST" else None,
                           headers=header_templates, variables=variables)


def clean_method(raw: Any, errors: dict[str, str]) -> str:
    method = raw.strip().upper() if isinstance(raw, str) and raw.strip() else "GET"
    if method not in METHODS:
        errors["method"] = f"Method must be one of: {', '.join(METHODS)}."
    return method
