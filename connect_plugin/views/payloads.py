"""Reading a JSON API call's body: one rule for every endpoint."""

from __future__ import annotations

from flask import request

from ..errors import ValidationError


def json_body() -> dict:
    """The body as a JSON object; anything else is a 400 saying what is expected."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object (Content-Type: application/json).")
    return data
