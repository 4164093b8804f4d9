"""A non-editable install works from any directory: the wheel ships the manifest,
templates, static files and both migration folders, and `connect-host` runs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, repo_root=Path(__file__).resolve().parents[1]) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(repo_root)], check=True, cwd=out)
    (path,) = out.glob("connect_plugin-*.whl")
    return path


def test_wheel_ships_every_file_the_manifest_names(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("connect_plugin_files/plugin.yaml", "connect_plugin_files/migrations/env.py",
                   "connect_plugin_files/templates/connect/fields.html", "connect_plugin_files/static/connect/fields.js",
                   "connect_plugin_files/static/connect/fields/request.js",
                   "connect_plugin_files/static/connect/fields/editors.js",
                   "connect_plugin_files/static/connect/fields/combobox.js",
                   "plugin_host/templates/layout.html", "plugin_host/static/host.css",
                   "plugin_host/migrations/env.py", "connect_plugin/extension.py"):
        assert needed in names, needed
    assert any(n.startswith("connect_plugin_files/migrations/versions/") for n in names)
    assert any(n.startswith("plugin_host/migrations/versions/") for n in names)
    assert not any(n.startswith(("connect_plugin_files/tests", "connect_plugin_files/.venv")) for n in names)


def test_installed_wheel_runs_from_another_directory(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "INSTANCE_PATH": str(work / "instance")}
    env.pop("DATABASE_URL", None)
    script = (
        "import sys; from plugin_host.cli import main; sys.argv = ['connect-host'] + sys.argv[1:]; main()"
    )

    def connect_host(*args):
        return subprocess.run([sys.executable, "-c", script, *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=120)

    upgraded = connect_host("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    created = connect_host("users", "create", "ops", "--password", "pw", "--admin")
    assert created.returncode == 0 and "Created user ops" in created.stdout
    probe = subprocess.run([sys.executable, "-c", (
        "import connect_plugin, connect_plugin.manifest as m; from plugin_host import create_app;"
        "print(connect_plugin.__file__); print(m.default_manifest_path());"
        "c = create_app().test_client(); print(c.get('/login').status_code)")],
        cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    module_file, manifest_path, status = probe.stdout.split()
    assert module_file.startswith(str(target)) and manifest_path.startswith(str(target))
    assert status == "200"
    assert (work / "instance" / "connect.db").exists()
