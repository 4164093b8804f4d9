"""A configuration document as a file: JSON, or YAML for ``.yaml``/``.yml``."""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..errors import ValidationError

FORMATS = ("json", "yaml")


def format_for(path: str | None) -> str:
    """YAML for a ``.yaml`` or ``.yml`` file, JSON otherwise (and for stdout)."""
    return "yaml" if path and path.lower().endswith((".yaml", ".yml")) else "json"


def read_format(path: str | None) -> str | None:
    """How to read ``path``: YAML or JSON by its ending, None (try JSON, then YAML) otherwise."""
    if path and path.lower().endswith(".json"):
        return "json"
    return "yaml" if format_for(path) == "yaml" else None


def dump(document: dict[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def load(text: str, fmt: str | None = None) -> Any:
    """The document in ``text``; without ``fmt``, JSON when it parses as JSON, else
    YAML. A file that is neither is a ValidationError saying where it broke."""
    if fmt != "yaml":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if fmt == "json":
                raise ValidationError(f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                      f"column {exc.colno}.") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValidationError(f"The file is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}.") from None
