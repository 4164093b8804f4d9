"""Where a datasource's credentials go, and when an edit points them somewhere new.

A stored secret was entered for the hosts the datasource called when it was saved.
An edit that points a URL at another origin (scheme, host, port: see
``outbound.urls.origin``) would hand that secret, or the token it buys, to a host
the admin never entered it for; so such an edit must carry the secrets again
(CONTRACT section 5: "stored secrets never follow a URL to a new host unless given
again"). Every ``https_url`` field is a destination. The type's configuration URLs
(base URL, health check) receive the mode's credentials, the mode's own URLs
(OAuth2's token URL) receive the client secret, so the two groups are compared
apart: a URL moved to an origin its own group already reached is no new recipient
(a health check moved onto the base URL's host), a token URL moved onto the API's
host is. Pure functions: no DNS, no sockets.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..field_spec import FieldSpec
from ..outbound.urls import Origin, origin


def _origins(prefix: str, specs: Iterable[FieldSpec], values: Mapping[str, Any]) -> dict[str, tuple[FieldSpec, Origin]]:
    """``{"<prefix>.<field>": (spec, origin)}`` for every URL field that has a value."""
    found = {}
    for spec in specs:
        url = values.get(spec.name)
        if spec.kind == "https_url" and isinstance(url, str) and url.strip():
            try:
                found[f"{prefix}.{spec.name}"] = (spec, origin(url.strip()))
            except ValueError:  # not a URL at all: the field's own check reports it
                continue
    return found


def _moved_in_group(before: dict, after: dict) -> list[tuple[str, FieldSpec]]:
    reached = {where for _spec, where in before.values()}
    return [(key, spec) for key, (spec, where) in after.items() if where not in reached]


def moved_urls(config_specs: Iterable[FieldSpec], old_config: Mapping[str, Any], new_config: Mapping[str, Any],
               auth_specs: Iterable[FieldSpec], old_auth: Mapping[str, Any],
               new_auth: Mapping[str, Any]) -> list[tuple[str, FieldSpec]]:
    """The URL fields (``config.base_url``, ``auth.token_url``...) whose new origin
    their group of URLs did not reach before the edit, in field order."""
    config_specs, auth_specs = tuple(config_specs), tuple(auth_specs)
    return (_moved_in_group(_origins("config", config_specs, old_config),
                            _origins("config", config_specs, new_config))
            + _moved_in_group(_origins("auth", auth_specs, old_auth), _origins("auth", auth_specs, new_auth)))


def _the(label: str) -> str:
    """"the client secret" from "Client secret"; an acronym keeps its capitals."""
    first = label.split(" ", 1)[0]
    return "the " + (label if first.isupper() else label[:1].lower() + label[1:])


def move_reason(moved: list[tuple[str, FieldSpec]]) -> str:
    """"the API Base Url moves to another host" (or several URLs)."""
    names = [_the(spec.label) for _key, spec in moved]
    if len(names) == 1:
        return f"{names[0]} moves to another host"
    return f"{', '.join(names[:-1])} and {names[-1]} move to other hosts"


def reenter_errors(secret_specs: Iterable[FieldSpec], moved: list[tuple[str, FieldSpec]]) -> dict[str, str]:
    """One ``auth.<secret>`` error per secret that would follow the moved URLs."""
    if not moved:
        return {}
    reason = move_reason(moved)
    return {f"auth.{spec.name}": f"Enter {_the(spec.label)} again: {reason}." for spec in secret_specs}
