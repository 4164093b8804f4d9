"""``connect-host``: a Flask CLI group over the reference host.

``db upgrade`` and ``users create`` are the host's; ``secrets rotate`` and ``cache
clear`` come from the plugin's own ``init_app``.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(users_group)


@click.group("db", help="Database commands.")
def db_group():
    pass


@db_group.command("upgrade", help="Apply the migrations of the host and its plugins.")
@with_appcontext
def db_upgrade():
    from .migrations_runner import upgrade_all

    done = upgrade_all(current_app)
    click.echo(f"Database is up to date ({', '.join(done)}).")


@click.group("users", help="User accounts.")
def users_group():
    pass


@users_group.command("create", help="Create a user (or reset the password of an existing one).")
@click.argument("name")
@click.option("--password", required=True, help="The user's password.")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--email", default="", help="E-mail address ($currentUser.emailAddress).")
@click.option("--display-name", default="", help="Display name ($currentUser.displayName).")
@with_appcontext
def users_create(name, password, admin, email, display_name):
    from .auth import find_user
    from .db import session
    from .models import User
    from .usernames import username_key

    name = name.strip()
    if not username_key(name) or len(name) > 150 or len(username_key(name)) > 255:
        raise click.BadParameter("a user name is 1 to 150 characters, not only white space.", param_hint="NAME")
    db = session()
    user = find_user(name)  # the same account whatever its case or white space
    created = user is None
    if created:
        user = User(username=name)
        db.add(user)
    user.set_password(password)
    user.is_admin = admin or (user.is_admin and not created)
    user.email = email or user.email or ""
    user.display_name = display_name or user.display_name or name
    db.commit()
    click.echo(f"{'Created' if created else 'Updated'} user {name}{' (admin)' if user.is_admin else ''}.")


def _create_app(*_args, **_kwargs):
    from .factory import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app, add_default_commands=True, add_version_option=False,
                 help="The Connect reference host.")


def main() -> None:
    cli(prog_name="connect-host")
