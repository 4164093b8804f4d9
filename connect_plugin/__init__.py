"""Connect: live data from REST APIs in issue fields, as a Flask extension."""

from .extension import ConnectPlugin

__all__ = ["ConnectPlugin"]
