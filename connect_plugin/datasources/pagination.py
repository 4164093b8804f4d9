"""Reading every page of an answer: the ``pagination`` setting and the page walk.

A datasource's ``config.pagination`` is the default of its items; an item's own
``pagination`` replaces it (same shape). The modes:

* ``none``: one call, one answer (the default);
* ``link_header``: follow ``Link: <...>; rel="next"`` (RFC 8288, read with requests'
  own parser);
* ``next_url``: the next page's URL, absolute or relative, at ``next_path`` (a
  JSONPath) of each answer;
* ``cursor``: the cursor at ``cursor_path`` is sent as ``cursor_param``;
* ``offset``: ``offset_param`` = 0, page_size, 2 x page_size ... with ``limit_param``;
* ``page``: ``page_param`` = first_page, first_page + 1 ... with ``size_param`` (optional).

Each mode but ``none`` has ``max_pages`` (default 10, 1 to 100). The walk stops at a
missing next link or cursor, at an empty page, and (offset, page) at a page shorter
than ``page_size``. Reaching ``max_pages`` while more exists is not an error: the
answer is ``truncated``. What is an error, naming the page: a next URL on another
origin than the first page (scheme, host and port) or not ``https://``, a URL met
twice (a loop), a cursor that does not change, and any failure of one page. All pages
share the request's one deadline (the caller's ``get_page`` takes what is left of it)
and one size cap: ``CONNECT_MAX_RESPONSE_BYTES`` counts every page together.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urljoin

from requests.utils import parse_header_links

from ..connected_items.jsonpath import compile_path
from ..errors import InsecureURL, PaginationError, ResponseTooLarge, UpstreamError, ValidationError
from ..outbound import UpstreamResponse, urls
from ..outbound.failures import format_size
from ..outbound.json_answer import parse_json

DEFAULT_MAX_PAGES = 10
MAX_PAGES = 100
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10000
MAX_PARAM_LENGTH = 100

# The settings of each mode: name -> (kind, required, default). Kinds: "path" (a
# JSONPath), "param" (a query parameter name), "int".
_MAX_PAGES_FIELD = {"max_pages": ("int", False, DEFAULT_MAX_PAGES)}
MODES: dict[str, dict[str, tuple[str, bool, Any]]] = {
    "none": {},
    "link_header": dict(_MAX_PAGES_FIELD),
    "next_url": {"next_path": ("path", True, None), **_MAX_PAGES_FIELD},
    "cursor": {"cursor_path": ("path", True, None), "cursor_param": ("param", True, None), **_MAX_PAGES_FIELD},
    "offset": {"offset_param": ("param", True, None), "limit_param": ("param", True, None),
               "page_size": ("int", False, DEFAULT_PAGE_SIZE), **_MAX_PAGES_FIELD},
    "page": {"page_param": ("param", True, None), "first_page": ("int", False, 1),
             "size_param": ("param", False, None), "page_size": ("int", False, DEFAULT_PAGE_SIZE),
             **_MAX_PAGES_FIELD},
}
MODE_LABELS = {
    "none": "One answer (no paging)",
    "link_header": "Link header (rel=\"next\")",
    "next_url": "Next page URL in the answer",
    "cursor": "Cursor in the answer",
    "offset": "Offset and limit",
    "page": "Page number",
}
FIELD_LABELS = {
    "mode": "Pagination", "next_path": "Next page URL path", "cursor_path": "Cursor path",
    "cursor_param": "Cursor parameter", "offset_param": "Offset parameter", "limit_param": "Limit parameter",
    "page_param": "Page parameter", "first_page": "First page number", "size_param": "Page size parameter",
    "page_size": "Page size", "max_pages": "Pages at most",
}
_INT_RANGES = {"max_pages": (1, MAX_PAGES), "page_size": (1, MAX_PAGE_SIZE), "first_page": (0, 1_000_000)}


# --- the setting -------------------------------------------------------------------------


def clean_pagination(raw: Any, prefix: str = "pagination") -> dict[str, Any]:
    """The stored form of a ``pagination`` object, or ValidationError naming each
    bad part as ``<prefix>.<setting>`` (e.g. ``pagination.next_path``)."""
    if not isinstance(raw, dict):
        raise ValidationError("The pagination settings are not valid.",
                              {prefix: 'pagination must be an object such as {"mode": "link_header"}.'})
    mode = raw.get("mode", "none")
    if mode not in MODES:
        raise ValidationError("The pagination settings are not valid.", {
            f"{prefix}.mode": f"Unknown pagination mode {mode!r}. Choose one of: {', '.join(MODES)}."})
    fields = MODES[mode]
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {"mode": mode}
    for name in raw:
        if name != "mode" and name not in fields:
            errors[f"{prefix}.{name}"] = f"The pagination mode {mode} has no setting {name!r}."
    for name, (kind, required, default) in fields.items():
        key, label = f"{prefix}.{name}", FIELD_LABELS[name]
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            if required:
                errors[key] = f"{label} is required for the pagination mode {mode}."
            elif default is not None:
                clean[name] = default
            continue
        problem = _problem(kind, name, label, value)
        if problem:
            errors[key] = problem
        else:
            clean[name] = int(value) if kind == "int" else value
    if errors:
        raise ValidationError("The pagination settings are not valid.", errors)
    return clean


def _problem(kind: str, name: str, label: str, value: Any) -> str | None:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (
                isinstance(value, str) and not value.lstrip("-").isdigit()):
            return f"{label} must be a whole number."
        low, high = _INT_RANGES[name]
        return None if low <= int(value) <= high else f"{label} must be between {low} and {high}."
    if not isinstance(value, str):
        return f"{label} must be text."
    if kind == "path":
        try:
            compile_path(value)
        except Exception as exc:  # jsonpath-ng raises several kinds
            detail = str(exc).strip().rstrip(".") or type(exc).__name__
            return f"{label}: the JSONPath is not valid: {detail}."
        return None
    if len(value) > MAX_PARAM_LENGTH or any(ord(ch) < 33 or ord(ch) == 127 for ch in value):
        return f"{label} must be a parameter name without spaces or control characters."
    return None


def effective(item_pagination: dict[str, Any] | None, datasource_config: dict[str, Any]) -> dict[str, Any]:
    """What an item's calls use: its own setting, else its datasource's, else none."""
    if item_pagination is not None:
        return item_pagination
    return datasource_config.get("pagination") or {"mode": "none"}


# --- the walk ------------------------------------------------------------------------------


@dataclass
class PageRecord:
    """One page as the configuration tester shows it (the URL with secrets masked)."""

    number: int
    url: str
    status: int | None = None
    elapsed_ms: int = 0
    rows: int | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"page": self.number, "url": self.url, "elapsed_ms": self.elapsed_ms}
        if self.status is not None:
            data["status"] = self.status
        if self.rows is not None:
            data["rows"] = self.rows
        return data


@dataclass
class Pages:
    """The rows of every page read, in order, and whether more pages existed."""

    rows: list[Any]
    truncated: bool
    first: UpstreamResponse
    records: list[PageRecord] = field(default_factory=list)


# get_page(url, max_bytes): one call of the request, under its deadline, at most max_bytes.
GetPage = Callable[[str, int], UpstreamResponse]
# rows_of(parsed answer): the rows the item's mapping finds in one answer.
RowsOf = Callable[[Any], list[Any]]
# decode_rows(body): those rows read straight from the bytes, or None when it cannot
# tell (connected_items/row_decoder.py); then the page is parsed and given to rows_of.
RowDecoder = Callable[[bytes], "list[Any] | None"]
# The modes that read the next page's place from the page's body need all of it.
BODY_MODES = ("next_url", "cursor")


def read_pages(get_page: GetPage, url: str, pagination: dict[str, Any], *, rows_of: RowsOf, source: str,
               max_bytes: int, records: list[PageRecord] | None = None,
               redact: Callable[[str], str] = lambda text: text, decode_rows: RowDecoder | None = None) -> Pages:
    """Every page of the answer at ``url``; ``records`` (when given) receives each
    page as it is read, also when a later page fails. ``redact`` masks URLs for
    messages and records before the first answer (which masks its own)."""
    walk = _Walk(pagination, url, source, max_bytes, records if records is not None else [], redact)
    return walk.run(get_page, rows_of, decode_rows if walk.mode not in BODY_MODES else None)


class _Walk:
    def __init__(self, pagination: dict[str, Any], url: str, source: str, max_bytes: int,
                 records: list[PageRecord], redact: Callable[[str], str]):
        self.spec = pagination or {"mode": "none"}
        self.mode = self.spec.get("mode", "none")
        self.paged = self.mode != "none"
        self.max_pages = int(self.spec.get("max_pages", DEFAULT_MAX_PAGES)) if self.paged else 1
        self.first_url = url
        self.origin = urls.origin(url)
        self.source = source
        self.cap = max_bytes
        self.left = max_bytes
        self.records = records
        self.redact = redact
        self.visited: set[str] = set()
        self.cursor: str | None = None
        self.next_finders = {name: _finder(self.spec[name]) for name in ("next_path", "cursor_path")
                             if self.spec.get(name)}

    def run(self, get_page: GetPage, rows_of: RowsOf, decode_rows: RowDecoder | None) -> Pages:
        rows: list[Any] = []
        first: UpstreamResponse | None = None
        url: str | None = self._numbered_url(0)
        number = 0
        while url is not None:
            number += 1
            self.visited.add(urls.drop_fragment(url))
            record = PageRecord(number=number, url=self.redact(url))
            self.records.append(record)
            try:
                response = get_page(url, self.left)
                record.url, record.status, record.elapsed_ms = response.url, response.status, response.elapsed_ms
                self.left -= len(response.body)
                found = decode_rows(response.body) if decode_rows is not None else None
                data = None
                if found is None:
                    data = parse_json(response.body, self.source)
                    found = rows_of(data)
                record.rows = len(found)
                rows.extend(found)
                first = first or response
                if not found:
                    break
                url = self._next_url(number, url, response, data, len(found))
            except UpstreamError as exc:
                raise self._on_page(number, exc) from None
            if url is not None and number >= self.max_pages:
                return Pages(rows=rows, truncated=True, first=first, records=self.records)
        return Pages(rows=rows, truncated=False, first=first or response, records=self.records)

    # where the next page is ------------------------------------------------------------

    def _numbered_url(self, index: int) -> str:
        """The URL of page ``index`` (0-based) in the offset and page modes, else the first URL."""
        spec = self.spec
        if self.mode == "offset":
            size = spec["page_size"]
            return urls.set_params(self.first_url, {spec["offset_param"]: index * size, spec["limit_param"]: size})
        if self.mode == "page":
            params: dict[str, Any] = {spec["page_param"]: spec["first_page"] + index}
            if spec.get("size_param"):
                params[spec["size_param"]] = spec["page_size"]
            return urls.set_params(self.first_url, params)
        return self.first_url

    def _next_url(self, number: int, url: str, response: UpstreamResponse, data: Any, rows: int) -> str | None:
        """The next page's URL, checked, or None when this page was the last."""
        if self.mode == "none":
            return None
        if self.mode in ("offset", "page"):
            if rows < self.spec["page_size"]:
                return None
            return self._checked(self._numbered_url(number), response)
        if self.mode == "link_header":
            target = _next_link(response.headers.get("Link"))
        elif self.mode == "next_url":
            target = self._found("next_path", data, "the next page's URL")
        else:
            cursor = self._found("cursor_path", data, "the cursor")
            if cursor is None:
                return None
            if cursor == self.cursor:
                raise PaginationError(f"{self.source}: the cursor at {self.spec['cursor_path']} did not change "
                                      "from the page before; the pages would repeat")
            self.cursor = cursor
            target = urls.set_params(self.first_url, {self.spec["cursor_param"]: cursor})
        if target is None:
            return None
        return self._checked(urljoin(url, target), response)

    def _found(self, setting: str, data: Any, what: str) -> str | None:
        path = self.spec[setting]
        try:
            matches = self.next_finders[setting](data)
        except Exception:  # jsonpath-ng's filters can fail on odd data: as if absent
            matches = []
        value = matches[0] if matches else None
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise PaginationError(f"{self.source}: {what} at {path} is not text")
        return str(value).strip() or None

    def _checked(self, target: str, response: UpstreamResponse) -> str:
        """``target`` if it may be called: https, the first page's origin, not seen yet."""
        target = urls.drop_fragment(target.strip())
        shown = response.redact(target)
        try:
            scheme, host, port = urls.origin(target)
        except ValueError:
            raise InsecureURL(f"{self.source}: the next page's URL {shown} is not valid; it was not followed") \
                from None
        if scheme != "https":
            raise InsecureURL(f"{self.source}: the next page's URL {shown} is not https://; it was not followed")
        if (scheme, host, port) != self.origin:
            raise InsecureURL(f"{self.source}: the next page's URL {shown} is on another origin than "
                              f"{_origin_text(self.origin)}; it was not followed")
        if target in self.visited:
            raise PaginationError(f"{self.source}: the next page's URL {shown} was already read; "
                                  "the pages loop")
        return target

    # failures ------------------------------------------------------------------------------

    def _on_page(self, number: int, exc: UpstreamError) -> UpstreamError:
        """``exc`` naming its page (the message of a one-page call is left as it is)."""
        if not self.paged:
            return exc
        message = exc.message
        if isinstance(exc, ResponseTooLarge) and number > 1:
            message = (f"{self.source}: the pages together are larger than {format_size(self.cap)} "
                       "(CONNECT_MAX_RESPONSE_BYTES)")
        renamed = type(exc)(f"page {number}: {message}", upstream_status=exc.upstream_status, excerpt=exc.excerpt)
        renamed.status = exc.status
        return renamed


@functools.lru_cache(maxsize=256)
def _finder(path: str) -> Callable[[Any], list[Any]]:
    """The compiled JSONPath of a next-page setting (parsing one costs milliseconds)."""
    return compile_path(path)[0]


def _next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of a Link header (RFC 8288), parsed by requests."""
    if not header:
        return None
    for link in parse_header_links(header):
        if "next" in str(link.get("rel", "")).lower().split() and link.get("url"):
            return link["url"]
    return None


def _origin_text(origin: urls.Origin) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"
