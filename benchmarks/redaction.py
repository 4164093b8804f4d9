"""The process-wide redactor after many tokens (issue 13, rule 4): registering a
token and masking a URL must not grow with the number of tokens the process has
ever seen. Measured in process: it is pure computation."""

from __future__ import annotations

import time
import uuid

from connect_plugin.outbound.redact import Redactor, SecretRegistry

SEEN = (1_000, 20_000, 200_000)


def _per_url_us(registry: SecretRegistry, url: str, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        registry.redact(url)
    return (time.perf_counter() - started) / repeat * 1e6


def run(quick: bool) -> dict:
    points = []
    for seen in SEEN[:2] if quick else SEEN:
        registry = SecretRegistry()
        started = time.perf_counter()
        for _ in range(seen):
            registry.update(Redactor([f"tok-{uuid.uuid4().hex}"]))  # one new OAuth2 token per call
        register_us = (time.perf_counter() - started) / seen * 1e6
        live = f"tok-{uuid.uuid4().hex}"
        registry.update(Redactor([live]))
        url = f"https://api.example.com/v1/assets?owner=alice%40example.com&access_token={live}&q=laptop"
        registry.redact(url)  # builds the matcher once
        points.append({"seen": seen, "held": len(registry), "register_us": register_us,
                       "redact_us": _per_url_us(registry, url, 200 if quick else 2000),
                       "masked": live not in registry.redact(url)})
    return {"points": points}
