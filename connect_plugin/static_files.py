"""The plugin's static files, kept by browsers between page views.

The edit screen cannot show a field's options before its scripts have run, and
without caching every visit fetched (or revalidated) the stylesheet and four
JavaScript modules, the modules one import level at a time (bench scenario 11).
So their URLs carry a digest of the folder's content
(``/plugins/connect/static/<digest>/connect/fields.js``) and they are sent with a
one-year ``max-age``: a new release, or any edited file, changes every URL, and a
module's relative imports resolve under the same digest, so a page never mixes
files of two versions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint

ONE_YEAR = 365 * 24 * 3600


def folder_digest(folder: Path) -> str:
    """A short digest of every file's path and bytes under ``folder``."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:12]


class CachedStaticBlueprint(Blueprint):
    """A blueprint whose static files may be cached for a year (their URL changes
    with their content)."""

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        return ONE_YEAR


def static_url_path(folder: Path) -> str:
    return f"/static/{folder_digest(folder)}"
