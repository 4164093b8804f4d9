"""One description of a setting an admin fills in: a datasource type's
configuration fields and an auth mode's fields alike.

The API (``GET /api/datasource-types``), the wizard's form and the validators all
read the same spec, so a field cannot be offered by one and refused by another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("text", "url", "https_url", "int")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str = "text"  # one of KINDS; the form's input type and the check follow it
    required: bool = False
    secret: bool = False  # stored encrypted, never shown again, redacted everywhere
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[tuple[str, str], ...] | None = None  # (value, label)
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown field kind {self.kind!r}")

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "label": self.label, "kind": self.kind,
                                "required": self.required, "secret": self.secret}
        for attr in ("default", "minimum", "maximum"):
            if getattr(self, attr) is not None:
                data[attr] = getattr(self, attr)
        if self.choices:
            data["choices"] = [{"value": v, "label": lbl} for v, lbl in self.choices]
        if self.help:
            data["help"] = self.help
        return data
