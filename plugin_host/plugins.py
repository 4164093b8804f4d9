"""Loading plugins, only through the manifests the configuration names.

``PLUGIN_MANIFESTS`` (config or environment, comma-separated paths) defaults to
this distribution's own ``plugin.yaml``. A bad manifest stops start-up with one
sentence naming the file and the field.
"""

from __future__ import annotations

import os

from flask import Flask

from connect_plugin.manifest import Manifest, ManifestError, default_manifest_path, load_manifest

from .adapter import ReferenceHostAdapter


def manifest_paths(app: Flask) -> list[str]:
    raw = app.config.get("PLUGIN_MANIFESTS") or os.environ.get("PLUGIN_MANIFESTS")
    if not raw:
        return [str(default_manifest_path())]
    if isinstance(raw, str):
        raw = raw.split(",")
    return [p.strip() for p in raw if p and p.strip()]


def load_plugins(app: Flask) -> list[Manifest]:
    manifests = []
    adapter = ReferenceHostAdapter()
    for path in manifest_paths(app):
        manifest = load_manifest(path)
        entry = manifest.load_entry_point()
        plugin = entry() if isinstance(entry, type) else entry
        if not hasattr(plugin, "init_app"):
            raise ManifestError(f"{manifest.path}: field 'entry_point' names {manifest.entry_point!r}, "
                                "which has no init_app(app, host=..., manifest=...).")
        plugin.init_app(app, host=adapter, manifest=manifest)
        manifests.append(manifest)
    app.extensions["host_plugins"] = manifests
    return manifests
