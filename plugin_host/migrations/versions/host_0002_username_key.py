"""host_user.username_key: the normalised name that logins look up

Revision ID: host_0002
Revises: host_0001
Create Date: 2026-12-03 06:50:00

Existing accounts get the key of their name. Two accounts whose names differ only
in case, white space or compatibility form cannot both keep one key: the upgrade
stops and names them, so an operator decides which account stays.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from plugin_host.usernames import username_key

# revision identifiers, used by Alembic.
revision: str = 'host_0002'
down_revision: Union[str, Sequence[str], None] = 'host_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

users = sa.table('host_user', sa.column('id', sa.Integer), sa.column('username', sa.String),
                 sa.column('username_key', sa.String))


def upgrade() -> None:
    with op.batch_alter_table('host_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_key', sa.String(length=255), nullable=True))
    connection = op.get_bind()
    owners: dict[str, str] = {}
    for user_id, name in connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all():
        key = username_key(name)
        if key in owners:
            raise RuntimeError(f"The users {owners[key]!r} and {name!r} are one name once normalised "
                               f"({key!r}): rename or delete one of them, then upgrade again.")
        owners[key] = name
        connection.execute(users.update().where(users.c.id == user_id).values(username_key=key))
    with op.batch_alter_table('host_user', schema=None) as batch_op:
        batch_op.alter_column('username_key', existing_type=sa.String(length=255), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_host_user_username_key'), ['username_key'])


def downgrade() -> None:
    with op.batch_alter_table('host_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_host_user_username_key'), type_='unique')
        batch_op.drop_column('username_key')
