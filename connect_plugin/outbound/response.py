"""An upstream's answer as the plugin sees it: its body read under the call's
deadline and size cap, then status, headers, bytes and a way to quote it that never
quotes a secret."""

from __future__ import annotations

import http
from dataclasses import dataclass, field
from typing import Any, Mapping

import requests

from connect_plugin.errors import BadUpstreamData, ConnectError, ResponseTooLarge, UpstreamHTTPError

from .deadline import Call
from .failures import format_size, translate
from .json_answer import NotJSON, decode
from .redact import Redactor, redact_known

EXCERPT_CHARS = 200
STREAM_CHUNK = 65536


def excerpt(body: bytes, redactor: Redactor | None, limit: int) -> str:
    """First ``limit`` characters of a body, whitespace collapsed, secrets masked.
    Masks before cutting so that a secret cut in two cannot slip through."""
    if not body:
        return ""
    window = body[: limit * 4 + 4096].decode("utf-8", "replace")
    text = " ".join(window.split())
    text = redact_known(text)
    if redactor is not None:
        text = redactor.redact(text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


@dataclass
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    elapsed_ms: int
    redirects: int
    source: str = "The datasource"
    _redactor: Redactor | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "") or ""

    @property
    def reason(self) -> str:
        try:
            return http.HTTPStatus(self.status).phrase
        except ValueError:
            return ""

    def redact(self, text: str) -> str:
        text = redact_known(text)
        return self._redactor.redact(text) if self._redactor is not None else text

    def excerpt(self, limit: int = EXCERPT_CHARS) -> str:
        return excerpt(self.body, self._redactor, limit)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return decode(self.body)
        except NotJSON:
            content_type = self.redact(self.content_type) or "none"
            if not self.body.strip():
                message = f"{self.source}: the answer is empty, not JSON (Content-Type {content_type})"
            else:
                start = excerpt(self.body, self._redactor, 40)
                message = (
                    f"{self.source}: the answer is not JSON "
                    f"(Content-Type {content_type}; starts with '{start}')"
                )
            raise BadUpstreamData(message, upstream_status=self.status, excerpt=self.excerpt()) from None


def raise_for_status(response: UpstreamResponse, source: str | None = None) -> None:
    """Raise :class:`UpstreamHTTPError` unless the status is 2xx."""
    if 200 <= response.status < 300:
        return
    source = source or response.source
    quoted = response.excerpt(EXCERPT_CHARS)
    status_text = f"{response.status} {response.reason}".rstrip()
    if quoted:
        message = f"{source} answered {status_text}: {quoted}"
    else:
        message = f"{source} answered {status_text}."
    raise UpstreamHTTPError(message, upstream_status=response.status, excerpt=quoted)


def discard_body(call: Call, response: requests.Response) -> None:
    """Read a small redirect body so its connection can go back to the pool;
    anything else is left to ``close()``, which drops the connection."""
    try:
        length = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return
    if not 0 <= length <= STREAM_CHUNK:
        return
    try:
        call.tighten()
        for _chunk in response.raw.stream(STREAM_CHUNK, decode_content=False):
            pass
    except Exception:  # the next hop opens a new connection; its deadline still holds
        pass

def read_body(call: Call, response: requests.Response, method: str, host: str) -> bytes:
    cap = call.max_bytes
    too_large = ResponseTooLarge(
        f"{call.source}: the answer is larger than {format_size(cap)} (CONNECT_MAX_RESPONSE_BYTES)",
        upstream_status=response.status_code,
    )
    if method == "HEAD" or response.status_code in (204, 304):
        return b""
    length = response.headers.get("Content-Length")
    if length is not None:
        try:
            declared = max(int(v.strip()) for v in length.split(","))
        except ValueError:
            declared = None
        if declared is not None and declared > cap:
            raise too_large
    buffer = bytearray()
    try:
        stream = response.raw.stream(STREAM_CHUNK, decode_content=True)
        while True:
            call.tighten()
            try:
                chunk = next(stream)
            except StopIteration:
                break
            if len(buffer) + len(chunk) > cap:
                raise too_large
            buffer += chunk
    except ConnectError:
        raise
    except Exception as exc:
        raise translate(call, exc, host, reading=True) from None
    if call.expired:
        # The watchdog ended the body early; what arrived is not the answer.
        raise call.timeout_error()
    return bytes(buffer)
