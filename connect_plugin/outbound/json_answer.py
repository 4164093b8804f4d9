"""The one JSON parser for what upstreams send: API answers and token endpoints alike.

msgspec, because it is the fastest parser measured here (BENCHMARKS.md) and exact:
orjson reads integers beyond 64 bits as floats, which would change ids.
"""

from __future__ import annotations

from typing import Any

import msgspec

from connect_plugin.errors import BadUpstreamData

_DECODE = msgspec.json.Decoder().decode


class NotJSON(ValueError):
    """The body is not JSON; ``reason`` says why, without quoting the body."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def decode(body: bytes) -> Any:
    """The parsed body; raises :class:`NotJSON`."""
    try:
        return _DECODE(body)
    except msgspec.DecodeError as exc:
        reason = str(exc).strip() or "unreadable"
        if len(reason) > 120:
            reason = reason[:117] + "..."
        raise NotJSON(f"the answer is not valid JSON ({reason})") from None
    except RecursionError:
        raise NotJSON("the answer is nested too deeply to be read") from None
    except (TypeError, UnicodeDecodeError):
        raise NotJSON("the answer is not valid JSON (no readable body)") from None


def parse_json(body: bytes, source: str) -> Any:
    """Parse an upstream answer; raises BadUpstreamData naming ``source``."""
    try:
        return decode(body)
    except NotJSON as exc:
        raise BadUpstreamData(f"{source}: {exc.reason}") from None
