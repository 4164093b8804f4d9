"""The reference host: a small Jira-shaped issue tracker that loads plugins through
their manifests. ``gunicorn 'plugin_host:create_app()'`` serves it."""

from .factory import create_app

__all__ = ["create_app"]
