"""One spelling per account (issue 13, rule 8): the normalised name that logins
look up, kept by the model, the CLI and the migration that adds it."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from plugin_host.migrations_runner import HOST_MIGRATIONS, HOST_VERSION_TABLE, alembic_config
from plugin_host.usernames import username_key

SPELLINGS = [" bob", "bob ", "\u00a0bob", "BOB", "\uff42\uff4f\uff42"]  # the last: fullwidth "ｂｏｂ"


@pytest.mark.parametrize("spelling", SPELLINGS + ["bob", "\u3000Bob\t", "bo\u0042"])
def test_every_spelling_has_one_key(spelling):
    assert username_key(spelling) == "bob"


def test_names_that_only_look_alike_keep_their_own_keys():
    assert username_key("b\u200bob") != "bob"  # a zero-width space is not white space
    assert username_key("Stra\u00dfe") == username_key("STRASSE")  # case folding, not lower()


def test_the_cli_finds_the_account_whatever_the_spelling(people):
    runner = people.test_cli_runner()
    result = runner.invoke(args=["users", "create", "\u00a0Bob ", "--password", "new-bob-pw"])
    assert result.exit_code == 0 and "Updated user" in result.output
    blank = runner.invoke(args=["users", "create", " \u3000", "--password", "pw"])
    assert blank.exit_code != 0 and "NAME" in blank.output


def _users_at_host_0001(tmp_path, names):
    url = f"sqlite:///{tmp_path}/old.db"
    config = alembic_config(HOST_MIGRATIONS, url, HOST_VERSION_TABLE)
    command.upgrade(config, "host_0001")
    engine = create_engine(url)
    with engine.begin() as connection:
        for name in names:
            connection.execute(text("INSERT INTO host_user (username, password_hash, is_admin, email, display_name) "
                                    "VALUES (:name, 'x', 0, '', '')"), {"name": name})
    return config, engine


def test_the_migration_gives_existing_accounts_their_key(tmp_path):
    config, engine = _users_at_host_0001(tmp_path, ["Admin", "\uff41lice"])
    command.upgrade(config, "head")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT username, username_key FROM host_user ORDER BY id")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("Admin", "admin"), ("\uff41lice", "alice")]


def test_the_migration_names_accounts_that_would_share_a_key(tmp_path):
    config, engine = _users_at_host_0001(tmp_path, ["bob", " Bob"])
    engine.dispose()
    with pytest.raises(RuntimeError, match="'bob' and ' Bob'"):
        command.upgrade(config, "head")
