"""JQL search for the host: parse with a Lark grammar, translate to one SQL statement."""

from .parse import JqlError, parse, to_text

__all__ = ["JqlError", "parse", "to_text"]
