"""The one CSRF rule that host and plugin share."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import Headers, MultiDict

from connect_plugin.csrf_policy import needs_token, submitted_token


@pytest.mark.parametrize(("method", "basic_auth", "logged_in", "expected"), [
    ("POST", False, True, True), ("PUT", False, True, True), ("PATCH", False, True, True),
    ("DELETE", False, True, True), ("post", False, True, True),
    ("GET", False, True, False), ("HEAD", False, True, False), ("OPTIONS", False, True, False),
    ("POST", True, True, False),  # HTTP Basic: a script, no cookie to abuse
    ("POST", False, False, False),  # anonymous: the route answers 401 / the login page
])
def test_needs_token(method, basic_auth, logged_in, expected):
    assert needs_token(method, basic_auth=basic_auth, logged_in=logged_in) is expected


def test_the_token_comes_from_a_header_first_then_a_form_field():
    form = MultiDict({"csrf_token": "from-form"})
    assert submitted_token(Headers({"X-CSRFToken": "h1"}), form, "application/x-www-form-urlencoded") == "h1"
    assert submitted_token(Headers({"X-CSRF-Token": "h2"}), form, "multipart/form-data") == "h2"
    assert submitted_token(Headers(), form, "application/x-www-form-urlencoded") == "from-form"
    assert submitted_token(Headers(), form, "application/json") is None  # a JSON body is not a form
    assert submitted_token(Headers(), MultiDict(), "multipart/form-data") is None
