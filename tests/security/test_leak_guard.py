"""The leak guard itself: it sees a registered secret in a response body, a header,
the session, a log record and an exception message, and says where without
repeating the secret. (Each test discards what it planted, so that the guard's own
check at the end of the test stays green.)"""

from __future__ import annotations

import logging
import uuid

import pytest
from flask import Flask, Response, session

from connect_plugin.outbound import install_log_redaction, register_secret
from tests.security.leak_guard import GUARD, Seen


@pytest.fixture
def secret():
    value = f"guard-{uuid.uuid4().hex}"
    register_secret(value)
    GUARD.discard()
    yield value
    GUARD.discard()


@pytest.fixture
def leaky_app(secret):
    app = Flask(__name__)
    app.secret_key = "test"

    @app.get("/body")
    def body():
        return {"shown": secret}

    @app.get("/header")
    def header():
        return Response("ok", headers={"X-Debug": secret})

    @app.get("/session")
    def in_session():
        session["remember"] = secret
        return "ok"

    @app.get("/clean")
    def clean():
        return "nothing to see"

    return app


@pytest.mark.parametrize("path, where", [("/body", "body"), ("/header", "headers"), ("/session", "session")])
def test_a_secret_in_a_response_is_found(leaky_app, secret, path, where):
    leaky_app.test_client().get(path)
    problems = GUARD.find(GUARD.take())
    assert len(problems) == 1
    assert f"response to GET {path} (200), {where}" in problems[0]
    assert secret not in problems[0] and "***" in problems[0]


def test_a_secret_in_a_log_record_is_found_even_if_a_handler_would_mask_it(secret):
    logging.getLogger("plugin_host.somewhere").debug("token is %s", secret)
    problems = GUARD.find(GUARD.take())
    assert len(problems) == 1 and "log record plugin_host.somewhere DEBUG" in problems[0]


def test_the_plugins_own_loggers_are_redacted_when_records_are_made(secret):
    install_log_redaction()  # what ConnectPlugin.init_app does
    logging.getLogger("connect_plugin.views").warning("token is %s", secret)
    assert GUARD.find(GUARD.take()) == []


def test_a_secret_in_an_exception_message_is_found(secret):
    try:
        try:
            raise KeyError("inner")
        except KeyError as exc:
            raise RuntimeError(f"failed with {secret}") from exc
    except RuntimeError as exc:
        from tests.security.leak_guard import _exception_text

        text = _exception_text(exc)
    problems = GUARD.find([Seen("exception raised to pytest in call", text)])
    assert len(problems) == 1 and "exception raised to pytest" in problems[0]


def test_clean_answers_and_short_values_pass(leaky_app, secret):
    register_secret("abc")  # under 4 characters: never watched
    leaky_app.test_client().get("/clean")
    logging.getLogger("plugin_host").info("abc is not a secret")
    assert GUARD.find(GUARD.take()) == []
    assert secret in GUARD.secrets() and "abc" not in GUARD.secrets()


def test_a_secret_in_a_commands_output_is_found(secret):
    import click
    from click.testing import CliRunner

    @click.command()
    def show():
        click.echo(f"config: {secret}", err=True)

    CliRunner().invoke(show, [])
    problems = GUARD.find(GUARD.take())
    assert len(problems) == 1 and "output of the command" in problems[0]
    assert secret not in problems[0]
