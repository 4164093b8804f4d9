"""Reading every page of an answer: the page walk of the ``pagination`` setting
(:mod:`.pagination_setting` holds the setting and cleans it). The modes:

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
from ..connected_items.row_decoder import RowDecoder
from ..errors import InsecureURL, PaginationError, ResponseTooLarge, UpstreamError
from ..outbound import UpstreamResponse, urls
from ..outbound.failures import format_size
from ..outbound.json_answer import parse_json
from .pagination_setting import DEFAULT_MAX_PAGES


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
# RowDecoder, decode_rows(body): those rows read straight from the bytes, or None when
# it cannot tell; then the page is parsed and given to rows_of.
# The modes that read the next page's place from the page's body need all of it.
BODY_MODES = ("next_url", "cursor")
# take_rows(rows): one page's rows, in order, for a caller that uses them page by page.
TakeRows = Callable[[list[Any]], None]


def read_pages(get_page: GetPage, url: str, pagination: dict[str, Any], *, rows_of: RowsOf, source: str,
               max_bytes: int, records: list[PageRecord] | None = None,
               redact: Callable[[str], str] = lambda text: text, decode_rows: RowDecoder | None = None,
               take_rows: TakeRows | None = None) -> Pages:
    """Every page of the answer at ``url``; ``records`` (when given) receives each
    page as it is read, also when a later page fails. ``redact`` masks URLs for
    messages and records before the first answer (which masks its own). With
    ``take_rows`` each page's rows go to it as the page is read (a failure there
    fails that page), and ``Pages.rows`` stays empty."""
    walk = _Walk(pagination, url, source, max_bytes, records if records is not None else [], redact)
    return walk.run(get_page, rows_of, decode_rows if walk.mode not in BODY_MODES else None, take_rows)


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

    def run(self, get_page: GetPage, rows_of: RowsOf, decode_rows: RowDecoder | None,
            take_rows: TakeRows | None) -> Pages:
        rows: list[Any] = []
        take = take_rows or rows.extend
        first: UpstreamResponse | None = None
        url: str | None = self._numbered_url(0)
        number = 0
        while url is not None:
            number += 1
            called = url
            self.visited.add(urls.drop_fragment(called))
            record = PageRecord(number=number, url="")  # the answer's URL, masked by the answer
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
                take(found)
                first = first or response
                if not found:
                    break
                url = self._next_url(number, url, response, data, len(found))
            except UpstreamError as exc:
                raise self._on_page(number, exc) from None
            finally:
                if not record.url:  # no answer: the URL called, masked here (only then: it costs a regex)
                    record.url = self.redact(called)
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
        """``target`` if it may be called: https, the first page's origin, not seen yet.
        (The URL is masked for a message only when there is one: masking costs a regex.)"""
        target = urls.drop_fragment(target.strip())
        try:
            origin = urls.origin(target)
        except ValueError:
            problem = "is not valid"
        else:
            problem = ("is not https://" if origin[0] != "https"
                       else f"is on another origin than {_origin_text(self.origin)}" if origin != self.origin
                       else None)
        if problem is not None:
            raise InsecureURL(f"{self.source}: the next page's URL {response.redact(target)} {problem}; "
                              "it was not followed")
        if target in self.visited:
            raise PaginationError(f"{self.source}: the next page's URL {response.redact(target)} was already read; "
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
