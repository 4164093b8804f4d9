"""The query template of a connected item: parsed once, evaluated per request.

An admin writes a query that is appended to the datasource's base URL, e.g.::

    /assets/$issue.project/items?owner=$currentUser.emailAddress&q=$userInput

Variables
    ``$issue.key``, ``$issue.summary``, ``$issue.description``, ``$issue.project``,
    ``$issue.reporter``, ``$issue.connected_item_<id>``, ``$currentUser.accountId``,
    ``$currentUser.displayName``, ``$currentUser.emailAddress``, ``$userInput``.
    ``${issue.key}`` delimits a name where letters follow it (``${issue.key}abc``);
    ``$$`` is a literal ``$``. Names are case-sensitive. The bare form reads at most
    one dot (``$issue.key.json`` is ``$issue.key`` followed by ``.json``) and
    ``$userInput`` never reads a dot (``$userInput.csv`` works).

Where variables may be
    In a path segment (the whole segment or part of it) and in the value of a query
    parameter. Never in a parameter name, and never in a parameter without ``=``
    (that is a name). Everything else the admin writes is kept as written.

Encoding
    Each value is percent-encoded (UTF-8) for its position: every character except
    the RFC 3986 unreserved ones (``A-Z a-z 0-9 - . _ ~``) is encoded, so a value can
    never add a path segment, a query parameter or a fragment. A path segment that
    would come out as exactly ``.`` or ``..`` gets its substituted dots written as
    ``%2E`` so that it cannot act as a dot-segment.

    NOTE for the HTTP client: ``requests`` re-normalises URLs when it prepares a
    request and turns ``%2E`` back into ``.``; send the URL unchanged (set
    ``PreparedRequest.url`` after ``prepare``) to keep that protection.

Decisions
    * Surrounding whitespace of the query is stripped; an empty query is valid and
      evaluates to ``""`` (the base URL itself).
    * Literal text may not contain spaces, control characters or ``\\`` (some
      parsers read ``\\`` as ``/``), nor a ``%`` that does not start a ``%XX`` escape.
    * A missing value is ``""``, except for ``$issue.connected_item_<id>``, whose
      missing or empty value raises ``MissingDependency("connected_item_<id>")``.
    * A list value is joined with ``,`` before it is encoded (the comma is encoded).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union
from urllib.parse import quote, urlsplit

from ..errors import MissingDependency, ValidationError
from .catalogue import KNOWN_TEXT, KNOWN_VARIABLES, connected_variable_item, field_key, is_known
from .dollars import scan

__all__ = [
    "QueryTemplate",
    "KNOWN_VARIABLES",
    "parse_query",
    "evaluate",
    "join_url",
    "encode_component",
]

_BARE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?")
_BAD_ESCAPE_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class _Var:
    name: str  # canonical, e.g. "issue.summary"


_Piece = Union[str, _Var]


@dataclass(frozen=True)
class QueryTemplate:
    """A parsed query. ``path`` holds the path segments (the text before the first
    ``/`` is the empty first segment), ``query`` the pieces after the ``?`` (the
    ``?`` itself included in the first literal), or ``None`` without a query."""

    text: str
    path: tuple[tuple[_Piece, ...], ...] = ()
    query: tuple[_Piece, ...] | None = None
    variables: frozenset[str] = field(default=frozenset())

    @property
    def depends_on_items(self) -> frozenset[int]:
        """Ids of the connected items whose values this query uses."""
        ids = (connected_variable_item(name) for name in self.variables)
        return frozenset(item_id for item_id in ids if item_id is not None)

    @property
    def uses_user_input(self) -> bool:
        return "userInput" in self.variables


def _invalid(message: str, field: str = "query") -> ValidationError:
    return ValidationError(message, fields={field: message})


def _unknown(shown: str, field: str = "query") -> ValidationError:
    return _invalid(f"Unknown variable ${shown}. Known: {KNOWN_TEXT}.", field)


def _tokenize(text: str) -> tuple[list[_Piece], list[tuple[int, int]]]:
    """Literal text (with ``$$`` read as ``$``) and variable names, in order, and the
    spans of the variables in ``text``."""
    spans: list[tuple[int, int]] = []

    def read(source: str, j: int) -> tuple[_Var, int]:
        name, end = read_variable(source, j)
        spans.append((j, end))
        return _Var(name), end

    return scan(text, read), spans


def read_variable(text: str, j: int, *, field: str = "query", where: str = "the query") -> tuple[str, int]:
    """The canonical name of the variable whose ``$`` is at ``j``, and its end. Errors
    name ``field`` (an item's body and headers read variables with this too)."""
    if j + 1 >= len(text):
        raise _invalid(f"A lone $ ends {where} (position {j + 1}); write $$ for a literal $.", field)
    if text[j + 1] == "{":
        end = text.find("}", j + 2)
        if end < 0:
            raise _invalid(f"The ${{ at position {j + 1} is not closed with }}.", field)
        name = text[j + 2:end]
        if not is_known(name):
            raise _unknown(f"{{{name}}}", field)
        return name, end + 1
    match = _BARE_RE.match(text, j + 1)
    if match is None:
        shown = re.match(r"[^/?&=#$\s]{0,20}", text[j + 1:]).group(0)
        if not shown:
            raise _invalid(
                f"The $ at position {j + 1} is not followed by a variable name; write $$ for a literal $.", field
            )
        raise _unknown(shown, field)
    if match.group(1) == "userInput":  # $userInputX reads as $userInput then "X"
        return "userInput", match.start(1) + len("userInput")
    if not is_known(match.group(0)):
        raise _unknown(match.group(0), field)
    return match.group(0), match.end()


def _check_literal(text: str, spans: list[tuple[int, int]]) -> None:
    """Check the admin's literal text (``text`` with the variable spans blanked)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = ["x"] * (end - start)
    text = "".join(chars)
    for index, char in enumerate(text):
        if char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F:
            raise _invalid(
                f"The query contains a space or control character at position {index + 1}; "
                "percent-encode it (a space is %20)."
            )
        if char == "\\":
            raise _invalid(f"The query contains a \\ at position {index + 1}; write %5C instead.")
        if char == "#":
            raise _invalid(f"The query contains a # at position {index + 1}; a query cannot have a fragment.")
    bad = _BAD_ESCAPE_RE.search(text)
    if bad:
        raise _invalid(
            f"The % at position {bad.start() + 1} does not start a %XX escape; write %25 for a literal %."
        )


def _split_pieces(pieces: list[_Piece], sep: str, maxsplit: int = -1) -> list[list[_Piece]]:
    """Split a piece list on a literal separator character."""
    parts: list[list[_Piece]] = [[]]
    splits = 0
    for piece in pieces:
        if isinstance(piece, _Var):
            parts[-1].append(piece)
            continue
        chunks = piece.split(sep, -1 if maxsplit < 0 else max(maxsplit - splits, 0))
        for k, chunk in enumerate(chunks):
            if k:
                parts.append([])
                splits += 1
            if chunk:
                parts[-1].append(chunk)
    return parts


@functools.lru_cache(maxsize=1024)
def parse_query(text: str) -> QueryTemplate:
    """Parse and validate an admin's query; raises ValidationError(fields={"query": ...})."""
    if not isinstance(text, str):
        raise _invalid("The query must be text.")
    text = text.strip()
    if not text:
        return QueryTemplate(text="")
    if text[0] not in "/?":
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", text):
            raise _invalid("The query must not contain a scheme or host; it is appended to the base URL and "
                           "must start with / or ?.")
        raise _invalid("The query must start with / or ?.")
    if text.startswith("//"):
        raise _invalid("The query must not start with //, which names a host; it is appended to the base URL.")

    pieces, spans = _tokenize(text)
    _check_literal(text, spans)

    path_part, *rest = _split_pieces(pieces, "?", maxsplit=1)
    path_segments = tuple(tuple(segment) for segment in _split_pieces(path_part, "/")) if path_part else ()

    query: tuple[_Piece, ...] | None = None
    if rest:
        query_pieces = rest[0]
        for param in _split_pieces(query_pieces, "&"):
            name_part = _split_pieces(param, "=", maxsplit=1)[0]
            for piece in name_part:
                if isinstance(piece, _Var):
                    has_eq = len(_split_pieces(param, "=", maxsplit=1)) > 1
                    where = "the name of a query parameter" if has_eq else "a query parameter without ="
                    raise _invalid(
                        f"The variable ${piece.name} is in {where}; variables may only be in a path "
                        "segment or a parameter value (name=$variable)."
                    )
        query = ("?",) + tuple(query_pieces)

    variables = frozenset(p.name for p in pieces if isinstance(p, _Var))
    return QueryTemplate(text=text, path=path_segments, query=query, variables=variables)


def encode_component(value: str) -> str:
    """Percent-encode everything except the RFC 3986 unreserved characters."""
    return quote(value, safe="", encoding="utf-8", errors="surrogatepass")


def value_text(name: str, values: Mapping[str, object]) -> str:
    """The text a variable stands for (a list joined with commas); a connected
    item's missing value raises MissingDependency."""
    value = values.get(name)
    if isinstance(value, (list, tuple)):
        value = ",".join("" if v is None else str(v) for v in value)
    elif value is not None and not isinstance(value, str):
        value = str(value)
    if not value:
        item_id = connected_variable_item(name)
        if item_id is not None:
            raise MissingDependency(field_key(item_id))
        return ""
    return value


def evaluate(template: QueryTemplate | str, values: Mapping[str, str | list[str] | None]) -> str:
    """The relative reference (path and query) with every variable substituted and
    encoded for its position. ``values`` is keyed by canonical variable names.

    The result keeps the template's segments even when a value is empty, so it can
    start with ``//`` (``/$userInput/x`` with no input): append it with ``join_url``,
    never resolve it with ``urljoin``."""
    if isinstance(template, str):
        template = parse_query(template)
    out: list[str] = []
    segments: list[str] = []
    for segment in template.path:
        rendered = [p if isinstance(p, str) else encode_component(value_text(p.name, values)) for p in segment]
        text = "".join(rendered)
        if text in (".", "..") and any(isinstance(p, _Var) for p in segment):
            text = "".join(
                r.replace(".", "%2E") if isinstance(p, _Var) else r for p, r in zip(segment, rendered)
            )
            if text in (".", ".."):  # the values were empty: the admin's dots alone now form the dot segment
                text = text.replace(".", "%2E")
        segments.append(text)
    out.append("/".join(segments))
    if template.query is not None:
        for p in template.query:
            out.append(p if isinstance(p, str) else encode_component(value_text(p.name, values)))
    return "".join(out)


def _origin(url: str, what: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        message = f"The {what} must be an absolute URL such as https://api.example.com/v1."
        raise ValidationError(message, fields={"base_url": message})
    return f"{parts.scheme}://{parts.netloc}", parts.path, parts.query, parts.fragment


def join_url(base_url: str, relative: str) -> str:
    """Append a relative reference (``/path?query`` or ``?query``) to a base URL.

    The path is appended to the base path with exactly one ``/`` between them, never
    resolved (no ``urljoin``: no base segment is dropped); the queries are merged,
    the base's parameters first. A fragment of the base is dropped.
    """
    origin, base_path, base_query, _ = _origin(base_url, "base URL")
    rel_path, sep, rel_query = relative.partition("?")
    path = base_path
    if rel_path:
        if base_path.endswith("/") and rel_path.startswith("/"):
            path = base_path[:-1] + rel_path
        elif base_path.endswith("/") or rel_path.startswith("/"):
            path = base_path + rel_path
        else:
            path = base_path + "/" + rel_path
    query = base_query
    if rel_query:
        query = f"{base_query}&{rel_query}" if base_query and not base_query.endswith("&") else base_query + rel_query
    return origin + path + (f"?{query}" if query else "")
