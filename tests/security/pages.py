"""Reading the host's pages: links and forms, and a crawler that follows them
(used by test_csrf.py and test_hardening.py)."""

from __future__ import annotations

import itertools
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

_unique = itertools.count(1)


class Form:
    def __init__(self, page: str, attrs: dict):
        self.page = page
        self.method = (attrs.get("method") or "get").upper()
        self.action = urljoin(page, attrs.get("action") or page)
        self.fields: list[tuple[str, str]] = []

    @property
    def path(self) -> str:
        parts = urlsplit(self.action)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def key(self) -> tuple:
        return self.method, self.path, tuple(sorted({name for name, _ in self.fields}))

    def data(self, *, with_token: bool) -> dict[str, list[str]]:
        data: dict[str, list[str]] = {}
        for name, value in self.fields:
            if name == "csrf_token" and not with_token:
                continue
            data.setdefault(name, []).append(value)
        return data


class PageParser(HTMLParser):
    """Links and forms (inputs, textareas, selects) of one page."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None
        self._text = ""
        self._select: str | None = None
        self._select_value: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        if tag == "a" and attrs.get("href"):
            self.links.append(urljoin(self.page, attrs["href"]))
        elif tag == "form":
            self._form = Form(self.page, attrs)
            self.forms.append(self._form)
        elif self._form is None or "name" not in attrs or "disabled" in attrs:
            return
        elif tag == "input":
            kind = attrs.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind not in ("submit", "button", "file", "image", "reset"):
                self._form.fields.append((attrs["name"], attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "textarea":
            self._textarea, self._text = attrs["name"], ""
        elif tag == "select":
            self._select, self._select_value = attrs["name"], None
        elif tag == "option" and self._select is not None and (self._select_value is None or "selected" in attrs):
            self._select_value = attrs.get("value", "")

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea, self._text))
            self._textarea = None
        elif tag == "select" and self._select is not None and self._form is not None:
            if self._select_value is not None:
                self._form.fields.append((self._select, self._select_value))
            self._select = None


def parse(page: str, html: str) -> PageParser:
    parser = PageParser(page)
    parser.feed(html)
    return parser


def crawl(client, start: list[str]) -> tuple[list[str], dict[tuple, Form]]:
    """GET every same-site page reachable by links from ``start``; submit each POST
    form found once, with its token, to reach the pages it renders. Returns the
    pages seen and the POST forms by key."""
    seen_pages: list[str] = []
    forms: dict[tuple, Form] = {}
    queue = deque(start)
    visited = set()
    while queue:
        url = queue.popleft()
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.netloc not in ("", "localhost") or path in visited:
            continue
        if path.startswith(("/logout", "/static/", "/plugins/connect/static/")) or path.endswith(".yaml"):
            continue
        visited.add(path)
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        seen_pages.append(path)
        page = parse("http://localhost" + path, response.get_data(as_text=True))
        queue.extend(page.links)
        for form in page.forms:
            if form.method == "GET":
                queue.append(form.action)
            elif form.key() not in forms and not destructive(form) and not logs_out(form):
                forms[form.key()] = form
                # What submitting it renders (a wizard step, a tester result) is a page too.
                after = client.post(form.path, data=named(form.data(with_token=True)))
                if after.status_code in (200, 400) and after.mimetype == "text/html":
                    for found in parse(form.action, after.get_data(as_text=True)).forms:
                        if found.method == "POST" and found.key() not in forms and not destructive(found):
                            forms[found.key()] = found
            elif form.key() not in forms:
                forms[form.key()] = form
    return seen_pages, forms


def named(data: dict[str, list[str]]) -> dict[str, list[str]]:
    """An empty name filled in, so that a wizard step leads to the next one."""
    if data.get("name") == [""]:
        data = {**data, "name": [f"Crawled {next(_unique)}"]}
    return data


def destructive(form: Form) -> bool:
    return form.path.endswith("/delete")


def logs_out(form: Form) -> bool:
    """The top bar's "Log out" form: the crawl records it but does not submit it,
    or the rest of the crawl would be a visitor's."""
    return form.path == "/logout"
