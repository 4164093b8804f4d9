"""The one ``$`` scanner of queries and option templates.

Both languages write ``$$`` for a literal ``$`` and give every other ``$`` to their
own reader; the scanner keeps the literal text between them. A reader returns the
token and where it ends, or None when that ``$`` is literal (templates treat a ``$``
not followed by ``{`` so; the query reader raises instead).
"""

from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")

Reader = Callable[[str, int], "tuple[T, int] | None"]


def scan(text: str, read: Reader) -> list[str | T]:
    """``text`` as non-empty literal strings and the reader's tokens, in order.
    ``read(text, j)`` is called with ``text[j] == "$"`` and ``text[j + 1] != "$"``."""
    pieces: list[str | T] = []
    literal: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        j = text.find("$", pos)
        if j < 0:
            literal.append(text[pos:])
            break
        literal.append(text[pos:j])
        if text.startswith("$$", j):
            literal.append("$")
            pos = j + 2
            continue
        found = read(text, j)
        if found is None:
            literal.append("$")
            pos = j + 1
            continue
        token, pos = found
        if "".join(literal):
            pieces.append("".join(literal))
        literal = []
        pieces.append(token)
    if "".join(literal):
        pieces.append("".join(literal))
    return pieces
