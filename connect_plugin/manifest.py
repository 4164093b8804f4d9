"""Reading and checking a plugin manifest (``plugin.yaml``).

A manifest is pure data; all behaviour lives in the entry point's ``init_app``.
Any mistake stops start-up with one sentence that names the file and the field,
because a host that starts half-configured is worse than one that does not start.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ManifestError(Exception):
    """A manifest that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class AdminPage:
    title: str
    endpoint: str
    path: str


@dataclass(frozen=True)
class Manifest:
    path: Path
    key: str
    name: str
    version: str
    entry_point: str
    url_prefix: str
    templates: Path
    static: Path
    migrations: Path
    version_table: str
    admin_pages: tuple[AdminPage, ...]
    description: str = ""

    @property
    def root(self) -> Path:
        return self.path.parent

    def load_entry_point(self) -> Any:
        """Import ``module:attribute``; a failure is a ManifestError naming the field."""
        module_name, _, attr = self.entry_point.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ManifestError(
                f"{self.path}: field 'entry_point' names module {module_name!r}, which cannot be imported ({exc})."
            ) from None
        try:
            return getattr(module, attr)
        except AttributeError:
            raise ManifestError(
                f"{self.path}: field 'entry_point' names {attr!r}, which module {module_name!r} does not define."
            ) from None


_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_ENTRY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")
_TABLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _require(data: dict, field: str, path: Path, kind: type = str) -> Any:
    if field not in data or data[field] is None:
        raise ManifestError(f"{path}: required field {field!r} is missing.")
    value = data[field]
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise ManifestError(f"{path}: field {field!r} must be a non-empty {kind.__name__}, not {value!r}.")
    return value


def _folder(data: dict, field: str, path: Path) -> Path:
    folder = (path.parent / _require(data, field, path)).resolve()
    if not folder.is_dir():
        raise ManifestError(f"{path}: field {field!r} names {folder}, which is not a folder.")
    return folder


def load_manifest(path: str | Path) -> Manifest:
    """Parse and check a manifest file, without importing anything."""
    path = Path(path).resolve()
    data = _read_mapping(path)
    key = _matching(data, "key", path, _KEY_RE, "be lower-case letters, digits, '-' or '_'")
    migrations = _require(data, "migrations", path, dict)
    version_table = migrations.get("version_table", f"{key.replace('-', '_')}_alembic_version")
    if not isinstance(version_table, str) or not _TABLE_RE.match(version_table):
        raise ManifestError(f"{path}: field 'migrations.version_table' must be a table name, not {version_table!r}.")
    return Manifest(
        path=path,
        key=key,
        name=_require(data, "name", path),
        version=_version(data, path),
        entry_point=_matching(data, "entry_point", path, _ENTRY_RE, "look like 'package.module:Name'"),
        url_prefix=_matching(data, "url_prefix", path, _PREFIX_RE, f"be a path such as '/plugins/{key}'"),
        templates=_folder(data, "templates", path),
        static=_folder(data, "static", path),
        migrations=_folder(migrations, "path", path),
        version_table=version_table,
        admin_pages=_admin_pages(data, path),
        description=str(data.get("description", "")),
    )


def _read_mapping(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: the manifest cannot be read ({exc.strerror}).") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ManifestError(f"{path}: the manifest is not valid YAML{where}.") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: the manifest must be a mapping of fields.")
    return data


def _matching(data: dict, field: str, path: Path, pattern: re.Pattern, shape: str) -> str:
    value = _require(data, field, path)
    if not pattern.match(value):
        raise ManifestError(f"{path}: field {field!r} must {shape}, not {value!r}.")
    return value


def _version(data: dict, path: Path) -> str:
    version = data.get("version")
    if isinstance(version, (int, float)):
        version = str(version)  # YAML reads 1.0 as a number
    if not isinstance(version, str) or not version.strip():
        raise ManifestError(f"{path}: required field 'version' is missing or not a string.")
    return version.strip()


def _admin_pages(data: dict, path: Path) -> tuple[AdminPage, ...]:
    pages_raw = data.get("admin_pages", [])
    if not isinstance(pages_raw, list):
        raise ManifestError(f"{path}: field 'admin_pages' must be a list.")
    pages = []
    for index, page in enumerate(pages_raw):
        if not isinstance(page, dict):
            raise ManifestError(f"{path}: field 'admin_pages[{index}]' must be a mapping.")
        try:
            pages.append(AdminPage(
                title=_require(page, "title", path), endpoint=_require(page, "endpoint", path),
                path=_require(page, "path", path),
            ))
        except ManifestError as exc:
            raise ManifestError(str(exc).replace("field '", f"field 'admin_pages[{index}].", 1)) from None
    return tuple(pages)


def default_manifest_path() -> Path:
    """This distribution's own ``plugin.yaml``: the repository root in a checkout,
    the ``connect_plugin_files`` package data in an installed wheel."""
    checkout = Path(__file__).resolve().parents[1] / "plugin.yaml"
    if checkout.is_file():
        return checkout
    import connect_plugin_files  # the repository root, shipped as a data package

    return Path(next(iter(connect_plugin_files.__path__))) / "plugin.yaml"
