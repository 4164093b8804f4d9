"""The OpenAPI 3.1 description of the plugin's REST API, for anyone to read."""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, Response

from .guards import public

SPEC_FILE = "openapi.yaml"


def spec_text() -> str:
    """The description as shipped in the package (connect_plugin/openapi.yaml)."""
    return files("connect_plugin").joinpath(SPEC_FILE).read_text("utf-8")


@public
def openapi_yaml():
    return Response(spec_text(), mimetype="application/yaml")


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/api/openapi.yaml", "openapi_yaml", openapi_yaml, methods=["GET"])
