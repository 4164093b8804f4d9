"""Custom request headers: a datasource's ``config.headers`` and their rules.

An admin lists headers sent on every call to the datasource (a tenant, an API
version), at most :data:`MAX_HEADERS`::

    [{"name": "X-Tenant", "value": "acme"}, {"name": "X-Auth", "value": "…", "secret": true}]

Rules (the same for a connected item's own headers, :mod:`..connected_items.item_headers`):

* a name is an HTTP token (RFC 9110) of at most :data:`MAX_NAME` characters, listed
  once (names are case-insensitive);
* ``Host``, ``Content-Length``, ``Transfer-Encoding``, ``Connection`` (and the other
  hop-by-hop headers) belong to the HTTP layer, and the header the auth mode sets
  (``Authorization``, an API key's header) belongs to the credentials: both refused;
* a value holds no CR, LF or NUL (it could start another header); surrounding
  blanks are dropped, as HTTP does.

A secret header is stored like every other secret (encrypted, one
``DatasourceSecret`` row named ``header:<lower-case name>``), never shown (the API
answers ``{"name", "secret": true, "value_set": true}``), kept by a change that
names it without ``value``, sent like an auth header (only to the datasource's own
origin, redacted everywhere) and, like every stored secret, must be given again
when a URL of the datasource moves to another origin.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from ..errors import ValidationError

MAX_HEADERS = 20
MAX_NAME = 100
SECRET_PREFIX = "header:"

# RFC 9110 section 5.6.2: the characters a header field name is made of.
HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Set by the HTTP client or hop-by-hop (RFC 9110 section 7.6.1): never the admin's.
HTTP_LAYER = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive",
                        "proxy-connection", "te", "trailer", "upgrade"})
BAD_VALUE_CHARS = ("\r", "\n", "\x00")
FIELD = "config.headers"
INVALID = "The headers are not valid."


def secret_field(name: str) -> str:
    """The ``DatasourceSecret.field`` of a secret header's value."""
    return SECRET_PREFIX + name.lower()


def is_header_secret(field: str) -> bool:
    return field.startswith(SECRET_PREFIX)


def name_problem(name: Any, auth_headers: Iterable[str] = ()) -> str | None:
    """Why ``name`` cannot be a custom header, or None."""
    if not isinstance(name, str) or not name.strip():
        return "The header name is required."
    name = name.strip()
    if len(name) > MAX_NAME:
        return f"A header name has at most {MAX_NAME} characters."
    if not HEADER_TOKEN.match(name):
        return (f"{name[:MAX_NAME]!r} is not a valid header name: use letters, digits and "
                "!#$%&'*+.^_`|~- only (no spaces or colons).")
    if name.lower() in HTTP_LAYER:
        return f"{name} is set by the HTTP client itself; it cannot be a custom header."
    if name.lower() in {h.lower() for h in auth_headers}:
        return f"{name} is set by the authentication; it cannot be a custom header."
    return None


def value_problem(name: str, value: str) -> str | None:
    """Why ``value`` cannot be sent as header ``name``, or None (the message never
    repeats the value: it may be a secret)."""
    if any(ch in value for ch in BAD_VALUE_CHARS):
        return f"The value of {name} must not contain a line break (CR, LF) or NUL."
    return None


def _entries(raw: Any, prefix: str) -> list[Any]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationError(INVALID, {prefix: 'headers must be a list of {"name": …, "value": …}.'})
    if len(raw) > MAX_HEADERS:
        raise ValidationError(INVALID, {prefix: f"At most {MAX_HEADERS} headers."})
    return raw


def check_names(raw: list[Any], *, prefix: str, auth_headers: Iterable[str], allowed: set[str]) -> dict[str, str]:
    """Errors of the shape and names of a header list (``<prefix>[i].name``...)."""
    errors: dict[str, str] = {}
    seen: set[str] = set()
    auth_headers = tuple(auth_headers)
    for index, entry in enumerate(raw):
        at = f"{prefix}[{index}]"
        if not isinstance(entry, dict):
            errors[at] = 'Each header is an object {"name": …, "value": …}.'
            continue
        unknown = sorted(set(entry) - allowed - {"value_set"})
        if unknown:
            errors[at] = f"A header has no setting {', '.join(unknown)}."
            continue
        problem = name_problem(entry.get("name"), auth_headers)
        if problem is None and entry["name"].strip().lower() in seen:
            problem = f"{entry['name'].strip()} is listed twice."
        if problem:
            errors[f"{at}.name"] = problem
        elif isinstance(entry.get("name"), str):
            seen.add(entry["name"].strip().lower())
    return errors


def validate(raw: Any, *, stored: Mapping[str, str | None], auth_headers: Iterable[str],
             prefix: str = FIELD, pending: bool = False) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Check a datasource's header list. ``stored`` maps the secret fields stored
    now to their values (None: stored but unreadable). Returns the entries as kept
    in the configuration (a secret one without its value) and the secret values by
    secret field; raises ValidationError naming ``config.headers[i].<part>``. With
    ``pending`` (a configuration import) a new secret header without its value is
    kept without one: the datasource waits for it (:func:`missing`)."""
    entries = _entries(raw, prefix)
    errors = check_names(entries, prefix=prefix, auth_headers=auth_headers, allowed={"name", "value", "secret"})
    clean: list[dict[str, Any]] = []
    secrets: dict[str, str] = {}
    for index, entry in enumerate(entries):
        at = f"{prefix}[{index}]"
        if any(key.startswith(at) for key in errors):
            continue
        name, secret, value = entry["name"].strip(), entry.get("secret", False), entry.get("value")
        if not isinstance(secret, bool):
            errors[f"{at}.secret"] = "secret is true or false."
            continue
        if secret and value in (None, ""):
            field = secret_field(name)
            if field not in stored and pending:
                clean.append({"name": name, "secret": True})
            elif field not in stored:
                errors[f"{at}.value"] = f"The value of {name} is required."
            elif stored[field] is None:
                errors[f"{at}.value"] = f"The stored value of {name} cannot be read with the configured keys: " \
                                        "enter it again."
            else:
                secrets[field] = stored[field]
                clean.append({"name": name, "secret": True})
            continue
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[f"{at}.value"] = f"The value of {name} must be text."
            continue
        problem = value_problem(name, value)
        if problem:
            errors[f"{at}.value"] = problem
        elif secret:
            secrets[secret_field(name)] = value.strip()
            clean.append({"name": name, "secret": True})
        else:
            clean.append({"name": name, "value": value.strip()})
    if errors:
        raise ValidationError(INVALID, errors)
    return clean, secrets


def shown(entries: Iterable[Mapping[str, Any]], stored_fields: Iterable[str]) -> list[dict[str, Any]]:
    """The header list as answers show it: a secret one as ``value_set``, never its value."""
    stored_fields = set(stored_fields)
    return [{"name": e["name"], "secret": True, "value_set": secret_field(e["name"]) in stored_fields}
            if e.get("secret") else {"name": e["name"], "value": e.get("value", "")} for e in entries]


def missing(config: Mapping[str, Any], stored_fields: Iterable[str]) -> list[str]:
    """``headers.<name>`` for each secret header whose value was never entered."""
    stored_fields = set(stored_fields)
    return [f"headers.{e['name']}" for e in config.get("headers") or ()
            if e.get("secret") and secret_field(e["name"]) not in stored_fields]


def left_behind(secrets: Mapping[str, str], raw: Any, again: Mapping[str, str]) -> dict[str, str]:
    """``secrets`` without the kept ones that ``again`` asks for (a URL moved on an
    import, where nobody can give them again: they stay behind)."""
    drop = {secret_field(raw[i]["name"].strip()) for i in kept_without_value(raw)
            if f"{FIELD}[{i}].value" in again}
    return {k: v for k, v in secrets.items() if k not in drop}


def kept_without_value(raw: Any) -> list[int]:
    """Indexes of the secret entries that keep their stored value (given without one)."""
    if not isinstance(raw, list):
        return []
    return [i for i, e in enumerate(raw) if isinstance(e, dict) and e.get("secret") is True
            and e.get("value") in (None, "")]


def wire_value(value: str) -> str | bytes:
    """What goes on the wire: ASCII as text, anything else as its UTF-8 bytes (the
    HTTP client would otherwise encode it as Latin-1 or fail)."""
    return value if value.isascii() else value.encode("utf-8")


def for_call(config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The datasource's plain headers and its secret headers, ready to send (secret
    ones go as auth headers: to the datasource's origin only)."""
    plain: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for entry in config.get("headers") or ():
        if entry.get("secret"):
            value = secrets.get(secret_field(entry["name"]))
            if value is not None:
                secret[entry["name"]] = wire_value(value)
        else:
            plain[entry["name"]] = wire_value(entry.get("value", ""))
    return plain, secret


def merged(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Header dicts merged case-insensitively, a later layer winning, in the
    spelling of the layer that set the value."""
    out: dict[str, tuple[str, Any]] = {}
    for layer in layers:
        for name, value in layer.items():
            out[name.lower()] = (name, value)
    return dict(out.values())


def without(headers: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    drop = {n.lower() for n in names}
    return {k: v for k, v in headers.items() if k.lower() not in drop}
