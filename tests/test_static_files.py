"""Static files browsers keep: digest URLs and a one-year max-age, so a warm edit
screen fetches no script or stylesheet again (bench scenario 11), and a changed file
is never served from a stale cache."""

from __future__ import annotations

import re

from connect_plugin.static_files import ONE_YEAR, folder_digest
from tests.conftest import ALICE


def test_the_digest_changes_with_any_file_and_only_then(tmp_path):
    (tmp_path / "connect").mkdir()
    (tmp_path / "connect" / "fields.js").write_text("export const a = 1;\n")
    first = folder_digest(tmp_path)
    assert folder_digest(tmp_path) == first
    (tmp_path / "connect" / "fields.js").write_text("export const a = 2;\n")
    assert folder_digest(tmp_path) != first
    (tmp_path / "connect" / "fields.js").write_text("export const a = 1;\n")
    assert folder_digest(tmp_path) == first
    (tmp_path / "connect" / "new.js").write_text("")
    assert folder_digest(tmp_path) != first


def _issue_page(people) -> str:
    client = people.test_client()
    html = client.get("/browse/DEMO-1", headers=ALICE).get_data(as_text=True)
    return html


def test_the_edit_screen_assets_are_cached_for_a_year_and_their_imports_resolve_alike(people):
    client = people.test_client()
    html = _issue_page(people)
    script = re.search(r'<script type="module" src="([^"]+/fields\.js)"', html).group(1)
    answer = client.get(script)
    assert answer.status_code == 200
    assert answer.cache_control.max_age == ONE_YEAR
    # fields.js imports ./fields/editors.js: relative to the digest URL, so the same digest.
    assert "./fields/editors.js" in answer.get_data(as_text=True)
    imported = client.get(script.rsplit("/", 1)[0] + "/fields/editors.js")
    assert imported.status_code == 200 and imported.cache_control.max_age == ONE_YEAR
    answer.close()
    imported.close()


def test_the_host_stylesheet_carries_its_digest_and_is_cached(people):
    client = people.test_client()
    html = _issue_page(people)
    href = re.search(r'<link rel="stylesheet" href="(/static/host\.css\?v=[0-9a-f]{12})"', html).group(1)
    answer = client.get(href)
    assert answer.status_code == 200 and answer.cache_control.max_age == ONE_YEAR
    answer.close()
    plain = client.get("/static/host.css")  # without the digest: revalidated as before
    assert plain.status_code == 200 and plain.cache_control.max_age != ONE_YEAR
    plain.close()
