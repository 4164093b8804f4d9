"""The plugin's CLI commands, added to the host's ``flask``/``connect-host`` group."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from .datasources import service as datasource_service
from .datasources.secrets import rotate_secrets
from .state import session, state


def register_commands(app: Flask) -> None:
    app.cli.add_command(secrets_group)
    app.cli.add_command(cache_group)


@click.group("secrets", help="Stored datasource secrets.")
def secrets_group():
    pass


@secrets_group.command("rotate", help="Re-encrypt every stored secret with the first key of CONNECT_SECRET_KEYS.")
@with_appcontext
def secrets_rotate():
    db = session()
    done, failed = rotate_secrets(db, state().box)
    db.commit()
    click.echo(f"Re-encrypted {done} secret(s) with the first key.")
    if failed:
        click.echo("No configured key opens: " + ", ".join(failed) + ". Re-enter these secrets.", err=True)
        raise SystemExit(1)


@click.group("cache", help="The cache of datasource answers.")
def cache_group():
    pass


@cache_group.command("clear", help="Forget cached answers, for every worker and node.")
@click.option("--datasource", "datasource_id", type=int, default=None, help="Only this datasource's answers.")
@with_appcontext
def cache_clear(datasource_id):
    db = session()
    target = datasource_service.get(db, datasource_id) if datasource_id is not None else None
    count = datasource_service.clear_cache(db, target, actor="cli")
    db.commit()
    state().cache.clear_local()
    click.echo(f"Cleared the cached answers of {count} datasource(s).")
