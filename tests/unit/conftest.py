"""Unit tests of the plugin's service modules: plain function calls on a database
session of the bare plugin (no request, no host pages, no HTTP client)."""

from __future__ import annotations

import pytest


@pytest.fixture
def plugin(bare_plugin):
    """``(state, session, host)`` inside an app context of the bare plugin."""
    app, host = bare_plugin
    state = app.extensions["connect"]
    with app.app_context():
        session = state.db.session()
        try:
            yield state, session, host
        finally:
            session.close()
