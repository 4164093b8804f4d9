"""``connect-host``: a Flask CLI group over the reference host.

``db upgrade``, ``users create``, ``items refresh`` and ``config export|import`` are the
host's (the last two call the plugin's ``for_hosts`` functions of the same names); ``secrets rotate`` and ``cache
clear`` come from the plugin's own ``init_app``.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(users_group)
    app.cli.add_command(items_group)
    app.cli.add_command(config_group)


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


@click.group("items", help="Connected items and the values stored on issues.")
def items_group():
    pass


@items_group.command("refresh", help="Re-read the label (and details) of every stored connected value from its "
                                     "datasource and update the snapshots that changed. A value no longer "
                                     "offered is kept and counted.")
@click.option("--item", "item_id", type=int, default=None, help="Only this connected item's values.")
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@with_appcontext
def items_refresh(item_id, dry_run):
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from connect_plugin.errors import ConnectError
    from connect_plugin.for_hosts import refresh_stored_values

    # Progress goes to stderr, so stdout holds only the summary line for scripts.
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed} issues"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        tasks: dict[int, int] = {}  # item id -> task id
        done: dict[int, int] = {}  # task id -> issues done

        def progress(item, issues: int) -> None:
            if item.id not in tasks:
                tasks[item.id] = bar.add_task(item.name, total=None)
            task = tasks[item.id]
            done[task] = done.get(task, 0) + issues
            bar.advance(task, issues)

        try:
            summary = refresh_stored_values(item_id, actor="cli", dry_run=dry_run, progress=progress)
        except ConnectError as exc:
            raise click.ClickException(exc.message) from None
        for task, issues in done.items():
            bar.update(task, total=issues)  # an item's bar ends full
    if dry_run:
        click.echo("Dry run: nothing was written.")
    click.echo(summary.line())


@click.group("config", help="The configuration as data: every datasource and connected item, without secrets.")
def config_group():
    pass


@config_group.command("export", help="Write the configuration to FILE (stdout without it): YAML when FILE ends "
                                      "in .yaml or .yml, else JSON. Never holds a secret.")
@click.argument("file", required=False, type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default=None,
              help="Override the format the file name implies.")
@with_appcontext
def config_export(file, fmt):
    from connect_plugin.configuration.files import dump, format_for
    from connect_plugin.for_hosts import export_config

    target = None if file in (None, "-") else file
    text = dump(export_config(), fmt or format_for(target))
    if target is None:
        click.echo(text, nl=False)
        return
    with open(target, "w", encoding="utf-8") as out:
        out.write(text)
    click.echo(f"Wrote the configuration to {target}.", err=True)


@config_group.command("import", help="Create or update, by name, the datasources and connected items of FILE (JSON "
                                     "or YAML, - for stdin) in one transaction, and print the plan.")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@with_appcontext
def config_import(file, dry_run):
    from connect_plugin.configuration.files import load, read_format
    from connect_plugin.errors import ConnectError, ValidationError
    from connect_plugin.for_hosts import import_config

    try:
        plan = import_config(load(file.read(), read_format(getattr(file, "name", None))), actor="cli",
                             dry_run=dry_run)
    except ValidationError as exc:
        details = "".join(f"\n  {field}: {message}" for field, message in exc.fields.items())
        raise click.ClickException(f"{exc.message} Nothing was written.{details}") from None
    except ConnectError as exc:
        raise click.ClickException(exc.message) from None
    if dry_run:
        click.echo("Dry run: nothing was written.")
    for line in plan.lines():
        click.echo(line)


def _create_app(*_args, **_kwargs):
    from .factory import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app, add_default_commands=True, add_version_option=False,
                 help="The Connect reference host.")


def main() -> None:
    cli(prog_name="connect-host")
